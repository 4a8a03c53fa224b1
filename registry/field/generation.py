"""What a restore from backup does to a database so that no work is lost or blocked.

`after_restore` runs on a database just put back from a backup (laptop or central):
- it takes a new origin generation (registry/core/origin.py), so its next edits never reuse a
  (device, seq) its peers may hold;
- the central registry also forces a new version of its settings and survey (laptops order
  them by that version, registry/sync/central_meta.py);
- it records what it did in meta 'restored' (the command prints it).
Its own lost changes come back through normal sync: peers follow the holdings it states in its
next pack (down as well as up) and send what it lacks.
"""

from __future__ import annotations

import json
from pathlib import Path

from anju.registry.core.changes import now
from anju.registry.core.origin import new_generation
from anju.registry.core.store import Registry, transaction
from anju.registry.sync import central_meta


def after_restore(db: str | Path, source: str | Path) -> dict:
    """Give a restored database a new origin generation; return what was done."""
    with Registry.open(db) as reg:
        old = reg.origin_id
        new = new_generation(reg.device_id)
        held = reg.conn.execute("SELECT MAX(seq) FROM change WHERE device_id = ?",
                                (old,)).fetchone()[0] or 0
        info = {"at": now(), "from": Path(source).name, "old_origin": old, "new_origin": new,
                "held_seq": held, "role": reg.meta("role")}
        with transaction(reg.conn):
            reg.set_meta("origin_id", new)
            if reg.meta("role") == "central":
                central_meta.force_new_version(reg)
            reg.set_meta("restored", json.dumps(info))
    return info


def describe(info: dict) -> list[str]:
    """The lines `anju restore` prints about the new generation."""
    return [
        f"this database now writes its changes as {info['new_origin']} (a new generation; "
        f"it held {info['held_seq']} changes of {info['old_origin']})",
        "changes made after the backup come back with the next sync: export and merge as usual",
    ]


def last_restore(reg: Registry) -> dict | None:
    """What the last restore of this database did, if it was restored."""
    try:
        return json.loads(reg.meta("restored") or "null")
    except ValueError:
        return None


def own_held(reg: Registry) -> int:
    """The highest seq of this database's own changes that it holds."""
    return reg.conn.execute("SELECT MAX(seq) FROM change WHERE device_id = ?",
                            (reg.origin_id,)).fetchone()[0] or 0


def notice_lost_changes(reg: Registry, have: dict, held: int | None = None) -> str | None:
    """Take a new generation when a peer holds more of this database's own changes than it did
    (`held`, taken before the peer's pack brought any back: a database copied back from a
    backup without `anju restore`); return the new origin."""
    origin = reg.origin_id
    stated = have.get(origin)
    if not isinstance(stated, int) or isinstance(stated, bool):
        return None
    held = own_held(reg) if held is None else held
    if stated <= held:
        return None
    new = new_generation(reg.device_id)
    reg.set_meta("origin_id", new)
    reg.set_meta("restored", json.dumps({
        "at": now(), "from": "a peer's pack", "old_origin": origin, "new_origin": new,
        "held_seq": held, "role": reg.meta("role")}))
    if reg.meta("role") == "central":
        central_meta.force_new_version(reg)
    return new
