"""Valuation reports (评估报告, Art. 19-20 of the regulation; 建房〔2011〕77号).

A licensed firm values each house as of the value date; the report is delivered to the household,
which may ask for a review (复核评估, an objection of kind valuation_review, within 10 days of
delivery) and then an expert appraisal (鉴定). A review or appraisal that changes the figures is
a new `valuation` record with basis review/appraisal that `supersedes` the report disputed; the
old one stays visible. `valuation_in_force` is the one report nothing supersedes: the basis of
the house value in compensation (the zone price of the rules is only the fallback).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from anju.registry.core.changes import new_id
from anju.registry.core.i18n import N_
from anju.registry.core.store import Registry, transaction
from anju.registry.legal.common import (
    LegalError,
    attachment_ids,
    day,
    live_household,
    live_rows,
    maybe_day,
    move,
    not_future,
    put,
    require,
)

BASES = ("original", "review", "appraisal")
BASIS_ZH = {"original": N_("初次评估"), "review": N_("复核评估结果"),
            "appraisal": N_("专家鉴定结果")}
# Which request a result answers: a review result answers a review request, and so on.
REQUEST_OF = {"review": "valuation_review", "appraisal": "appraisal"}


def _amount(value, what: str) -> Decimal:
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, AttributeError):
        raise LegalError(f"{what}应为数字") from None
    if not number.is_finite() or number <= 0 or number > Decimal(10) ** 11:
        raise LegalError(f"{what}应为正数")
    if number != number.quantize(Decimal("0.01")):
        raise LegalError(f"{what}最多两位小数")
    return number


def record_valuation(reg: Registry, household_id: str, *, firm: str, report_no: str,
                     value_date, unit_price, total, appraiser: str, reported_on, by: str,
                     scan: str | None = None, delivered_on=None, basis: str = "original",
                     supersedes: str | None = None, result_of: str | None = None,
                     today: dt.date | None = None, record_id: str | None = None) -> str:
    """Record a valuation report of a household and return its id.

    Dates must run in order: value date ≤ report date ≤ delivery. A first report is `original`;
    while one is in force, a new report is a review or appraisal result superseding it and
    naming the request (objection) it answers. A delivery moves a household at 已公示 to 已评估.
    """
    require(reg, "valuation")
    household = live_household(reg, household_id)
    firm, report_no, appraiser = ((firm or "").strip(), (report_no or "").strip(),
                                  (appraiser or "").strip())
    if not firm or not report_no or not appraiser:
        raise LegalError("请填写评估机构、报告编号和注册估价师")
    if basis not in BASES:
        raise LegalError("报告性质应为初次评估、复核评估结果或专家鉴定结果")
    value_day = not_future(day(value_date, "价值时点"), "价值时点", today)
    report_day = not_future(day(reported_on, "出具日期"), "出具日期", today)
    if report_day < value_day:
        raise LegalError(f"出具日期({report_day})不能早于价值时点({value_day})")
    delivered = None
    if delivered_on not in (None, ""):
        delivered = not_future(day(delivered_on, "送达日期"), "送达日期", today)
        if delivered < report_day:
            raise LegalError(f"送达日期({delivered})不能早于出具日期({report_day})")
    price, amount = _amount(unit_price, "评估单价"), _amount(total, "评估总价")
    if reg.conn.execute("SELECT 1 FROM valuation WHERE report_no = ? AND deleted IS NULL",
                        (report_no,)).fetchone():
        raise LegalError(f"报告编号 {report_no} 已被使用")
    scans = attachment_ids(reg, household_id, [scan] if scan else [])
    current = valuation_in_force(reg, household_id)
    if basis == "original":
        if current:
            raise LegalError(f"这户已有评估报告 {current['report_no']};"
                             "复核或鉴定结果请按其性质录入")
        supersedes = result_of = None
    else:
        if not current or current["id"] != supersedes:
            raise LegalError("复核或鉴定结果须取代这户现行的评估报告")
        request = reg.get("objection", result_of) if result_of else None
        if (request is None or request.get("deleted") or request["household_id"] != household_id
                or request["kind"] != REQUEST_OF[basis]):
            asked = "复核评估" if basis == "review" else "鉴定"
            raise LegalError(f"{BASIS_ZH[basis]}须对应这户的{asked}申请")
        if report_day < (maybe_day(request.get("received_on")) or dt.date.min):
            raise LegalError("结果的出具日期不能早于申请日期")
    values = {"household_id": household_id, "firm": firm, "report_no": report_no,
              "value_date": value_day.isoformat(), "unit_price": str(price),
              "total": str(amount), "appraiser": appraiser, "scan": scans[0] if scans else None,
              "reported_on": report_day.isoformat(),
              "delivered_on": delivered.isoformat() if delivered else None, "basis": basis,
              "supersedes": supersedes, "result_of": result_of}
    valuation_id = record_id or new_id()
    with transaction(reg.conn):
        put(reg, "valuation", valuation_id, values, by=by, full=True)
        if delivered:
            _delivered(reg, household, report_no, by)
    return valuation_id


def _delivered(reg: Registry, household: dict, report_no: str, by: str) -> None:
    """A delivery inside the caller's transaction: 已公示 moves to 已评估; a household under
    objection will return to 已评估 rather than to 已公示 when its objections are answered."""
    if household.get("status") == "published":
        move(reg, household["id"], "valued", by=by, note=f"valuation {report_no} delivered")
    elif household.get("status") == "disputed":
        for o in live_rows(reg, "objection", household["id"]):
            if not o.get("outcome") and o.get("return_status") == "published":
                put(reg, "objection", o["id"], {"return_status": "valued"}, by=by,
                    note=f"valuation {report_no} delivered")


def deliver(reg: Registry, valuation_id: str, delivered_on, *, by: str,
            today: dt.date | None = None) -> None:
    """Record the delivery of a report to the household (once); 已公示 moves to 已评估."""
    require(reg, "valuation")
    row = reg.get("valuation", valuation_id)
    if row is None or row.get("deleted"):
        raise LegalError("没有这份评估报告")
    if row.get("delivered_on"):
        raise LegalError(f"报告 {row['report_no']} 已于 {row['delivered_on']} 送达")
    delivered = not_future(day(delivered_on, "送达日期"), "送达日期", today)
    reported = maybe_day(row.get("reported_on"))
    if reported and delivered < reported:
        raise LegalError(f"送达日期({delivered})不能早于出具日期({reported})")
    household = live_household(reg, row["household_id"])
    with transaction(reg.conn):
        put(reg, "valuation", valuation_id, {"delivered_on": delivered.isoformat()}, by=by)
        _delivered(reg, household, row["report_no"], by)


def _shape(row: dict) -> dict:
    out = dict(row)
    for name in ("unit_price", "total"):
        try:
            out[name] = Decimal(str(row[name])).quantize(Decimal("0.01"))
        except (InvalidOperation, TypeError, ValueError):
            out[name] = None
    return out


def valuations_of(reg: Registry, household_id: str) -> list[dict]:
    """One household's valuation reports, oldest first, each marked in force or superseded."""
    rows = [_shape(r) for r in live_rows(reg, "valuation", household_id)]
    superseded = {r["supersedes"]: r for r in rows if r.get("supersedes")}
    for r in rows:
        r["in_force"] = r["id"] not in superseded
        r["superseded_by"] = superseded[r["id"]]["report_no"] if r["id"] in superseded else None
        r["basis_zh"] = BASIS_ZH.get(r.get("basis"), r.get("basis") or "")
    rows.sort(key=lambda r: (r.get("reported_on") or "", r.get("created_at") or "", r["id"]))
    return rows


def valuation_in_force(reg: Registry, household_id: str) -> dict | None:
    """The valuation in force of a household (the report no other report supersedes), or None.

    The dict has the record's fields with `unit_price` and `total` as exact Decimals (yuan, two
    places), plus id, basis and delivered_on. Should two unsuperseded reports meet (recorded on
    two machines), the later report date wins here; both stay listed for review.
    """
    in_force = [r for r in valuations_of(reg, household_id) if r["in_force"]]
    return in_force[-1] if in_force else None


def all_in_force(reg: Registry) -> dict[str, dict]:
    """The valuation in force of every household that has one: {household_id: valuation}."""
    by_household: dict[str, list[dict]] = {}
    for r in live_rows(reg, "valuation"):
        by_household.setdefault(r["household_id"], []).append(r)
    out = {}
    for hid, rows in by_household.items():
        superseded = {r.get("supersedes") for r in rows}
        live = sorted((r for r in rows if r["id"] not in superseded),
                      key=lambda r: (r.get("reported_on") or "", r.get("created_at") or ""))
        if live:
            out[hid] = _shape(live[-1])
    return out
