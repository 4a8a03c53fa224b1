"""Signing changes where they are made: the canonical encoding, the chain link and the signature.

Every change is signed by the device that makes it, over a canonical encoding of its content
(project, ids, seq, record, fields, base, time, author, note, hybrid logical clock `hlc`: it
decides conflicts, so a relay must not be able to rewrite it) and `prev`, the link to the same
origin's previous change. An origin is a device or, after a restore, a new generation of it
(registry/core/origin.py): every generation has its own seq numbering and its own chain, and
signs with its device's one key. The link is the hash of that change's content digest and
signature, so one verified signature authenticates the whole unbroken run of an origin's
changes below it (registry/sync/authority.py verifies; this module only makes). Core code
signs through `sign_change`; it needs only this database's own key, kept in the `keyring` table.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import sqlite3

from anju.registry.core.changes import Change
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

DOMAIN = "anju-change-v2"  # v2: the message covers hlc
# changes.dumps with its encoder made once (a merge encodes every change it verifies).
_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
_escape = json.encoder.encode_basestring  # what that encoder does to a str
_DOMAIN = _escape(DOMAIN)
_KEYS: dict[bytes, Ed25519PrivateKey] = {}


def message(project_id, change_id, device_id, seq, record_type, record_id, fields, base, at,
            by, note, hlc, prev) -> bytes:
    """The bytes a change's signature covers. `fields` and `base` may be given as their JSON
    text (as a pack carries them) or as values; canonical text and values encode the same."""
    # Exactly dumps([DOMAIN, project_id, ..., fields, base, at, by, note, hlc, prev]), built from
    # its parts: strings through the JSON encoder's own escaping (a merge encodes every change).
    j = _scalar
    return ("[" + ",".join((_DOMAIN, j(project_id), j(change_id), j(device_id), j(seq),
                             j(record_type), j(record_id),
                             fields if isinstance(fields, str) else _encode(fields),
                             base if isinstance(base, str) else _encode(base),
                             j(at), j(by), j(note), j(hlc), j(prev))) + "]").encode()


def prefix(project_id: str) -> str:
    """The start of every message of one project (for `row_message`)."""
    return f"[{_DOMAIN},{_scalar(project_id)},"


def row_message(start: str, row, hlc: str, prev) -> bytes:
    """`message` of a pack's change row, faster: `start` is `prefix(project_id)`, the row's
    types are already checked (ids, record, time and author text, seq an int, note text or
    None), as merge.parse_change checks them, and `hlc` is the clock the change is stored with
    (Change.clock)."""
    esc = _escape
    cid, dev, seq, rtype, rid, fields, base, at, by, note = row[:10]
    return (f"{start}{esc(cid)},{esc(dev)},{seq},{esc(rtype)},{esc(rid)},"
            f"{fields if fields.__class__ is str else _encode(fields)},"
            f"{base if base.__class__ is str else _encode(base)},{esc(at)},{esc(by)},"
            f"{'null' if note is None else esc(note)},{esc(hlc)},"
            f"{'null' if prev is None else esc(prev)}]").encode()


def _scalar(value) -> str:
    if value.__class__ is str:
        return _escape(value)
    if value is None:
        return "null"
    return _encode(value)


def digest(project_id: str, c: Change) -> bytes:
    """SHA-256 of a change's signed message."""
    return hashlib.sha256(message(project_id, c.change_id, c.device_id, c.seq, c.record_type,
                                  c.record_id, c.fields, c.base, c.at, c.by, c.note,
                                  c.clock, c.prev)).digest()


def link(content_digest: bytes, sig: str | None) -> str:
    """What the next change of the same device names as its `prev`."""
    return hashlib.sha256(content_digest + (sig or "").encode()).hexdigest()


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)


def own_key(conn: sqlite3.Connection, device_id: str, role: str) -> Ed25519PrivateKey:
    """This database's Ed25519 signing key, made (and its public half recorded) on first use."""
    row = conn.execute("SELECT value FROM keyring WHERE name = 'signing_key'").fetchone()
    if row is None:
        key = Ed25519PrivateKey.generate()
        raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
        conn.execute("INSERT INTO keyring (name, value) VALUES ('signing_key', ?)", (raw,))
        conn.execute("UPDATE device SET public_key = ?, role = ? WHERE device_id = ?",
                     (base64.b64encode(raw_public(key)).decode(), role, device_id))
        _KEYS[raw] = key
        return key
    raw = bytes(row[0])
    if raw not in _KEYS:
        _KEYS[raw] = Ed25519PrivateKey.from_private_bytes(raw)
    return _KEYS[raw]


def previous_link(conn: sqlite3.Connection, project_id: str, device_id: str,
                  seq: int) -> str | None:
    """The link to the stored change (origin `device_id`, seq - 1), or None for an origin's
    first (a restored database's new generation starts its own chain)."""
    row = conn.execute("SELECT change_id, device_id, seq, record_type, record_id, fields, base, "
                       "at, by, note, coalesce(hlc, at), prev, sig FROM change "
                       "WHERE device_id = ? AND seq = ?", (device_id, seq - 1)).fetchone()
    if row is None:
        return None
    return link(hashlib.sha256(message(project_id, *row[:12])).digest(), row[12])


def sign_with(key: Ed25519PrivateKey, project_id: str, change: Change, prev: str | None) -> Change:
    """`change` with its `prev` link set and signed by `key`."""
    c = dataclasses.replace(change, prev=prev, sig=None)
    sig = base64.b64encode(key.sign(digest(project_id, c))).decode()
    return dataclasses.replace(c, sig=sig)


def sign_change(reg, change: Change) -> Change:
    """Sign a change this database makes (its origin id and next seq) for `reg`, with its
    device's key: a new generation after a restore signs with the same key."""
    key = own_key(reg.conn, reg.device_id, reg.meta("role") or "laptop")
    prev = previous_link(reg.conn, reg.project_id, change.device_id, change.seq)
    return sign_with(key, reg.project_id, change, prev)


def sign_run(key: Ed25519PrivateKey, project_id: str, changes: list[Change],
             prev: str | None = None) -> list[Change]:
    """Sign one device's consecutive changes (in seq order), each linked to the one before."""
    out = []
    for c in changes:
        s = sign_with(key, project_id, c, prev)
        prev = link(digest(project_id, s), s.sig)
        out.append(s)
    return out
