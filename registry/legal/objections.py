"""Objections (异议) of a household, with their deadlines, the office's reply and the outcome.

An objection is recorded by a cadre or at the office against a publication round, a valuation
report, a compensation decision or a field of the household's record. Two deadlines are computed
when it is recorded and kept with it (a later change of settings does not move them):
- the filing deadline of its kind: the end of the round's publication; 10 days after delivery of
  the report for a review request (复核评估); 10 days after the review result for an expert
  appraisal (鉴定); settings for the rest. One received after it is recorded all the same, and
  marked late: the office must still answer it.
- the reply deadline: `objection_reply_days` (settings) after it was received.
While an objection is open (no outcome yet), the household is 异议中; answering the last open one
returns it to the status it had before (kept in `return_status`).
"""

from __future__ import annotations

import datetime as dt

from anju.registry.core.changes import new_id
from anju.registry.core.i18n import N_
from anju.registry.core.store import Registry, transaction
from anju.registry.legal.common import (
    LegalError,
    add_days,
    attachment_ids,
    day,
    id_list,
    live_household,
    live_rows,
    maybe_day,
    move,
    not_future,
    period,
    put,
    require,
)

KINDS = ("record", "round", "valuation_review", "appraisal", "decision")
KIND_ZH = {"record": N_("对调查结果的异议"), "round": N_("对公示内容的异议"),
           "valuation_review": N_("复核评估申请"), "appraisal": N_("评估鉴定申请"),
           "decision": N_("对补偿决定的异议")}
OUTCOMES = ("upheld", "partly", "rejected", "withdrawn")
OUTCOME_ZH = {"upheld": N_("异议成立"), "partly": N_("部分成立"),
              "rejected": N_("异议不成立"),
              "withdrawn": N_("撤回")}
# Statuses an objection moves to 异议中 (DOMAIN.md: an objection to the survey or valuation).
DISPUTABLE = ("surveyed", "published", "valued", "decision")


def _target(reg: Registry, household_id: str, kind: str, against: str | None,
            field: str | None, received: dt.date) -> tuple[dt.date | None, str | None]:
    """Check what the objection is against; return (filing deadline, against id)."""
    if kind == "record":
        if field and not reg.definition.record("household").has(field):
            raise LegalError(f"调查表没有字段“{field}”")
        rounds = [r for r in live_rows(reg, "publication_round")
                  if r["kind"] == "survey" and household_id in id_list(r["households"])
                  and (maybe_day(r["start_on"]) or dt.date.max) <= received]
        if rounds:  # within the publication of the survey results it was in
            latest = max(rounds, key=lambda r: r["number"])
            return maybe_day(latest["end_on"]), latest["id"]
        surveyed = maybe_day((reg.get("household", household_id) or {}).get("survey_date"))
        return (add_days(surveyed, period(reg, "record_objection_days")) if surveyed
                else None), None
    if kind == "round":
        row = reg.get("publication_round", against) if against else None
        if row is None or row.get("deleted") or household_id not in id_list(row["households"]):
            raise LegalError("请选择这户住户所在的公示轮次")
        start = maybe_day(row["start_on"])
        if start and received < start:
            raise LegalError(f"提出日期早于公示开始日期({start})")
        return maybe_day(row["end_on"]), against
    if kind in ("valuation_review", "appraisal"):
        row = reg.get("valuation", against) if against else None
        if row is None or row.get("deleted") or row["household_id"] != household_id:
            raise LegalError("请选择这户住户的评估报告")
        delivered = maybe_day(row.get("delivered_on"))
        if delivered is None:
            raise LegalError(f"评估报告 {row['report_no']} 尚未送达,不能申请复核或鉴定")
        if received < delivered:
            raise LegalError(f"提出日期早于报告送达日期({delivered})")
        if kind == "appraisal" and row.get("basis") != "review":
            # 鉴定 follows a review: against the review result, or a review request refused
            refused = [maybe_day(o.get("replied_on")) for o in live_rows(reg, "objection",
                                                                        household_id)
                       if o["kind"] == "valuation_review" and o["against"] == against
                       and o.get("outcome") == "rejected"]
            refused = [d for d in refused if d]
            if not refused:
                raise LegalError("申请鉴定须先经复核评估(针对复核结果或被驳回的复核申请)")
            start = max(refused)
            return add_days(start, period(reg, "appraisal_request_days")), against
        key = "review_request_days" if kind == "valuation_review" else "appraisal_request_days"
        return add_days(delivered, period(reg, key)), against
    row = reg.get("compensation_decision", against) if against else None
    if row is None or row.get("deleted") or row["household_id"] != household_id:
        raise LegalError("请选择这户住户的补偿决定")
    served = maybe_day(row.get("served_on"))
    if served is None:
        raise LegalError("补偿决定尚未送达")
    return add_days(served, period(reg, "administrative_review_days")), against


def record_objection(reg: Registry, household_id: str, *, kind: str, received_on,
                     disputed: str, by: str, against: str | None = None,
                     field: str | None = None, evidence=(), received_by: str | None = None,
                     today: dt.date | None = None, record_id: str | None = None) -> str:
    """Record an objection and return its id; the household becomes 异议中.

    One received after its filing deadline is recorded and marked late (`late` = 1).
    """
    require(reg, "objection")
    household = live_household(reg, household_id)
    if kind not in KINDS:
        raise LegalError("异议类型不正确")
    disputed = (disputed or "").strip()
    if not disputed:
        raise LegalError("请写明异议内容")
    if received_by not in (None, "", "cadre", "office"):
        raise LegalError("受理方式应为包户干部代收或指挥部窗口")
    received = not_future(day(received_on, "提出日期"), "提出日期", today)
    deadline, against = _target(reg, household_id, kind, against, (field or "").strip() or None,
                                received)
    evidence_ids = attachment_ids(reg, household_id, evidence)
    status = household.get("status") or "unsurveyed"
    others = open_objections(reg, household_id)
    if status == "disputed":
        return_status = next((o["return_status"] for o in others if o.get("return_status")),
                             None)
    else:
        return_status = status if status in DISPUTABLE else None
    values = {"household_id": household_id, "kind": kind, "against": against,
              "field": (field or "").strip() or None, "received_on": received.isoformat(),
              "received_by": received_by or None, "disputed": disputed,
              "evidence": ",".join(evidence_ids) or None,
              "filing_deadline": deadline.isoformat() if deadline else None,
              "late": int(bool(deadline and received > deadline)),
              "reply_due": add_days(received, period(reg, "objection_reply_days")).isoformat(),
              "return_status": return_status}
    objection_id = record_id or new_id()
    with transaction(reg.conn):
        put(reg, "objection", objection_id, values, by=by, full=True)
        if status in DISPUTABLE:
            move(reg, household_id, "disputed", by=by, note=f"objection {objection_id[:8]}")
    return objection_id


def answer(reg: Registry, objection_id: str, *, reply: str, outcome: str, replied_on,
           by: str, today: dt.date | None = None) -> None:
    """Record the office's reply and the outcome (once); the last one answered ends 异议中."""
    require(reg, "objection")
    row = reg.get("objection", objection_id)
    if row is None or row.get("deleted"):
        raise LegalError("没有这条异议")
    if row.get("outcome"):
        raise LegalError(f"这条异议已于 {row.get('replied_on')} 答复")
    reply = (reply or "").strip()
    if not reply:
        raise LegalError("请写明答复内容")
    if outcome not in OUTCOMES:
        raise LegalError("处理结果应为异议成立、部分成立、异议不成立或撤回")
    replied = not_future(day(replied_on, "答复日期"), "答复日期", today)
    received = maybe_day(row["received_on"])
    if received and replied < received:
        raise LegalError(f"答复日期({replied})不能早于提出日期({received})")
    household = live_household(reg, row["household_id"])
    with transaction(reg.conn):
        put(reg, "objection", objection_id, {"reply": reply, "outcome": outcome,
                                             "replied_on": replied.isoformat()}, by=by)
        still_open = [o for o in open_objections(reg, household["id"])]
        back = row.get("return_status")
        if household.get("status") == "disputed" and not still_open and back:
            move(reg, household["id"], back, by=by, note=f"objection {objection_id[:8]} answered")


def _shape(row: dict, today: dt.date) -> dict:
    out = dict(row)
    due = maybe_day(row.get("reply_due"))
    out["open"] = not row.get("outcome")
    out["days_left"] = (due - today).days if due and out["open"] else None
    out["overdue"] = out["days_left"] is not None and out["days_left"] < 0
    out["late"] = bool(row.get("late"))
    out["kind_zh"] = KIND_ZH.get(row.get("kind"), row.get("kind") or "")
    out["outcome_zh"] = OUTCOME_ZH.get(row.get("outcome"), "")
    out["evidence_ids"] = [e for e in (row.get("evidence") or "").split(",") if e]
    answered = maybe_day(row.get("replied_on"))
    out["answered_late"] = bool(answered and due and answered > due)
    return out


def objections_of(reg: Registry, household_id: str, today: dt.date | None = None) -> list[dict]:
    """One household's objections, oldest first."""
    today = today or dt.date.today()
    rows = [_shape(r, today) for r in live_rows(reg, "objection", household_id)]
    rows.sort(key=lambda r: (r["received_on"] or "", r["created_at"] or "", r["id"]))
    return rows


def open_objections(reg: Registry, household_id: str | None = None) -> list[dict]:
    """Objections without an outcome yet (of one household, if given)."""
    return [r for r in live_rows(reg, "objection", household_id) if not r.get("outcome")]


def queue(reg: Registry, today: dt.date | None = None) -> list[dict]:
    """The review queue of open objections: fewest days left first, so overdue ones lead."""
    today = today or dt.date.today()
    houses = {r[0]: (r[1], r[2]) for r in reg.conn.execute(
        "SELECT id, house_no, zone FROM household")}
    rows = []
    for r in open_objections(reg):
        item = _shape(r, today)
        item["house_no"], item["zone"] = houses.get(r["household_id"], (None, None))
        rows.append(item)
    far = 10 ** 6
    rows.sort(key=lambda r: (far if r["days_left"] is None else r["days_left"],
                             r["received_on"] or "", r["id"]))
    return rows


def counts(reg: Registry, today: dt.date | None = None) -> dict[str, int]:
    """Objections open, overdue (open past the reply deadline), answered and filed late."""
    today = today or dt.date.today()
    rows = [_shape(r, today) for r in live_rows(reg, "objection")]
    return {"open": sum(r["open"] for r in rows), "overdue": sum(r["overdue"] for r in rows),
            "answered": sum(not r["open"] for r in rows), "late": sum(r["late"] for r in rows)}
