"""Status moves along the workflow, and tombstoning a household with a reason (supervisors).

The rule of which moves are allowed lives in registry.workflow, shared with the central office
and compensation screens. Surveyors may record that a household was surveyed; every other move,
and deleting a household, needs a supervisor.
"""

from __future__ import annotations

from anju.registry.core.store import StoreError
from anju.registry.core.workflow import WorkflowError, allowed_moves
from anju.registry.core.workflow import move as move_status
from anju.registry.legal.path import bare_move_refused
from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from .auth import has_role, login_required, role_required
from .db import get_registry, live_household
from .i18n import _, lang

bp = Blueprint("workflow", __name__)

SURVEYOR_MOVES = frozenset({"surveyed"})


@bp.route("/households/<household_id>/status", methods=("POST",))
@login_required
def move(household_id: str):
    """Move a household to the status chosen among the allowed moves."""
    reg = get_registry()
    household = live_household(reg, household_id)
    new_status = request.form.get("status", "")
    current = household.get("status") or "unsurveyed"
    status = reg.definition.record("household").field("status")
    if new_status not in SURVEYOR_MOVES and not has_role("supervisor"):
        return render_template("forbidden.html"), 403
    if new_status == "signed":
        return redirect(url_for("compensation.agreement", household_id=household_id))
    if new_status in ("handed_over", "demolished"):  # these follow the handover record
        return redirect(url_for("dossier.show", household_id=household_id) + "#completion")
    refused = bare_move_refused(reg, household, new_status)
    if refused:  # 已公示, 已评估, 异议中, 补偿决定 follow from the lawful path's records
        flash(refused, "error")
        return redirect(url_for("dossier.show", household_id=household_id) + "#legal")
    try:
        if new_status not in allowed_moves(current):
            raise WorkflowError(new_status)
        move_status(reg, household_id, new_status, by=g.user["name"])
    except WorkflowError:
        flash(_("不能从「%(current)s」改为「%(new)s」",
                current=status.choice_label(current, lang()),
                new=status.choice_label(new_status, lang())))
        return redirect(url_for("dossier.show", household_id=household_id))
    flash(_("状态已改为「%(choice_label)s」", choice_label=status.choice_label(new_status, lang())))
    return redirect(url_for("dossier.show", household_id=household_id))


@bp.route("/households/<household_id>/delete", methods=("POST",))
@role_required("supervisor")
def delete(household_id: str):
    """Tombstone a household with a reason (it stays in the change log and its history)."""
    reg = get_registry()
    household = live_household(reg, household_id)
    reason = (request.form.get("reason") or "").strip()[:500]
    if not reason:
        flash(_("删除必须填写原因"))
        return redirect(url_for("dossier.show", household_id=household_id))
    try:
        reg.delete("household", household_id, reason=reason, by=g.user["name"])
    except StoreError:
        flash(_("未能删除：已签约的住户不能删除，删除还必须填写原因。"))
        return redirect(url_for("dossier.show", household_id=household_id))
    flash(_("已删除住户 %(house_no)s", house_no=household.get('house_no')))
    return redirect(url_for("households.index"))
