"""Devices and their keys: enrolling laptops, revoking them, and starting a laptop database.

Every database holds its own Ed25519 signing key and its own X25519 encryption key
(registry/sync/sealing.py): packs are sealed to their recipients' public keys, never to a shared
project key. `enroll_device` makes a laptop's enrolment file: its own new signing and encryption
keys, its scope, the public keys of the devices known so far, the survey definition and the
project settings. `init_laptop` turns that file into the laptop's database. The enrolment
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
from anju.registry.sync import sealing
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

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
    """Give a database its signing key and its encryption key pair (a database enrolled before
    packs were sealed per recipient makes its encryption key here, on first use after the
    upgrade, and announces the public half in the header of its next pack)."""
    if (_secret(reg, "signing_key") and _secret(reg, "box_key")
            and reg.conn.execute("SELECT 1 FROM device WHERE device_id = ? AND box_key IS NOT "
                                 "NULL", (reg.device_id,)).fetchone()):
        return
    own = reg.conn.in_transaction
    if not own:
        reg.conn.execute("BEGIN IMMEDIATE")
    try:
        signing.own_key(reg.conn, reg.device_id, reg.meta("role") or "laptop")
        box = _secret(reg, "box_key")
        if box is None:
            box = sealing.new_private()
            reg.conn.execute("INSERT INTO keyring (name, value) VALUES ('box_key', ?)", (box,))
        reg.conn.execute("UPDATE device SET box_key = ? WHERE device_id = ?",
                         (sealing.public_of(box), reg.device_id))
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


def box_private(reg: Registry) -> bytes:
    """This database's own X25519 private key (raw), made on first use."""
    ensure_keys(reg)
    return _secret(reg, "box_key")


def box_public(reg: Registry) -> str:
    """This database's own X25519 public key (base64)."""
    return sealing.public_of(box_private(reg))


def learn_box_key(reg: Registry, device_id: str, text) -> bool:
    """Register device `device_id`'s encryption key when none is known yet (a device enrolled
    before packs were sealed per recipient announces it in a pack header its signature covers);
    a key once known is never replaced. Returns whether it was registered."""
    if sealing.parse_public(text) is None:
        return False
    cur = reg.conn.execute("UPDATE device SET box_key = ? WHERE device_id = ? AND box_key IS "
                           "NULL AND revoked_at IS NULL", (text, device_id))
    return cur.rowcount > 0


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
                            "capabilities, box_key, scope, scope_version FROM device "
                            "WHERE public_key IS NOT NULL ORDER BY enrolled_at, name")
    return [dict(zip(("device_id", "name", "enrolled_at", "revoked_at", "public_key", "role",
                      "capabilities", "box_key", "scope", "scope_version"), r)) for r in rows]


def learn_devices(reg: Registry, directory: list[dict]) -> None:
    """Add devices, revocations and capabilities from the central registry's directory (in a
    transaction). The central office grants capabilities, so its word replaces the local one.
    Keys once known are never replaced; a scope is taken only with a higher scope version (a
    replayed older directory does not bring an old scope back)."""
    from anju.registry.sync.authority import capability_text
    from anju.registry.sync.scope import scope_text
    for d in directory:
        version = d.get("scope_version") or 0
        if not isinstance(version, int) or isinstance(version, bool):
            raise TypeError("scope_version")
        box = d.get("box_key") if sealing.parse_public(d.get("box_key")) else None
        reg.conn.execute(
            "INSERT INTO device (device_id, name, enrolled_at, revoked_at, public_key, role, "
            "capabilities, box_key, scope, scope_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(device_id) DO UPDATE SET "
            "revoked_at = COALESCE(device.revoked_at, excluded.revoked_at), "
            "public_key = COALESCE(device.public_key, excluded.public_key), "
            "box_key = COALESCE(device.box_key, excluded.box_key), "
            "scope = CASE WHEN excluded.scope_version > device.scope_version "
            "THEN excluded.scope ELSE device.scope END, "
            "scope_version = MAX(device.scope_version, excluded.scope_version), "
            "capabilities = excluded.capabilities",
            (d["device_id"], d["name"], d["enrolled_at"], d.get("revoked_at"),
             d["public_key"], d.get("role") or "laptop", capability_text(d.get("capabilities")),
             box, scope_text(d.get("scope")), version))


def enroll_device(reg: Registry, name: str, out: str | Path, *,
                  device_id: str | None = None,
                  capabilities: list[str] | tuple[str, ...] | None = None,
                  scope: dict | None = None) -> Path:
    """Register laptop NAME on the central registry and write its enrolment file to `out`.

    `capabilities` is what the laptop may write (registry/sync/authority.py); by default a
    field laptop's: households, members, visits, attachments, status moves up to 已登记.
    `scope` is what it may receive (registry/sync/scope.py); None: the whole project.
    """
    from anju.registry.sync.authority import capability_text, parse_capabilities
    from anju.registry.sync.scope import check_scope, scope_text
    scope = check_scope(reg, scope)
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
    box = sealing.new_private()
    device_id = device_id or new_id()
    with transaction(reg.conn):
        if reg.conn.execute("SELECT 1 FROM device WHERE name = ?", (name,)).fetchone():
            raise StoreError(f"device {name} is already enrolled")
        reg.conn.execute("INSERT INTO device (device_id, name, enrolled_at, public_key, role, "
                         "capabilities, box_key, scope, scope_version) "
                         "VALUES (?, ?, ?, ?, 'laptop', ?, ?, ?, ?)",
                         (device_id, name, now(), b64(_raw_public(key)), caps,
                          sealing.public_of(box), scope_text(scope), 1 if scope else 0))
        payload = {
            "anju_enrolment": ENROLMENT_FORMAT, "schema_version": SCHEMA_VERSION,
            "project_id": reg.project_id, "project_name": reg.meta("project_name"),
            "device_id": device_id, "device_name": name, "made_at": now(),
            "signing_key": b64(_raw_private(key)), "box_key": b64(box),
            "central_device_id": reg.device_id, "devices": devices(reg),
            "survey": reg.meta("survey"), "settings": reg.settings,
        }
        # Written inside the transaction: if the file cannot be written, nothing is enrolled.
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, ensure_ascii=False, indent=1)
    return out


def revoke_device(reg: Registry, name: str) -> str:
    """Mark device NAME revoked: its packs are refused from now on, and no later pack is sealed
    to it. Returns the time."""
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
    need = ("project_id", "device_id", "device_name", "signing_key", "survey",
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
        # An older enrolment file has no encryption key: the laptop makes its own on first use.
        box = unb64(data["box_key"]) if data.get("box_key") else sealing.new_private()
        sealing.public_of(box)
    except (ValueError, TypeError):
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
                                 [("signing_key", _raw_private(key)), ("box_key", box)])
            reg.conn.execute("UPDATE device SET box_key = ? WHERE device_id = ?",
                             (sealing.public_of(box), data["device_id"]))
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
