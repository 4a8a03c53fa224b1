"""Sealing a pack's content key to its recipients: X25519 key pairs and an HPKE-style wrap.

Every database has its own X25519 key pair (keyring `box_key`; its public half in its device
row, carried in the device directory). A pack is encrypted with a fresh random AES-256 content
key; for each recipient the key is wrapped the way HPKE's base mode does it: a fresh ephemeral
X25519 key, the shared secret through HKDF-SHA256 (bound to the ephemeral and recipient public
keys and the pack's own header fields) into a key-encryption key, and AES-256-GCM over the
content key. Only a holder of a recipient's private key can unwrap; the project key plays no
part. All primitives come from `cryptography`.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

INFO = b"anju pack v2 key wrap"
ZERO_NONCE = bytes(12)  # each key-encryption key is used exactly once


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def new_private() -> bytes:
    """A new X25519 private key, raw (32 bytes)."""
    return X25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption())


def public_of(private: bytes) -> str:
    """The base64 public key of a raw X25519 private key."""
    return b64(X25519PrivateKey.from_private_bytes(private).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def parse_public(text) -> X25519PublicKey | None:
    """A base64 X25519 public key, or None if it is not one."""
    if not isinstance(text, str):
        return None
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
        return X25519PublicKey.from_public_bytes(raw) if len(raw) == 32 else None
    except (ValueError, UnicodeEncodeError):
        return None


def _kek(shared: bytes, epk: bytes, rpk: bytes, context: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=INFO + hashlib.sha256(epk + rpk + context).digest()).derive(shared)


def _raw(pub: X25519PublicKey) -> bytes:
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def wrap(content_key: bytes, recipient_id: str, recipient: X25519PublicKey,
         context: bytes) -> dict:
    """One recipient entry of a pack header: its device id, the ephemeral key, the wrapped key.

    `context` binds the wrap to the pack (project, sender, nonce): an entry copied into another
    pack does not unwrap there."""
    eph = X25519PrivateKey.generate()
    epk = _raw(eph.public_key())
    rpk = _raw(recipient)
    kek = _kek(eph.exchange(recipient), epk, rpk, context)
    sealed = AESGCM(kek).encrypt(ZERO_NONCE, content_key, recipient_id.encode() + context)
    return {"device_id": recipient_id, "epk": b64(epk), "key": b64(sealed)}


def unwrap(entry: dict, private: bytes, context: bytes) -> bytes | None:
    """The content key from this recipient's entry, or None if it does not open with `private`."""
    try:
        epk = base64.b64decode(str(entry["epk"]).encode("ascii"), validate=True)
        sealed = base64.b64decode(str(entry["key"]).encode("ascii"), validate=True)
        me = X25519PrivateKey.from_private_bytes(private)
        shared = me.exchange(X25519PublicKey.from_public_bytes(epk))
        kek = _kek(shared, epk, _raw(me.public_key()), context)
        key = AESGCM(kek).decrypt(ZERO_NONCE, sealed, str(entry["device_id"]).encode() + context)
    except (KeyError, TypeError, ValueError, UnicodeEncodeError, InvalidTag):
        return None
    return key if len(key) == 32 else None


def new_content_key() -> bytes:
    return os.urandom(32)
