"""The registry digest: one hash of what the records say, whatever order they were written in.

Two databases with the same change set have the same digest, however their packs were merged;
local bookkeeping (when a change was received, which device this is) does not count.
"""

from __future__ import annotations

import hashlib
import json

from anju.registry.core.changes import dumps
from anju.registry.core.store import Registry

BOOKKEEPING = {"created_at", "created_by", "updated_at", "updated_by"}


def digest(reg: Registry) -> str:
    """Hex SHA-256 of the canonical content of all records and their field values."""
    h = hashlib.sha256()
    for name in sorted(reg.definition.records):
        cur = reg.conn.execute(f"SELECT * FROM [{name}] ORDER BY id")
        cols = [d[0] for d in cur.description]
        for row in cur:
            content = {c: v for c, v in zip(cols, row) if v is not None and c not in BOOKKEEPING}
            h.update(dumps([name, content]).encode())
            h.update(b"\n")
    return h.hexdigest()


def knowledge(reg: Registry) -> str:
    """One line over what the database knows beyond its records: its change set (every change
    id) and its open conflicts (each field with its candidate change ids). Equal record digests
    with different knowledge lines mean the two databases do not know the same."""
    changes = hashlib.sha256()
    count = 0
    for (cid,) in reg.conn.execute("SELECT change_id FROM change ORDER BY change_id"):
        changes.update(cid.encode() + b"\n")
        count += 1
    conflicts = hashlib.sha256()
    open_ = 0
    for rtype, rid, name, cands in reg.conn.execute(
            "SELECT record_type, record_id, field, candidates FROM conflict "
            "ORDER BY record_type, record_id, field"):
        ids = sorted(c["change_id"] for c in json.loads(cands))
        conflicts.update(dumps([rtype, rid, name, ids]).encode() + b"\n")
        open_ += 1
    return (f"changes {count} {changes.hexdigest()[:32]} "
            f"conflicts {open_} {conflicts.hexdigest()[:32]}")
