"""Hardship care (困难群体帮扶): every hardship household with its cadre, the help planned and
given, and where it stands, so that none is left behind in the transition.

A household is on the care list when its survey's `hardship` field names any hardship type.
Help is a `care_help` record (schema/system_records.yaml, central only by deny by default):
what (visit, transition flat, moving help, subsidy, other), planned for when, by which cadre,
and, once given, the day it was done. The list and every figure here are sensitive personal
data: they are shown to supervisors only and never published (registry/completion/public.py
publishes no care data at all).
"""

from __future__ import annotations

import datetime as dt
import json

from anju.registry.core.changes import new_id
from anju.registry.core.localtime import today as project_today
from anju.registry.core.store import Registry, StoreError, transaction

KINDS = {"visit": "走访慰问", "transition_flat": "安排周转房", "moving_help": "协助搬家",
         "subsidy": "困难补助", "other": "其他"}


class CareError(StoreError):
    """A care step that cannot be recorded as asked; the message is for people (Chinese)."""


def _types(value) -> list[str]:
    if not value:
        return []
    try:
        items = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return []
    return [v for v in items if isinstance(v, str)] if isinstance(items, list) else []


def helps(reg: Registry, household_id: str | None = None) -> list[dict]:
    """Live care_help records (of one household), planned date first."""
    if "care_help" not in reg.definition.records:
        return []
    sql = "SELECT * FROM care_help WHERE deleted IS NULL"
    args: tuple = ()
    if household_id:
        sql += " AND household_id = ?"
        args = (household_id,)
    cur = reg.conn.execute(sql, args)
    cols = [d[0] for d in cur.description]
    return sorted((dict(zip(cols, r)) for r in cur),
                  key=lambda h: (h["planned_on"], h["created_at"] or "", h["id"]))


def care_list(reg: Registry, today: dt.date | None = None) -> list[dict]:
    """Every hardship household: house, owner, zone, status, hardship types, cadre, the help
    planned and given, the next open help and how many are overdue. Households with overdue
    help first, then those with no help planned, then by house number."""
    today = today or project_today()
    by_household: dict[str, list[dict]] = {}
    for h in helps(reg):
        by_household.setdefault(h["household_id"], []).append(h)
    out = []
    for hid, house_no, owner, zone, status, cadre, hardship in reg.conn.execute(
            "SELECT id, house_no, owner_name, zone, status, cadre, hardship FROM household "
            "WHERE deleted IS NULL AND hardship IS NOT NULL AND hardship NOT IN ('', '[]')"):
        types = _types(hardship)
        if not types:
            continue
        items = by_household.get(hid, [])
        open_items = [h for h in items if not h["done_on"]]
        overdue = [h for h in open_items if h["planned_on"] < today.isoformat()]
        out.append({"household_id": hid, "house_no": house_no, "owner_name": owner,
                    "zone": zone, "status": status, "cadre": cadre, "types": types,
                    "helps": items, "given": len(items) - len(open_items),
                    "planned": len(open_items), "overdue": len(overdue),
                    "next": open_items[0] if open_items else None})
    return sorted(out, key=lambda r: (-r["overdue"], bool(r["helps"]), r["house_no"] or ""))


def summary(reg: Registry, today: dt.date | None = None) -> dict:
    """Counts for the progress page: households on the list, with help given, with nothing
    planned or given, with help overdue, transition flats arranged."""
    rows = care_list(reg, today)
    return {"households": len(rows), "helped": sum(1 for r in rows if r["given"]),
            "nothing": sum(1 for r in rows if not r["helps"]),
            "overdue": sum(1 for r in rows if r["overdue"]),
            "transition_flats": sum(1 for r in rows if any(
                h["kind"] == "transition_flat" and h["done_on"] for h in r["helps"]))}


def _is_hardship(reg: Registry, household_id: str) -> dict:
    row = reg.get("household", household_id)
    if row is None or row.get("deleted"):
        raise CareError("没有这户住户")
    if not _types(row.get("hardship")):
        raise CareError("这户不是困难群体,不在帮扶名单中")
    return row


def plan_help(reg: Registry, household_id: str, *, kind: str, planned_on: str, cadre: str,
              by: str, note: str | None = None, record_id: str | None = None) -> str:
    """Plan a help for a hardship household; returns the care_help id."""
    if kind not in KINDS:
        raise CareError("帮扶事项应为走访慰问、安排周转房、协助搬家、困难补助或其他")
    try:
        day = dt.date.fromisoformat(str(planned_on).strip())
    except ValueError:
        raise CareError("计划日期格式应为 年-月-日") from None
    cadre = (cadre or "").strip()
    if not cadre:
        raise CareError("请填写负责干部")
    with transaction(reg.conn):
        _is_hardship(reg, household_id)
        hid = record_id or new_id()
        reg.apply([reg.make_change("care_help", hid, {
            "household_id": household_id, "kind": kind, "planned_on": day.isoformat(),
            "cadre": cadre, "note": (note or "").strip() or None}, by=by, full=True)])
    return hid


def mark_done(reg: Registry, help_id: str, *, done_on: str, by: str,
              note: str | None = None) -> None:
    """Record that a planned help was given, on a day not in the future."""
    try:
        day = dt.date.fromisoformat(str(done_on).strip())
    except ValueError:
        raise CareError("完成日期格式应为 年-月-日") from None
    with transaction(reg.conn):
        row = reg.get("care_help", help_id)
        if row is None or row.get("deleted"):
            raise CareError("没有这项帮扶")
        if row.get("done_on"):
            raise CareError("这项帮扶已登记完成")
        values = {"done_on": day.isoformat()}
        if (note or "").strip():
            values["note"] = note.strip()
        reg.apply([reg.make_change("care_help", help_id, values, by=by)])
