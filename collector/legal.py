"""The lawful path on the central office's screens: publication rounds, the objection queue,
valuation reports, compensation decisions and their printable A4 document.

Every rule lives in registry/legal; these views parse forms and render. The household page gets
a box (a dossier panel) listing the steps of its lawful path in order, with the forms to record
the next one.
"""

from __future__ import annotations

import datetime as dt

from anju.registry.compensation import calculation as comp
from anju.registry.core.store import Registry, StoreError
from anju.registry.legal import decisions, objections, rounds, valuations
from anju.registry.legal.common import LegalError, supported
from anju.registry.legal.path import LABELS, counts, timeline
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from .auth import has_role, role_required
from .compensation import FORMATS  # one way to print money, areas and settlements
from .db import get_registry, live_household
from .dossier import panel
from .i18n import N_, _

bp = Blueprint("legal", __name__)
NAV = [("legal.index", N_("依法征收"), "Lawful path", "supervisor")]


def objection_summary() -> dict | None:
    """Open and overdue objections, for the review queue's figures (None without the records)."""
    reg = get_registry()
    if not supported(reg, "objection"):
        return None
    return objections.counts(reg)


@bp.app_context_processor
def helpers() -> dict:
    return {"objection_summary": objection_summary}


@panel
def legal_panel(reg: Registry, household: dict):
    """The lawful-path box of the household page: its steps in order and the next forms."""
    if (not has_role("supervisor") or household.get("deleted")
            or not supported(reg, "objection")):
        return None
    hid = household["id"]
    today = dt.date.today()
    return render_template(
        "legal/_panel.html", household=household, steps=timeline(reg, hid, today),
        objections=objections.objections_of(reg, hid, today),
        valuations=valuations.valuations_of(reg, hid),
        in_force=valuations.valuation_in_force(reg, hid),
        rounds=rounds.rounds_of(reg, hid, today), decisions=decisions.decisions_of(reg, hid),
        why_not=decisions.why_not(reg, household, today), kinds=objections.KIND_ZH,
        outcomes=objections.OUTCOME_ZH, today=today.isoformat(),
        attachments=reg.children("attachment", hid), **FORMATS)


@bp.route("/legal")
@role_required("supervisor")
def index():
    """Overview: the figures, every round, the open objections (overdue first), decisions."""
    reg = get_registry()
    if not supported(reg, "objection"):
        return render_template("message.html", title=_("依法征收"),
                               message=_("此登记库的调查表没有依法征收的记录类型,"
                                         "请用新版调查表建库")), 409
    today = dt.date.today()
    return render_template(
        "legal/index.html", figures=counts(reg, today), labels=LABELS,
        rounds=rounds.rounds(reg, today), queue=objections.queue(reg, today),
        eligible=decisions.eligible(reg, today), decisions=decisions.all_decisions(reg),
        houses=reg.house_numbers(),
        today=today.isoformat(), **FORMATS)


def _done(household_id: str, message: tuple[str, str]):
    flash(_(message[0]))
    return redirect(url_for("dossier.show", household_id=household_id) + "#legal")


def _failed(household_id: str, exc: StoreError):
    # Only the lawful path's own refusals are worded for people (Chinese); anything else the
    # store raises is shown as a plain request to check the values, never its English text.
    flash(str(exc) if isinstance(exc, LegalError) else
          _("未能记录：数据有误，请检查各项"), "error")
    return redirect(url_for("dossier.show", household_id=household_id) + "#legal")


def _form(*names: str) -> dict:
    return {n: (request.form.get(n) or "").strip() for n in names}


@bp.post("/legal/households/<household_id>/objection")
@role_required("supervisor")
def add_objection(household_id: str):
    """Record an objection of the household."""
    reg = get_registry()
    live_household(reg, household_id)
    f = _form("kind", "against", "field", "received_on", "received_by", "disputed")
    try:
        objections.record_objection(reg, household_id, kind=f["kind"], against=f["against"] or None,
                                    field=f["field"] or None, received_on=f["received_on"],
                                    received_by=f["received_by"] or None, disputed=f["disputed"],
                                    evidence=request.form.getlist("evidence"), by=g.user["name"])
    except StoreError as exc:
        return _failed(household_id, exc)
    return _done(household_id, (N_("异议已记录"), "Objection recorded"))


@bp.post("/legal/objections/<objection_id>/answer")
@role_required("supervisor")
def answer_objection(objection_id: str):
    """Record the office's reply to an objection and its outcome."""
    reg = get_registry()
    row = reg.get("objection", objection_id) if supported(reg, "objection") else None
    if row is None:
        abort(404)
    f = _form("reply", "outcome", "replied_on")
    try:
        objections.answer(reg, objection_id, reply=f["reply"], outcome=f["outcome"],
                          replied_on=f["replied_on"], by=g.user["name"])
    except StoreError as exc:
        return _failed(row["household_id"], exc)
    return _done(row["household_id"], (N_("答复已记录"), "Reply recorded"))


@bp.post("/legal/households/<household_id>/valuation")
@role_required("supervisor")
def add_valuation(household_id: str):
    """Record a valuation report (a first one, or a review or appraisal result)."""
    reg = get_registry()
    live_household(reg, household_id)
    f = _form("firm", "report_no", "value_date", "unit_price", "total", "appraiser",
              "reported_on", "delivered_on", "scan", "basis", "supersedes", "result_of")
    try:
        valuations.record_valuation(
            reg, household_id, firm=f["firm"], report_no=f["report_no"],
            value_date=f["value_date"], unit_price=f["unit_price"], total=f["total"],
            appraiser=f["appraiser"], reported_on=f["reported_on"],
            delivered_on=f["delivered_on"] or None, scan=f["scan"] or None,
            basis=f["basis"] or "original", supersedes=f["supersedes"] or None,
            result_of=f["result_of"] or None, by=g.user["name"])
    except StoreError as exc:
        return _failed(household_id, exc)
    return _done(household_id, (N_("评估报告已记录"), "Valuation report recorded"))


@bp.post("/legal/valuations/<valuation_id>/deliver")
@role_required("supervisor")
def deliver_valuation(valuation_id: str):
    """Record the delivery of a valuation report to the household."""
    reg = get_registry()
    row = reg.get("valuation", valuation_id) if supported(reg, "valuation") else None
    if row is None:
        abort(404)
    try:
        valuations.deliver(reg, valuation_id, request.form.get("delivered_on"),
                           by=g.user["name"])
    except StoreError as exc:
        return _failed(row["household_id"], exc)
    return _done(row["household_id"], (N_("送达已记录"), "Delivery recorded"))


@bp.post("/legal/households/<household_id>/decision")
@role_required("supervisor")
def draft_decision(household_id: str):
    """Draft a compensation decision (its breakdown frozen on the drafting date)."""
    reg = get_registry()
    live_household(reg, household_id)
    f = _form("number", "mode", "drafted_on")
    try:
        decisions.draft(reg, household_id, number=f["number"], mode=f["mode"],
                        drafted_on=f["drafted_on"], by=g.user["name"])
    except StoreError as exc:
        return _failed(household_id, exc)
    return _done(household_id, (N_("补偿决定已拟定"), "Decision drafted"))


@bp.post("/legal/decisions/<decision_id>/<step>")
@role_required("supervisor")
def decision_step(decision_id: str, step: str):
    """Record that a decision was issued (作出) or served (送达)."""
    reg = get_registry()
    row = (reg.get("compensation_decision", decision_id)
           if supported(reg, "compensation_decision") else None)
    if row is None or step not in ("issue", "serve"):
        abort(404)
    fn = decisions.issue if step == "issue" else decisions.serve
    try:
        fn(reg, decision_id, request.form.get("on"), by=g.user["name"])
    except StoreError as exc:
        return _failed(row["household_id"], exc)
    return _done(row["household_id"], (N_("已记录"), "Recorded"))


@bp.route("/legal/households/<household_id>/decision")
@role_required("supervisor")
def decision_document(household_id: str):
    """The printable A4 compensation decision: a recorded one (?decision=ID) or a draft."""
    reg = get_registry()
    live_household(reg, household_id)
    decision_id = request.args.get("decision") or None
    mode = request.args.get("mode") or None
    try:
        doc = decisions.document(reg, household_id, decision_id=decision_id, mode=mode)
    except StoreError as exc:
        return render_template("message.html", title=_("补偿决定"),
                               message=str(exc)), 409
    return render_template("legal/decision.html", d=doc, h=doc["household"],
                           structure=comp.STRUCTURE_ZH, **FORMATS)
