"""Devices and their keys: enrolling laptops, revoking them, and starting a laptop database.

The central registry holds the project key (AES-256-GCM, encrypts every pack) and one Ed25519
signing key per database. `enroll_device` makes a laptop's enrolment file: its own new signing
key, the project key, the public keys of the devices known so far, the survey definition and
the project settings. `init_laptop` turns that file into the laptop's database. The enrolment
file is a secret: whoever holds it can make packs the central registry accepts, so it goes from
the central office to the laptop by hand and is deleted after `anju init --enroll`.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from anju.registry.core import signing
from anju.registry.core.changes import new_id, now
from anju.registry.core.store import SCHEMA_VERSION, Registry, StoreError, transaction
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENROLMENT_FORMAT = 1
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _raw_private(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)


def _secret(reg: Registry, name: str) -> bytes | None:
    row = reg.conn.execute("SELECT value FROM keyring WHERE name = ?", (name,)).fetchone()
    return bytes(row[0]) if row else None


def ensure_keys(reg: Registry) -> None:
    """Give a database its signing key (and, on the central registry, the project key)."""
    if _secret(reg, "signing_key") and (reg.meta("role") != "central"
                                        or _secret(reg, "project_key")):
        return
    own = reg.conn.in_transaction
    if not own:
        reg.conn.execute("BEGIN IMMEDIATE")
    try:
        signing.own_key(reg.conn, reg.device_id, reg.meta("role") or "laptop")
        if reg.meta("role") == "central" and not _secret(reg, "project_key"):
            reg.conn.execute("INSERT INTO keyring (name, value) VALUES ('project_key', ?)",
                             (AESGCM.generate_key(bit_length=256),))
    except BaseException:
        if not own:
            reg.conn.execute("ROLLBACK")
        raise
    if not own:
        reg.conn.execute("COMMIT")


def signing_key(reg: Registry) -> Ed25519PrivateKey:
    """This database's own Ed25519 key, made on first use."""
    ensure_keys(reg)
    return Ed25519PrivateKey.from_private_bytes(_secret(reg, "signing_key"))


def project_key(reg: Registry) -> bytes:
    """The project's AES-256 key; a laptop has it from its enrolment file."""
    ensure_keys(reg)
    key = _secret(reg, "project_key")
    if key is None:
        raise StoreError(f"{reg.path}: has no project key (not enrolled)")
    return key


def public_key(reg: Registry, device_id: str) -> tuple[Ed25519PublicKey, dict] | None:
    """A known device's public key and row (name, revoked_at, role), or None if unknown."""
    row = reg.conn.execute("SELECT name, public_key, revoked_at, role, capabilities FROM device "
                           "WHERE device_id = ?", (device_id,)).fetchone()
    if row is None or not row[1]:
        return None
    info = {"device_id": device_id, "name": row[0], "revoked_at": row[2], "role": row[3],
            "capabilities": row[4]}
    return Ed25519PublicKey.from_public_bytes(unb64(row[1])), info


def devices(reg: Registry) -> list[dict]:
    """Every device this database knows, with its public key (the directory packs carry)."""
    ensure_keys(reg)
    rows = reg.conn.execute("SELECT device_id, name, enrolled_at, revoked_at, public_key, role, "
                            "capabilities FROM device WHERE public_key IS NOT NULL "
                            "ORDER BY enrolled_at, name")
    return [dict(zip(("device_id", "name", "enrolled_at", "revoked_at", "public_key", "role",
                      "capabilities"), r)) for r in rows]


def learn_devices(reg: Registry, directory: list[dict]) -> None:
    """Add devices, revocations and capabilities from the central registry's directory (in a
    transaction). The central office grants capabilities, so its word replaces the local one."""
    from anju.registry.sync.authority import capability_text
    for d in directory:
        reg.conn.execute(
            "INSERT INTO device (device_id, name, enrolled_at, revoked_at, public_key, role, "
            "capabilities) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(device_id) DO UPDATE SET "
            "revoked_at = COALESCE(device.revoked_at, excluded.revoked_at), "
            "public_key = COALESCE(device.public_key, excluded.public_key), "
            "capabilities = excluded.capabilities",
            (d["device_id"], d["name"], d["enrolled_at"], d.get("revoked_at"),
             d["public_key"], d.get("role") or "laptop", capability_text(d.get("capabilities"))))


def enroll_device(reg: Registry, name: str, out: str | Path, *,
                  device_id: str | None = None,
                  capabilities: list[str] | tuple[str, ...] | None = None) -> Path:
    """Register laptop NAME on the central registry and write its enrolment file to `out`.

    `capabilities` is what the laptop may write (registry/sync/authority.py); by default a
    field laptop's: households, members, visits, attachments, status moves up to 已登记.
    """
    from anju.registry.sync.authority import capability_text, parse_capabilities
    caps = capability_text(parse_capabilities(capabilities) if capabilities is not None
                           else None)
    if reg.meta("role") != "central":
        raise StoreError("only the central registry enrols devices")
    name = (name or "").strip()
    if not name or len(name) > 40 or set(name) - NAME_CHARS:
        raise StoreError("a device name is 1-40 letters, digits, '-', '_' or '.'")
    out = Path(out)
    if out.exists():
        raise StoreError(f"{out}: already exists; not overwriting it")
    if not out.parent.is_dir():
        raise StoreError(f"{out.parent}: no such directory")
    ensure_keys(reg)
    key = Ed25519PrivateKey.generate()
    device_id = device_id or new_id()
    with transaction(reg.conn):
        if reg.conn.execute("SELECT 1 FROM device WHERE name = ?", (name,)).fetchone():
            raise StoreError(f"device {name} is already enrolled")
        reg.conn.execute("INSERT INTO device (device_id, name, enrolled_at, public_key, role, "
                         "capabilities) VALUES (?, ?, ?, ?, 'laptop', ?)",
                         (device_id, name, now(), b64(_raw_public(key)), caps))
        payload = {
            "anju_enrolment": ENROLMENT_FORMAT, "schema_version": SCHEMA_VERSION,
            "project_id": reg.project_id, "project_name": reg.meta("project_name"),
            "device_id": device_id, "device_name": name, "made_at": now(),
            "signing_key": b64(_raw_private(key)), "project_key": b64(project_key(reg)),
            "central_device_id": reg.device_id, "devices": devices(reg),
            "survey": reg.meta("survey"), "settings": reg.settings,
        }
        # Written inside the transaction: if the file cannot be written, nothing is enrolled.
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, ensure_ascii=False, indent=1)
    return out


def revoke_device(reg: Registry, name: str) -> str:
    """Mark device NAME revoked: its packs are refused from now on. Returns the time."""
    with transaction(reg.conn):
        row = reg.conn.execute("SELECT device_id, revoked_at FROM device WHERE name = ?",
                               (name,)).fetchone()
        if row is None:
            raise StoreError(f"no device named {name}")
        if row[0] == reg.device_id:
            raise StoreError(f"{name} is this database itself; it cannot be revoked here")
        if row[1]:
            return row[1]
        stamp = now()
        reg.conn.execute("UPDATE device SET revoked_at = ? WHERE device_id = ?", (stamp, row[0]))
    return stamp


def read_enrolment(path: str | Path) -> dict:
    """Load and check an enrolment file; StoreError with one line if it is not one."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoreError(f"{path}: no such enrolment file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise StoreError(f"{path}: not an anju enrolment file") from None
    need = ("project_id", "device_id", "device_name", "signing_key", "project_key", "survey",
            "central_device_id", "devices")
    if not isinstance(data, dict) or data.get("anju_enrolment") != ENROLMENT_FORMAT or any(
            k not in data for k in need):
        raise StoreError(f"{path}: not an anju enrolment file")
    if data.get("schema_version", 0) > SCHEMA_VERSION:
        raise StoreError(f"{path}: made by a newer anju (schema {data['schema_version']} > "
                         f"{SCHEMA_VERSION}); upgrade anju")
    return data


def init_laptop(db: str | Path, enroll_file: str | Path) -> Path:
    """Create a laptop database from its enrolment file; return its path."""
    data = read_enrolment(enroll_file)
    try:
        key = Ed25519PrivateKey.from_private_bytes(unb64(data["signing_key"]))
        project = unb64(data["project_key"])
    except ValueError:
        raise StoreError(f"{enroll_file}: damaged keys in the enrolment file") from None
    reg = Registry.create(db, project=data.get("project_name") or "", role="laptop",
                          device_name=data["device_name"], project_id=data["project_id"],
                          device_id=data["device_id"], survey_text=data["survey"])
    try:
        with transaction(reg.conn):
            learn_devices(reg, data["devices"])
            reg.conn.execute("UPDATE device SET public_key = ?, role = 'laptop' "
                             "WHERE device_id = ?", (b64(_raw_public(key)), data["device_id"]))
            reg.conn.execute("UPDATE device SET role = 'central' WHERE device_id = ?",
                             (data["central_device_id"],))
            reg.conn.executemany("INSERT INTO keyring (name, value) VALUES (?, ?)",
                                 [("signing_key", _raw_private(key)),
                                  ("project_key", project)])
            reg.set_meta("central_device_id", data["central_device_id"])
            reg.set_meta("settings", json.dumps(data.get("settings") or {},
                                                ensure_ascii=False))
    except BaseException:
        reg.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        raise
    reg.close()
    return Path(db)
