"""The review queue: open flags (registry/checks.py) and open conflicts, in one list.

Filterable by zone, kind and the households' cadre. A flag is closed by a `decision` record (a
change that syncs; its id derives from the flag key, so decisions about one flag made on two
machines meet in one record, and a disagreement between them is itself a conflict to review).
A conflict is closed by resolving it (registry/conflicts.py, the packs engineer's), which is a
change as well.
"""

from __future__ import annotations

import json
import uuid

from anju.registry.core.i18n import N_
from anju.registry.core.store import Registry, StoreError
from anju.registry.publication.privacy import mask_id_for_staff
from anju.registry.review.checks import CLOSING, KINDS, closed_sql, prepare

DECISION_NS = uuid.UUID("5b0c6f1e-8d43-4c4e-9a57-2f1c3a6e0d11")
DECISIONS = {"confirmed": (N_("属实"), "Confirmed"), "dismissed": (N_("排除"), "Dismissed"),
             "reopened": (N_("重新审核"), "Reopened")}


def decision_id(flag_key: str) -> str:
    """The id of the decision record about a flag: the same on every machine."""
    return str(uuid.uuid5(DECISION_NS, flag_key))


def decide(reg: Registry, flag_key: str, decision: str, reason: str, *, by: str) -> str:
    """Record a decision on a flag (confirmed, dismissed or reopened) with a reason."""
    if decision not in DECISIONS:
        raise StoreError(f"unknown decision {decision!r}; use one of {', '.join(DECISIONS)}")
    if not reason or not reason.strip():
        raise StoreError("a decision needs a reason")
    row = reg.conn.execute("SELECT kind FROM flag WHERE flag_key = ?", (flag_key,)).fetchone()
    old = reg.get("decision", decision_id(flag_key))
    if row is None and old is None:
        raise StoreError(f"no flag {flag_key}")
    household = reg.conn.execute("SELECT min(household_id) FROM flag_household WHERE flag_key = ?",
                                 (flag_key,)).fetchone()[0]
    values = {"flag_key": flag_key, "kind": row[0] if row else old["kind"], "decision": decision,
              "reason": reason.strip()}
    if household:
        values["household"] = household
    return reg.save("decision", decision_id(flag_key), values, by=by, note=reason.strip())


def _conflicts_sql(reg: Registry) -> str:
    """Open conflicts with the household each concerns (children via their household_id)."""
    whens = ["WHEN 'household' THEN c.record_id"]
    for rtype in reg.definition.records.values():
        if rtype.parent == "household":
            whens.append(f"WHEN '{rtype.name}' THEN (SELECT household_id FROM [{rtype.name}] "
                         "WHERE id = c.record_id)")
    whens.append("WHEN 'decision' THEN (SELECT household FROM decision WHERE id = c.record_id)")
    return (f"SELECT c.*, CASE c.record_type {' '.join(whens)} END AS household_id "
            "FROM conflict c")


def _filters(zone, cadre, alias="h") -> tuple[str, list]:
    conds, args = [], []
    if zone:
        conds.append(f"{alias}.zone = ?")
        args.append(zone)
    if cadre:
        conds.append(f"{alias}.cadre = ?")
        args.append(cadre)
    return " AND ".join(conds), args


def _items_sql(reg: Registry, *, zone=None, kind=None, cadre=None, household_id=None,
               closed: bool = False) -> tuple[str, list]:
    """SQL listing queue items as (item, key, kind, at) rows, and its arguments."""
    hcond, hargs = _filters(zone, cadre)
    if household_id:
        hcond = " AND ".join(filter(None, [hcond, "h.id = ?"]))
        hargs = [*hargs, household_id]
    parts, args = [], []
    if kind != "conflict":
        sql = (f"SELECT 'flag' AS item, f.flag_key AS key, f.kind AS kind, f.found_at AS at "
               f"FROM flag f WHERE {closed_sql(reg)} = {int(closed)}")
        if kind:
            sql += " AND f.kind = ?"
            args.append(kind)
        if hcond:
            sql += (" AND EXISTS (SELECT 1 FROM flag_household fh JOIN household h ON "
                    f"h.id = fh.household_id WHERE fh.flag_key = f.flag_key AND {hcond})")
            args += hargs
        parts.append(sql)
    if kind in (None, "", "conflict") and not closed:
        sql = ("SELECT 'conflict' AS item, c.record_type || '/' || c.record_id || '/' || "
               "c.field AS key, 'conflict' AS kind, json_extract(c.candidates, '$[0].at') AS at "
               f"FROM ({_conflicts_sql(reg)}) c")
        if hcond:
            sql += f" JOIN household h ON h.id = c.household_id WHERE {hcond}"
            args += hargs
        parts.append(sql)
    return " UNION ALL ".join(parts), args


def queue(reg: Registry, *, zone: str | None = None, kind: str | None = None,
          cadre: str | None = None, closed: bool = False, limit: int = 50,
          offset: int = 0) -> tuple[int, list[dict]]:
    """(total, one page of items): conflicts first, then flags by day found (newest first)
    and gravity (the order of KINDS)."""
    prepare(reg)
    sql, args = _items_sql(reg, zone=zone, kind=kind, cadre=cadre, closed=closed)
    if not sql:
        return 0, []
    total = reg.conn.execute(f"SELECT count(*) FROM ({sql})", args).fetchone()[0]
    rows = reg.conn.execute(f"SELECT * FROM ({sql}) ORDER BY item = 'flag', "
                            f"substr(at, 1, 10) DESC, {_priority()}, key LIMIT ? OFFSET ?",
                            [*args, limit, offset]).fetchall()
    return total, [_detail(reg, *row) for row in rows]


def _priority() -> str:
    """SQL ranking kinds in the order of KINDS: the gravest abuses first within a day."""
    whens = " ".join(f"WHEN '{k}' THEN {i}" for i, k in enumerate(KINDS))
    return f"CASE kind {whens} ELSE {len(KINDS)} END"


def open_items(reg: Registry, household_id: str) -> list[dict]:
    """The open flags and conflicts of one household, for its page (一户一档)."""
    prepare(reg)
    sql, args = _items_sql(reg, household_id=household_id)
    rows = reg.conn.execute(f"SELECT * FROM ({sql}) ORDER BY item = 'flag', {_priority()}, "
                            "at DESC", args).fetchall()
    return [_detail(reg, *row) for row in rows]


def _households(reg: Registry, ids) -> list[dict]:
    ids = [i for i in ids if i]
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    cur = reg.conn.execute(f"SELECT id, house_no, zone, cadre, owner_name FROM household "
                           f"WHERE id IN ({marks}) ORDER BY house_no", ids)
    return [dict(zip(("id", "house_no", "zone", "cadre", "owner_name"), r)) for r in cur]


def _detail(reg: Registry, item: str, key: str, kind: str, at: str) -> dict:
    """One queue item with what a reviewer needs to see and decide."""
    if item == "flag":
        row = reg.conn.execute("SELECT reason_zh, reason_en, records FROM flag WHERE flag_key = ?",
                               (key,)).fetchone()
        hids = [r[0] for r in reg.conn.execute(
            "SELECT household_id FROM flag_household WHERE flag_key = ?", (key,))]
        decision = reg.get("decision", decision_id(key))
        return {"item": "flag", "key": key, "kind": kind, "at": at,
                "kind_label": {"zh": KINDS.get(kind, (kind,))[0],
                               "en": KINDS.get(kind, (kind, kind))[1]},
                "reason": {"zh": row[0], "en": row[1]},
                "records": [tuple(r) for r in json.loads(row[2])],
                "households": _households(reg, hids), "decision": decision}
    record_type, record_id, field = key.split("/", 2)
    row = reg.conn.execute(f"SELECT c.candidates, c.household_id FROM ({_conflicts_sql(reg)}) c "
                           "WHERE c.record_type = ? AND c.record_id = ? AND c.field = ?",
                           (record_type, record_id, field)).fetchone()
    candidates = json.loads(row[0]) if row else []
    rtype = reg.definition.records.get(record_type)
    if rtype and rtype.has(field) and rtype.field(field).type == "resident_id":
        for c in candidates:  # staff views show an ID number as first 6 + last 4 only
            c["value"] = mask_id_for_staff(c["value"])
    flabel = (rtype.field(field).label if rtype and rtype.has(field)
              else {"zh": field, "en": field})
    values = " / ".join(json.dumps(c["value"], ensure_ascii=False) for c in candidates)
    return {"item": "conflict", "key": key, "kind": "conflict", "at": at,
            "kind_label": {"zh": "同步冲突", "en": "Sync conflict"},
            "reason": {"zh": f"{flabel['zh']} 在不同设备上被改为不同的值：{values}",
                       "en": f"{flabel['en']} was changed to different values on different "
                             f"devices: {values}"},
            "record_type": record_type, "record_id": record_id, "field": field,
            "field_label": flabel, "candidates": candidates,
            "households": _households(reg, [row[1]] if row else []), "decision": None}


def kinds() -> dict[str, tuple[str, str]]:
    """Every item kind the queue can be filtered by, with its Chinese and English names."""
    return {**KINDS, "conflict": (N_("同步冲突"), "Sync conflict")}


def is_closing(decision: dict | None) -> bool:
    """Whether a decision record closes its flag."""
    return bool(decision) and not decision.get("deleted") and decision.get("decision") in CLOSING
