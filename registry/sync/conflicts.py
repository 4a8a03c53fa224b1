"""Conflicts: concurrent edits of one field with different values, and their resolution.

The fold keeps a deterministic winner on the record meanwhile; the `conflict` table lists the
open ones with every candidate value, device, user and time. Resolving is itself a change whose
base for the field lists every current head, so it supersedes them all on every database it
reaches and the conflict stays resolved after any later merge.
"""

from __future__ import annotations

import json

from anju.registry.core import clock
from anju.registry.core.changes import DELETED, Change, new_id, now
from anju.registry.core.signing import sign_change
from anju.registry.core.store import (
    InvalidChange,
    Registry,
    StoreError,
    refuse_outside_capabilities,
    transaction,
)
from anju.registry.core.validation import validate


def _row(r) -> dict:
    return {"record_type": r[0], "record_id": r[1], "field": r[2], "winner": r[3],
            "candidates": json.loads(r[4])}


def open_conflicts(reg: Registry, record_type: str | None = None,
                   record_id: str | None = None) -> list[dict]:
    """The open conflicts (optionally of one record type or record), each with its candidates
    {change_id, value, device_id, by, at}, winner first."""
    sql = "SELECT record_type, record_id, field, winner, candidates FROM conflict WHERE 1=1"
    args: list = []
    if record_type:
        sql += " AND record_type = ?"
        args.append(record_type)
    if record_id:
        sql += " AND record_id = ?"
        args.append(record_id)
    return [_row(r) for r in reg.conn.execute(sql + " ORDER BY record_type, record_id, field",
                                              args)]


def get_conflict(reg: Registry, record_type: str, record_id: str, field: str) -> dict | None:
    """One open conflict, or None if that field has none."""
    r = reg.conn.execute("SELECT record_type, record_id, field, winner, candidates FROM conflict "
                         "WHERE record_type = ? AND record_id = ? AND field = ?",
                         (record_type, record_id, field)).fetchone()
    return _row(r) if r else None


def resolve(reg: Registry, record_type: str, record_id: str, field: str, value, reason: str,
            by: str, seen: list[str] | None = None) -> Change:
    """Settle a conflict with `value` (one of the candidates or another) and a reason.

    Writes one change whose base for `field` is the candidates the supervisor was shown
    (`seen`, change ids; every current head when not given), with the reason as note. A value
    that arrived after the page was shown is not overridden: it stays in conflict.
    """
    reason = (reason or "").strip()
    if not reason:
        raise StoreError("resolving a conflict needs a reason")
    with transaction(reg.conn):
        if get_conflict(reg, record_type, record_id, field) is None:
            raise StoreError(f"no open conflict on {record_type} {record_id} {field}")
        state = reg.state(record_id)
        heads = sorted(h.change_id for h in state.heads[field])
        if seen is not None:
            shown = {s for s in seen if isinstance(s, str)}
            known = {c.change_id for c in reg.changes_of(record_id) if field in c.fields}
            heads = sorted(shown & known)
            if not heads:
                raise StoreError("页面显示后冲突已变化，请重新查看 (the conflict changed since "
                                 "the page was shown; look again)")
        if field == DELETED:
            if value is not None and not isinstance(value, str):
                raise StoreError("a deletion reason is text")
            clean_value = value.strip() if isinstance(value, str) and value.strip() else None
        else:
            current = {k: v for k, v in state.values.items() if k != DELETED}
            clean, errors = validate(reg.definition, record_type, {field: value}, partial=True,
                                     current=current)
            if errors:
                raise InvalidChange(record_type, errors)
            clean_value = clean.get(field)
        at = now()
        change = Change(change_id=new_id(), device_id=reg.origin_id, seq=reg.next_seq(),
                        record_type=record_type, record_id=record_id,
                        fields={field: clean_value}, base={field: heads}, at=at, by=by,
                        note=reason, hlc=clock.next_hlc(reg.conn, at))
        refuse_outside_capabilities(reg, change)
        change = sign_change(reg, change)
        reg.apply([change])
    return change
