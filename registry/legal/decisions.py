"""Compensation decisions (补偿决定, Art. 26 of the regulation).

For a household that has not agreed within the signing period of the compensation plan, the
office drafts a decision under the plan: the breakdown (registry/compensation/calculation.py
`breakdown_for`, on the drafting date) is frozen into a `compensation_decision` record with the
valuation in force it rests on. Issuing it moves the household from 已评估 to 补偿决定; serving it
starts the household's periods: administrative review within 60 days (行政复议法 Art. 20) and
litigation within 6 months (行政诉讼法 Art. 46), both from the day after service. Only a court
may then order enforcement (Art. 28); anju records no enforcement by the office.

The signing period ends on the project setting `signing_deadline` (签约期限 of the plan) when it
is set, else on the deadline of the household's zone.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from anju.registry.compensation.agreements import agreements_of
from anju.registry.compensation.calculation import MODES, Breakdown, breakdown_for
from anju.registry.compensation.rules import RulesError
from anju.registry.core.changes import DELETED, new_id
from anju.registry.core.i18n import N_
from anju.registry.core.store import Registry, transaction
from anju.registry.legal.common import (
    LegalError,
    add_days,
    add_months,
    day,
    live_household,
    live_rows,
    maybe_day,
    move,
    not_future,
    period,
    put,
    require,
)
from anju.registry.legal.valuations import valuation_in_force, valuations_of

LEGAL_BASIS = (
    "《国有土地上房屋征收与补偿条例》第二十六条:房屋征收部门与被征收人在征收补偿方案确定的签约期限内"
    "达不成补偿协议的,由房屋征收部门报请作出房屋征收决定的市、县级人民政府依照本条例的规定,"
    "按照征收补偿方案作出补偿决定,并在房屋征收范围内予以公告。",
    "《国有土地上房屋征收与补偿条例》第十九条:对被征收房屋价值的补偿,不得低于房屋征收决定公告之日"
    "被征收房屋类似房地产的市场价格;被征收房屋的价值,由具有相应资质的房地产价格评估机构按照"
    "房屋征收评估办法评估确定。",
    "《国有土地上房屋征收与补偿条例》第十七条、第二十一条、第二十二条、第二十三条及本项目征收补偿方案。",
)


def signing_deadline(reg: Registry, household: dict) -> dt.date | None:
    """The last day of the signing period for a household (settings, else its zone's)."""
    settings = reg.settings or {}
    project = maybe_day(settings.get("signing_deadline"))
    if project:
        return project
    for zone in settings.get("zones") or ():
        if isinstance(zone, dict) and zone.get("name") == household.get("zone"):
            return maybe_day(zone.get("deadline"))
    return None


def decisions_of(reg: Registry, household_id: str) -> list[dict]:
    """One household's compensation decisions (not withdrawn), oldest first."""
    return [_shape(reg, r) for r in live_rows(reg, "compensation_decision", household_id)]


def why_not(reg: Registry, household: dict, today: dt.date | None = None) -> str | None:
    """Why a decision may not be drafted for a household now, or None when it may."""
    today = today or dt.date.today()
    if household.get("deleted"):
        return "住户已作废"
    if decisions_of(reg, household["id"]):
        return "这户已有补偿决定"
    if household.get("status") != "valued":
        return "须为已评估且未签约(异议处理完毕)的住户"
    if agreements_of(reg, household["id"]):
        return "这户已签订补偿协议"
    deadline = signing_deadline(reg, household)
    if deadline is None:
        return "未设定签约期限(项目设置 signing_deadline 或片区截止日期)"
    if today <= deadline:
        return f"签约期限({deadline})尚未届满"
    return None


def eligible(reg: Registry, today: dt.date | None = None) -> list[dict]:
    """Households past the signing period without an agreement: a decision may be drafted."""
    if not reg.definition.records.get("compensation_decision"):
        return []
    today = today or dt.date.today()
    # The same tests as why_not, in a few queries rather than several per household.
    signed = ({r[0] for r in reg.conn.execute("SELECT household_id FROM agreement")}
              if "agreement" in reg.definition.records else set())
    has_decision = {r[0] for r in reg.conn.execute(
        "SELECT household_id FROM compensation_decision WHERE deleted IS NULL")}
    cur = reg.conn.execute("SELECT * FROM household WHERE deleted IS NULL AND status = 'valued' "
                           "ORDER BY zone, house_no")
    cols = [d[0] for d in cur.description]
    out = []
    for row in cur.fetchall():
        h = dict(zip(cols, row))
        if h["id"] in signed or h["id"] in has_decision:
            continue
        deadline = signing_deadline(reg, h)
        if deadline is not None and today > deadline:
            out.append(h)
    return out


def eligible_count(reg: Registry, today: dt.date | None = None) -> int:
    """len(eligible(reg, today)), counted by zone in SQL: the progress page and the 日报 need
    the number, not the households (a scan of their rows was most of /progress at scale)."""
    if not reg.definition.records.get("compensation_decision"):
        return 0
    today = today or dt.date.today()
    signed = ("AND NOT EXISTS (SELECT 1 FROM agreement a WHERE a.household_id = h.id)"
              if "agreement" in reg.definition.records else "")
    total = 0
    for zone, n in reg.conn.execute(
            "SELECT h.zone, count(*) FROM household h WHERE h.deleted IS NULL AND "
            f"h.status = 'valued' {signed} AND NOT EXISTS (SELECT 1 FROM compensation_decision "
            "d WHERE d.household_id = h.id AND d.deleted IS NULL) GROUP BY h.zone"):
        deadline = signing_deadline(reg, {"zone": zone})
        if deadline is not None and today > deadline:
            total += n
    return total


# Items of an agreement's breakdown that a decision does not grant: the signing reward is for
# households that signed within the period, which a holdout by definition did not.
NOT_IN_DECISION = ("incentive",)


def draft_breakdown(reg: Registry, household_id: str, mode: str, on: dt.date) -> Breakdown:
    """The breakdown a decision drafted on `on` would state (complete, or a LegalError):
    the plan's breakdown on that date without the signing reward."""
    if mode not in MODES:
        raise LegalError("补偿方式应为货币补偿或产权调换")
    try:
        b = breakdown_for(reg, household_id, mode, on)
    except RulesError:
        raise LegalError("补偿方案有误,无法计算补偿") from None
    if not b.complete:
        raise LegalError("资料不全,无法计算补偿:" + "、".join(b.missing))
    b.items = [i for i in b.items if i.key not in NOT_IN_DECISION]
    b.total = sum((i.amount for i in b.items), Decimal("0.00"))
    return b


def draft(reg: Registry, household_id: str, *, number: str, mode: str, drafted_on,
          by: str, today: dt.date | None = None, record_id: str | None = None) -> str:
    """Draft a compensation decision with its breakdown frozen; return its id."""
    require(reg, "compensation_decision")
    household = live_household(reg, household_id)
    number = (number or "").strip()
    if not number:
        raise LegalError("请填写决定书编号")
    on = not_future(day(drafted_on, "拟定日期"), "拟定日期", today)
    reason = why_not(reg, household, on)
    if reason:
        raise LegalError(reason)
    if reg.conn.execute("SELECT 1 FROM compensation_decision WHERE number = ? AND "
                        "deleted IS NULL", (number,)).fetchone():
        raise LegalError(f"决定书编号 {number} 已被使用")
    b = draft_breakdown(reg, household_id, mode or household.get("compensation_mode")
                        or "money", on)
    valuation = valuation_in_force(reg, household_id)
    decision_id = record_id or new_id()
    reg.save("compensation_decision", decision_id, {
        "household_id": household_id, "number": number, "drafted_on": on.isoformat(),
        "mode": b.mode, "breakdown": b.to_json(), "total": str(b.total),
        "valuation": valuation["id"] if valuation else None}, by=by, full=True)
    return decision_id


def _get(reg: Registry, decision_id: str) -> dict:
    require(reg, "compensation_decision")
    row = reg.get("compensation_decision", decision_id)
    if row is None or row.get("deleted"):
        raise LegalError("没有这份补偿决定")
    return row


def issue(reg: Registry, decision_id: str, issued_on, *, by: str,
          today: dt.date | None = None) -> None:
    """Record that the decision was made (once); the household moves to 补偿决定."""
    row = _get(reg, decision_id)
    if row.get("issued_on"):
        raise LegalError(f"决定书 {row['number']} 已于 {row['issued_on']} 作出")
    issued = not_future(day(issued_on, "作出日期"), "作出日期", today)
    drafted = maybe_day(row.get("drafted_on"))
    if drafted and issued < drafted:
        raise LegalError(f"作出日期({issued})不能早于拟定日期({drafted})")
    household = live_household(reg, row["household_id"])
    with transaction(reg.conn):
        if household.get("status") != "decision" and not move(
                reg, household["id"], "decision", by=by, note=f"decision {row['number']}"):
            raise LegalError("当前状态不能作出补偿决定(须为已评估,异议处理完毕)")
        put(reg, "compensation_decision", decision_id, {"issued_on": issued.isoformat()}, by=by)


def serve(reg: Registry, decision_id: str, served_on, *, by: str,
          today: dt.date | None = None) -> None:
    """Record the service of an issued decision on the household (once)."""
    row = _get(reg, decision_id)
    if not row.get("issued_on"):
        raise LegalError("补偿决定尚未作出,不能送达")
    if row.get("served_on"):
        raise LegalError(f"决定书 {row['number']} 已于 {row['served_on']} 送达")
    served = not_future(day(served_on, "送达日期"), "送达日期", today)
    issued = maybe_day(row["issued_on"])
    if issued and served < issued:
        raise LegalError(f"送达日期({served})不能早于作出日期({issued})")
    reg.save("compensation_decision", decision_id, {"served_on": served.isoformat()}, by=by)


def rights(reg: Registry, served_on: str | None) -> dict:
    """The household's periods after service: review and litigation, with their last days."""
    served = maybe_day(served_on)
    review_days = period(reg, "administrative_review_days")
    months = period(reg, "litigation_months")
    return {"review_days": review_days, "litigation_months": months,
            "review_until": add_days(served, review_days) if served else None,
            "litigation_until": add_months(served, months) if served else None}


def _frozen(reg: Registry, row: dict) -> dict:
    """A decision's breakdown and total as drafted: the first change, whatever came later."""
    first = None
    for c in reg.changes_of(row["id"]):
        if "breakdown" in c.fields and DELETED not in c.fields:
            first = c if first is None or c.order < first.order else first
    return first.fields if first else row


def _shape(reg: Registry, row: dict) -> dict:
    out = dict(row)
    frozen = _frozen(reg, row)
    try:
        out["breakdown"] = Breakdown.from_json(frozen["breakdown"])
        out["total"] = Decimal(str(frozen["total"])).quantize(Decimal("0.01"))
    except (ValueError, TypeError, KeyError, ArithmeticError):
        out["breakdown"], out["total"] = None, None
    out.update(rights(reg, row.get("served_on")))
    out["state_zh"] = (N_("已送达") if row.get("served_on") else
                       N_("已作出") if row.get("issued_on") else N_("拟定"))
    return out


def all_decisions(reg: Registry) -> list[dict]:
    """Every decision (not withdrawn), by drafting date."""
    rows = [_shape(reg, r) for r in live_rows(reg, "compensation_decision")]
    rows.sort(key=lambda r: (r.get("drafted_on") or "", r.get("number") or ""))
    return rows


def document(reg: Registry, household_id: str, *, decision_id: str | None = None,
             mode: str | None = None, on: dt.date | None = None) -> dict:
    """What the printable decision states: a recorded decision, or a draft for preview.

    Returns {household, number, breakdown, total, valuation, drafted_on, issued_on, served_on,
    review_until, litigation_until, review_days, litigation_months, basis, office, draft}.
    """
    household = live_household(reg, household_id)
    if decision_id:
        row = _get(reg, decision_id)
        if row["household_id"] != household_id:
            raise LegalError("这份补偿决定不属于这户住户")
        d = _shape(reg, row)
        if d["breakdown"] is None:
            raise LegalError("补偿决定的明细已损坏")
        valuation = next((v for v in valuations_of(reg, household_id)
                          if v["id"] == row.get("valuation")), None)
        draft_doc = False
    else:
        on = on or dt.date.today()
        b = draft_breakdown(reg, household_id, mode or household.get("compensation_mode")
                            or "money", on)
        d = {"number": None, "breakdown": b, "total": b.total, "drafted_on": on.isoformat(),
             "issued_on": None, "served_on": None, **rights(reg, None)}
        valuation = valuation_in_force(reg, household_id)
        draft_doc = True
    return {**d, "household": household, "valuation": valuation, "basis": LEGAL_BASIS,
            "office": reg.meta("project_name") or "", "draft": draft_doc,
            "deadline": signing_deadline(reg, household)}


def counts(reg: Registry) -> dict[str, int]:
    """Decisions drafted, issued and served."""
    rows = live_rows(reg, "compensation_decision")
    return {"drafted": len(rows), "issued": sum(bool(r.get("issued_on")) for r in rows),
            "served": sum(bool(r.get("served_on")) for r in rows)}
