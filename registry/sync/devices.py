"""The central's view of its devices: each with its role, capabilities, scope, change counts,
last pack and last-seen time (the devices page shows it; enrolment and revocation live in
registry/sync/enrollment.py)."""

from __future__ import annotations

from anju.registry.core.store import Registry
from anju.registry.sync import scope as scopes
from anju.registry.sync.authority import CAPABILITIES, capabilities_of


def overview(reg: Registry) -> list[dict]:
    """Every device with its change counts, last pack and last-seen time."""
    cols = {r[1] for r in reg.conn.execute("PRAGMA table_info(device)")}
    role = "d.role" if "role" in cols else "NULL"
    caps = "d.capabilities" if "capabilities" in cols else "NULL"
    scope = "d.scope" if "scope" in cols else "NULL"
    devices = [dict(zip(("device_id", "name", "enrolled_at", "revoked_at", "role",
                         "capabilities", "scope"), r))
               for r in reg.conn.execute(f"SELECT d.device_id, d.name, d.enrolled_at, "
                                         f"d.revoked_at, {role}, {caps}, {scope} FROM device d "
                                         "ORDER BY d.enrolled_at, d.name")]
    for d in devices:
        d["scope"] = scopes.normalise(d["scope"])
        d["scope_en"] = scopes.describe(d["scope"])
    # A device restored from backup writes as `<device id>~<generation>` (registry/core/origin.py):
    # its changes count for the device.
    for d in devices:
        d["may"] = [c for c in CAPABILITIES if c in capabilities_of(d)]
    stats = {r[0]: r[1:] for r in reg.conn.execute(
        "SELECT substr(device_id, 1, instr(device_id || '~', '~') - 1) AS device, count(*), "
        "sum(record_type = 'household'), max(at), max(received_at) FROM change GROUP BY device")}
    has_packs = reg.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'pack_received'"
                                 ).fetchone()
    for d in devices:
        changes, households, last_change, received = stats.get(d["device_id"],
                                                               (0, 0, None, None))
        d.update(changes=changes, household_changes=households or 0, last_change=last_change,
                 last_received=received, packs=0, last_pack=None)
        if has_packs:
            row = reg.conn.execute(
                "SELECT file_name, made_at, changes, new, conflicts, last_seen_at, "
                "(SELECT count(*) FROM pack_received WHERE device_id = ?) FROM pack_received "
                "WHERE device_id = ? ORDER BY last_seen_at DESC LIMIT 1",
                (d["device_id"], d["device_id"])).fetchone()
            if row:
                d["last_pack"] = dict(zip(("file_name", "made_at", "changes", "new",
                                           "conflicts", "last_seen_at"), row[:6]))
                d["packs"] = row[6]
        d["self"] = d["device_id"] == reg.device_id
        # Last seen: the latest of its last pack and its newest change we hold.
        d["last_seen"] = max(filter(None, [d["last_pack"] and d["last_pack"]["last_seen_at"],
                                           d["last_change"]]), default=None)
    return devices


def scoped_laptops(reg: Registry) -> list[tuple[str, dict]]:
    """The laptops, enrolled and not revoked, that have a scope (each needs a central pack of
    its own): [(name, scope)] by name."""
    return [(name, scopes.normalise(text)) for name, text in reg.conn.execute(
        "SELECT name, scope FROM device WHERE scope IS NOT NULL AND revoked_at IS NULL "
        "AND role != 'central' ORDER BY name")]


def received_packs(reg: Registry, limit: int = 20) -> list[dict]:
    """The packs this registry received last (newest first), with the sending device's name."""
    return [dict(zip(("file_name", "device", "made_at", "changes", "new", "known",
                      "conflicts", "last_seen_at", "times"), r))
            for r in reg.conn.execute(
                "SELECT p.file_name, COALESCE(d.name, p.device_id), p.made_at, p.changes, "
                "p.new, p.known, p.conflicts, p.last_seen_at, p.times FROM pack_received p "
                "LEFT JOIN device d USING (device_id) ORDER BY p.last_seen_at DESC LIMIT ?",
                (limit,))]
