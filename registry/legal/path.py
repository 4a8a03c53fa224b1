"""The lawful path of one household as a dated sequence, and the counts progress reports show.

`timeline` gathers every step recorded for a household (rounds it was published in, valuation
reports and their delivery, objections and replies, decisions drafted, issued and served) in the
order they happened, each with who recorded it and when, for the household page (一户一档).
"""

from __future__ import annotations

import datetime as dt

from anju.registry.compensation.calculation import money
from anju.registry.core.i18n import N_, Term
from anju.registry.core.store import Registry
from anju.registry.legal import decisions, objections, rounds, valuations
from anju.registry.legal.common import live_rows

# A phrase is (msgid, arguments): the Chinese msgid with %(name)s placeholders, kept apart from
# its arguments so the web app renders it in the reader's language; `zh` renders it in Chinese
# for the CLI and the tests. A plain str in a detail list is data (an objection's text).
Phrase = tuple[str, dict]


def zh(phrase: Phrase | str) -> str:
    """A phrase (or data) in Chinese: the msgid with its arguments filled in."""
    if isinstance(phrase, str):
        return phrase
    msgid, args = phrase
    return msgid % args if args else msgid


def _event(on, what: Phrase, details: list, row: dict, kind: str) -> dict:
    """One step: `what`/`detail` in Chinese, `what_phrase`/`detail_phrases` for translation."""
    details = [d for d in details if d]
    return {"on": on or "", "what": zh(what), "detail": ";".join(zh(d) for d in details),
            "what_phrase": what, "detail_phrases": details, "kind": kind,
            "by": row.get("updated_by") or row.get("created_by") or "",
            "at": row.get("created_at") or "", "id": row.get("id")}


def timeline(reg: Registry, household_id: str, today: dt.date | None = None) -> list[dict]:
    """Every step of a household's lawful path, oldest first: {on, what, detail, kind, by}."""
    events = []
    for r in rounds.rounds_of(reg, household_id, today):
        events.append(_event(
            r["start_on"], (N_("第%(number)s轮 %(kind)s"),
                            {"number": r["number"], "kind": Term(r["kind_zh"])}),
            [(N_("%(start)s 至 %(end)s,共 %(count)s 户"),
              {"start": r["start_on"], "end": r["end_on"], "count": r["count"]}),
             (N_("发布文件摘要 %(digest)s…"), {"digest": r["public_digest"][:16]})
             if r.get("public_digest") else None], r, "round"))
    for v in valuations.valuations_of(reg, household_id):
        state = ((N_("现行"), {}) if v["in_force"] else
                 (N_("已被 %(other)s 取代"), {"other": v["superseded_by"]}))
        events.append(_event(
            v["reported_on"], (N_("评估报告 %(report_no)s(%(basis)s)"),
                               {"report_no": v["report_no"], "basis": Term(v["basis_zh"])}),
            [v["firm"], (N_("价值时点 %(date)s"), {"date": v["value_date"]}),
             (N_("单价 %(price)s 元/㎡"), {"price": money(v["unit_price"])}),
             (N_("总价 %(total)s 元"), {"total": money(v["total"])}),
             (N_("估价师 %(appraiser)s"), {"appraiser": v["appraiser"]}), state],
            v, "valuation"))
        if v.get("delivered_on"):
            events.append(_event(v["delivered_on"], (N_("评估报告 %(report_no)s 送达"),
                                                     {"report_no": v["report_no"]}), [], v,
                                 "delivery"))
    for o in objections.objections_of(reg, household_id, today):
        events.append(_event(
            o["received_on"], (N_("%(kind)s"), {"kind": Term(o["kind_zh"])}),
            [o["disputed"] or "", (N_("答复期限 %(due)s"), {"due": o["reply_due"]}),
             (N_("逾期提出"), {}) if o["late"] else None], o, "objection"))
        if o.get("replied_on"):
            events.append(_event(o["replied_on"], (N_("答复:%(outcome)s"),
                                                   {"outcome": Term(o["outcome_zh"])}),
                                 [o.get("reply") or ""], o, "reply"))
    for d in decisions.decisions_of(reg, household_id):
        total = ((N_("补偿合计 %(total)s 元"), {"total": money(d["total"])})
                 if d.get("total") is not None else None)
        number = {"number": d["number"]}
        events.append(_event(d["drafted_on"], (N_("拟定补偿决定 %(number)s"), number), [total],
                             d, "decision"))
        if d.get("issued_on"):
            events.append(_event(d["issued_on"], (N_("作出补偿决定 %(number)s"), number), [],
                                 d, "issued"))
        if d.get("served_on"):
            events.append(_event(d["served_on"], (N_("送达补偿决定 %(number)s"), number),
                                 [(N_("行政复议至 %(until)s"), {"until": d["review_until"]}),
                                  (N_("行政诉讼至 %(until)s"), {"until": d["litigation_until"]})],
                                 d, "served"))
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
    "rounds": N_("公示轮次"), "objections_open": N_("异议待答复"),
    "objections_overdue": N_("异议逾期未答复"),
    "objections_answered": N_("异议已答复"), "objections_late": N_("逾期提出的异议"),
    "valuations_delivered": N_("评估报告已送达"), "valuations_under_review": N_("复核/鉴定中"),
    "valuations_reviewed": N_("复核/鉴定结果"), "decisions_eligible": N_("可作补偿决定"),
    "decisions_drafted": N_("补偿决定已拟定"), "decisions_issued": N_("补偿决定已作出"),
    "decisions_served": N_("补偿决定已送达"),
}


# Statuses that the lawful path's own records set: in the web app they are not a bare button.
BY_RECORD = {
    "published": N_("“已公示”由公示轮次产生(anju publish --round survey),不能直接改"),
    "valued": N_("“已评估”由评估报告送达产生,请在“依法征收程序”栏记录评估报告"),
    "disputed": N_("“异议中”由记录异议产生,请在“依法征收程序”栏记录异议"),
    "decision": N_("“补偿决定”由作出补偿决定产生,请在“依法征收程序”栏拟定并作出"),
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
        return N_("有未答复的异议:答复后住户自动恢复原状态")
    return None
