"""Publication rounds (公示): survey results (Art. 15), the compensation plan (Art. 10),
valuation results, each household's compensation (Art. 29) and compensation decisions (Art. 26).

A round is a `publication_round` record: its number, kind, start and end of the publication,
the households it covers (a JSON list of ids) and the SHA-256 of the public.db it published
(`anju publish --round KIND --days N` writes it, registry/legal/announce.py). Opening a survey
round is what makes a household 已公示: every household of the round at 已登记 moves on, in the
same transaction as the round.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from anju.registry.compensation.agreements import agreements_in_force
from anju.registry.core.changes import new_id
from anju.registry.core.i18n import N_, Term
from anju.registry.core.store import Registry, transaction
from anju.registry.legal.common import (
    LegalError,
    add_days,
    day,
    id_list,
    live_rows,
    maybe_day,
    move,
    not_future,
    put,
    require,
)
from anju.registry.legal.valuations import all_in_force

KINDS = ("survey", "plan", "valuation", "compensation", "decision")
KIND_ZH = {"survey": N_("调查结果公示"), "plan": N_("征收补偿方案公示"),
           "valuation": N_("分户评估结果公示"), "compensation": N_("分户补偿情况公示"),
           "decision": N_("补偿决定公告")}
# The shortest publication of each kind, in days (Art. 10: the plan for comment, 30 days).
MIN_DAYS = {"plan": 30}
MAX_DAYS = 365


def default_title(number, kind: str) -> str:
    """The title a round of `kind` gets when none is given (Chinese, as stored)."""
    return f"第{number}轮 {KIND_ZH[kind]}"


def scope(reg: Registry, kind: str) -> list[str]:
    """The households a round of `kind` covers when none are named, in house-number order."""
    rows = reg.conn.execute("SELECT id, status FROM household WHERE deleted IS NULL "
                            "ORDER BY zone, house_no, id").fetchall()
    if kind == "survey":
        return [hid for hid, status in rows if status not in (None, "unsurveyed")]
    if kind == "plan":
        return [hid for hid, _ in rows]
    if kind == "valuation":
        valued = {hid for hid, v in all_in_force(reg).items() if v.get("delivered_on")}
        return [hid for hid, _ in rows if hid in valued]
    if kind == "compensation":
        signed = set(agreements_in_force(reg))
        return [hid for hid, _ in rows if hid in signed]
    if kind == "decision":
        issued = {d["household_id"] for d in live_rows(reg, "compensation_decision")
                  if d.get("issued_on")}
        return [hid for hid, _ in rows if hid in issued]
    raise LegalError("公示内容应为调查结果、补偿方案、评估结果、分户补偿或补偿决定")


def open_round(reg: Registry, kind: str, *, days: int, by: str, start_on=None,
               households: list[str] | None = None, title: str | None = None,
               today: dt.date | None = None,
               record_id: str | None = None) -> tuple[str, list[str]]:
    """Open a publication round; return (its id, the households it moved to 已公示).

    The publication runs from `start_on` (today by default) for `days` days (it ends `days`
    days after the start, the start day not counted).
    """
    require(reg, "publication_round")
    if kind not in KINDS:
        raise LegalError("公示内容应为调查结果、补偿方案、评估结果、分户补偿或补偿决定")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise LegalError(f"公示天数应为 1 到 {MAX_DAYS} 之间的整数")
    if days < MIN_DAYS.get(kind, 1):
        raise LegalError(f"{KIND_ZH[kind]}不得少于 {MIN_DAYS[kind]} 日")
    start = not_future(day(start_on or (today or dt.date.today()), "公示开始日期"),
                       "公示开始日期", today)
    chosen = scope(reg, kind) if households is None else list(dict.fromkeys(households))
    live = {r[0]: r[1] for r in reg.conn.execute(
        "SELECT id, status FROM household WHERE deleted IS NULL")}
    stray = [h for h in chosen if h not in live]
    if stray:
        raise LegalError(f"住户 {stray[0][:8]} 不存在或已作废")
    if not chosen:
        raise LegalError(f"没有可列入{KIND_ZH[kind]}的住户")
    round_id = record_id or new_id()
    moved = []
    with transaction(reg.conn):
        number = (reg.conn.execute("SELECT max(number) FROM publication_round")
                  .fetchone()[0] or 0) + 1
        put(reg, "publication_round", round_id, {
            "number": number, "kind": kind, "title": (title or "").strip() or
            default_title(number, kind), "start_on": start.isoformat(),
            "end_on": add_days(start, days).isoformat(),
            "households": json.dumps(chosen)}, by=by, full=True)
        if kind == "survey":
            for hid in chosen:
                if live[hid] == "surveyed" and move(reg, hid, "published", by=by,
                                                    note=f"round {number}"):
                    moved.append(hid)
    return round_id, moved


def file_digest(path: str | Path) -> str:
    """The SHA-256 of a file (a published public.db), as hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def record_digest(reg: Registry, round_id: str, path: str | Path, *, by: str) -> str:
    """Record which public.db a round published: its SHA-256 and file name."""
    digest = file_digest(path)
    reg.save("publication_round", round_id, {"public_digest": digest,
                                             "public_file": Path(path).name[:200]}, by=by)
    return digest


def withdraw(reg: Registry, round_id: str, moved: list[str], *, reason: str, by: str) -> None:
    """Undo a round whose publication failed: tombstone it and put its households back."""
    with transaction(reg.conn):
        for hid in moved:
            row = reg.get("household", hid)
            if row and row.get("status") == "published":
                put(reg, "household", hid, {"status": "surveyed"}, by=by,
                    note=f"round withdrawn: {reason}")
    reg.delete("publication_round", round_id, reason=reason, by=by)


def _shape(row: dict, today: dt.date) -> dict:
    out = dict(row)
    out["household_ids"] = id_list(row.get("households"))
    out["count"] = len(out["household_ids"])
    out["kind_zh"] = KIND_ZH.get(row.get("kind"), row.get("kind") or "")
    # The title the round got by default is shown in the reader's language; one given is data.
    out["title_phrase"] = row.get("title") or ""
    if row.get("kind") in KIND_ZH and row.get("title") == default_title(row.get("number"),
                                                                         row["kind"]):
        out["title_phrase"] = (N_("第%(number)s轮 %(kind)s"),
                               {"number": row["number"], "kind": Term(KIND_ZH[row["kind"]])})
    start, end = maybe_day(row.get("start_on")), maybe_day(row.get("end_on"))
    out["running"] = bool(start and end and start <= today <= end)
    return out


def rounds(reg: Registry, today: dt.date | None = None) -> list[dict]:
    """Every round that is not withdrawn, by number."""
    today = today or dt.date.today()
    rows = [_shape(r, today) for r in live_rows(reg, "publication_round")]
    rows.sort(key=lambda r: (r.get("number") or 0, r["id"]))
    return rows


def rounds_of(reg: Registry, household_id: str, today: dt.date | None = None) -> list[dict]:
    """The rounds a household was published in, by number (SQLite finds the candidates, so a
    household page does not parse every round's list)."""
    if not reg.definition.records.get("publication_round"):
        return []
    today = today or dt.date.today()
    cur = reg.conn.execute("SELECT * FROM publication_round WHERE deleted IS NULL AND "
                           "instr(households, ?) > 0", (f'"{household_id}"',))
    cols = [d[0] for d in cur.description]
    rows = [_shape(dict(zip(cols, r)), today) for r in cur]
    rows = [r for r in rows if household_id in r["household_ids"]]
    rows.sort(key=lambda r: (r.get("number") or 0, r["id"]))
    return rows
