"""The lawful path of one household as a dated sequence, and the counts progress reports show.

`timeline` gathers every step recorded for a household (rounds it was published in, valuation
reports and their delivery, objections and replies, decisions drafted, issued and served) in the
order they happened, each with who recorded it and when, for the household page (一户一档).
"""

from __future__ import annotations

import datetime as dt

from anju.registry.compensation.calculation import money
from anju.registry.core.store import Registry
from anju.registry.legal import decisions, objections, rounds, valuations
from anju.registry.legal.common import live_rows


def _event(on, what: str, detail: str, row: dict, kind: str) -> dict:
    return {"on": on or "", "what": what, "detail": detail, "kind": kind,
            "by": row.get("updated_by") or row.get("created_by") or "",
            "at": row.get("created_at") or "", "id": row.get("id")}


def timeline(reg: Registry, household_id: str, today: dt.date | None = None) -> list[dict]:
    """Every step of a household's lawful path, oldest first: {on, what, detail, kind, by}."""
    events = []
    for r in rounds.rounds_of(reg, household_id, today):
        events.append(_event(r["start_on"], f"第{r['number']}轮 {r['kind_zh']}",
                             f"{r['start_on']} 至 {r['end_on']},共 {r['count']} 户"
                             + (f";发布文件摘要 {r['public_digest'][:16]}…"
                                if r.get("public_digest") else ""), r, "round"))
    for v in valuations.valuations_of(reg, household_id):
        state = "现行" if v["in_force"] else f"已被 {v['superseded_by']} 取代"
        events.append(_event(v["reported_on"], f"评估报告 {v['report_no']}({v['basis_zh']})",
                             f"{v['firm']};价值时点 {v['value_date']};单价 "
                             f"{money(v['unit_price'])} 元/㎡;总价 {money(v['total'])} 元;"
                             f"估价师 {v['appraiser']};{state}",
                             v, "valuation"))
        if v.get("delivered_on"):
            events.append(_event(v["delivered_on"], f"评估报告 {v['report_no']} 送达", "", v,
                                 "delivery"))
    for o in objections.objections_of(reg, household_id, today):
        late = ";逾期提出" if o["late"] else ""
        events.append(_event(o["received_on"], o["kind_zh"],
                             f"{o['disputed']};答复期限 {o['reply_due']}{late}", o,
                             "objection"))
        if o.get("replied_on"):
            events.append(_event(o["replied_on"], f"答复:{o['outcome_zh']}", o.get("reply") or "",
                                 o, "reply"))
    for d in decisions.decisions_of(reg, household_id):
        total = f";补偿合计 {money(d['total'])} 元" if d.get("total") is not None else ""
        events.append(_event(d["drafted_on"], f"拟定补偿决定 {d['number']}", total.lstrip(";"),
                             d, "decision"))
        if d.get("issued_on"):
            events.append(_event(d["issued_on"], f"作出补偿决定 {d['number']}", "", d, "issued"))
        if d.get("served_on"):
            events.append(_event(d["served_on"], f"送达补偿决定 {d['number']}",
                                 f"行政复议至 {d['review_until']};行政诉讼至 "
                                 f"{d['litigation_until']}", d, "served"))
    order = {k: i for i, k in enumerate(("round", "valuation", "delivery", "objection", "reply",
                                         "decision", "issued", "served"))}
    events.sort(key=lambda e: (e["on"], order[e["kind"]], e["at"]))
    return events


def counts(reg: Registry, today: dt.date | None = None) -> dict[str, int]:
    """The lawful path in figures, for the progress page and the 日报."""
    out = {f"objections_{k}": v for k, v in objections.counts(reg, today).items()}
    in_force = valuations.all_in_force(reg)
    out["valuations_delivered"] = sum(bool(v.get("delivered_on")) for v in in_force.values())
    out["valuations_under_review"] = sum(
        1 for o in objections.open_objections(reg)
        if o["kind"] in ("valuation_review", "appraisal"))
    out["valuations_reviewed"] = sum(1 for v in live_rows(reg, "valuation")
                                     if v.get("basis") in ("review", "appraisal"))
    out.update({f"decisions_{k}": v for k, v in decisions.counts(reg).items()})
    out["decisions_eligible"] = decisions.eligible_count(reg, today)
    out["rounds"] = len(rounds.rounds(reg, today))
    return out


LABELS = {
    "rounds": "公示轮次", "objections_open": "异议待答复", "objections_overdue": "异议逾期未答复",
    "objections_answered": "异议已答复", "objections_late": "逾期提出的异议",
    "valuations_delivered": "评估报告已送达", "valuations_under_review": "复核/鉴定中",
    "valuations_reviewed": "复核/鉴定结果", "decisions_eligible": "可作补偿决定",
    "decisions_drafted": "补偿决定已拟定", "decisions_issued": "补偿决定已作出",
    "decisions_served": "补偿决定已送达",
}


# Statuses that the lawful path's own records set: in the web app they are not a bare button.
BY_RECORD = {
    "published": "“已公示”由公示轮次产生(anju publish --round survey),不能直接改",
    "valued": "“已评估”由评估报告送达产生,请在“依法征收程序”栏记录评估报告",
    "disputed": "“异议中”由记录异议产生,请在“依法征收程序”栏记录异议",
    "decision": "“补偿决定”由作出补偿决定产生,请在“依法征收程序”栏拟定并作出",
}


def bare_move_refused(reg: Registry, household: dict, new_status: str) -> str | None:
    """Why a status button may not make this move (the lawful path makes it), or None.

    Registries whose survey lacks the lawful-path records keep the bare moves. A household
    under an open objection leaves 异议中 only by the answer to it.
    """
    if "publication_round" not in reg.definition.records:
        return None
    if new_status in BY_RECORD:
        return BY_RECORD[new_status]
    if household.get("status") == "disputed" and objections.open_objections(reg,
                                                                             household["id"]):
        return "有未答复的异议:答复后住户自动恢复原状态"
    return None
