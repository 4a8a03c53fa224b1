"""The hardship care list (困难群体帮扶) of the central office: every hardship household with
its cadre and the help planned and given; planning a help and recording it given. Rules are in
registry/completion/care.py; these views parse and render. Supervisors only: the list is
sensitive personal data and is never published.
"""

from __future__ import annotations

from anju.registry.completion import care
from anju.registry.core.localtime import today
from anju.registry.core.store import StoreError
from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from .auth import has_role, role_required
from .db import get_registry
from .dossier import panel
from .i18n import N_, _, lang

bp = Blueprint("care", __name__)
NAV = [("care.index", N_("困难帮扶"), "Hardship care", "supervisor")]


@bp.route("/care")
@role_required("supervisor")
def index():
    """The care list: overdue help first, then households with nothing planned."""
    reg = get_registry()
    household = reg.definition.record("household")
    field = household.field("hardship") if household.has("hardship") else None
    status = household.field("status")
    return render_template(
        "care/index.html", rows=care.care_list(reg), summary=care.summary(reg), kinds=care.KINDS,
        today=today().isoformat(), central=reg.meta("role") == "central",
        hardship_label=lambda v: field.choice_label(v, lang()) if field else v,
        status_label=lambda v: status.choice_label(v, lang()) if v else "")


@bp.route("/care/<household_id>/plan", methods=("POST",))
@role_required("supervisor")
def plan(household_id: str):
    """Plan a help for a hardship household."""
    reg = get_registry()
    form = request.form
    try:
        care.plan_help(reg, household_id, kind=form.get("kind", ""),
                       planned_on=form.get("planned_on", ""), cadre=form.get("cadre", ""),
                       note=form.get("note"), by=g.user["name"])
    except care.CareError as exc:
        flash(_("未登记:") + str(exc))
    except StoreError as exc:
        flash(_("未登记:") + (str(exc) if "权" in str(exc) else
                                                 _("数据有误,请检查各项")))
    else:
        flash(_("已登记帮扶计划"))
    return redirect(url_for("care.index") + f"#h-{household_id}")


@bp.route("/care/help/<help_id>/done", methods=("POST",))
@role_required("supervisor")
def done(help_id: str):
    """Record a planned help as given."""
    reg = get_registry()
    form = request.form
    try:
        care.mark_done(reg, help_id, done_on=form.get("done_on", ""), note=form.get("note"),
                       by=g.user["name"])
    except care.CareError as exc:
        flash(_("未登记:") + str(exc))
    except StoreError:
        flash(_("未登记:数据有误,请检查各项(完成日期不能晚于今天)"))
    else:
        flash(_("已登记帮扶完成"))
    return redirect(url_for("care.index") + f"#h-{form.get('household_id', '')}")


@panel
def care_panel(reg, household: dict):
    """The household page's care box (hardship households, supervisors only)."""
    if not has_role("supervisor") or household.get("deleted"):
        return None
    if not care._types(household.get("hardship")):
        return None
    return render_template("care/_panel.html", household=household, kinds=care.KINDS,
                           helps=care.helps(reg, household["id"]))
