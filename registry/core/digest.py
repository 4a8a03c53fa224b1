"""The registry digest: one hash of what the records say, whatever order they were written in.

Two databases with the same change set have the same digest, however their packs were merged;
local bookkeeping (when a change was received, which device this is) does not count.
"""

from __future__ import annotations

import hashlib

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
