"""Visits to a household: the date, who went, the outcome (surveyed, not at home, refused), a note.

A 'surveyed' visit to a household not yet surveyed also moves it to 已登记, in the same
transaction, through the workflow's rule (registry/core/workflow.py `visit_edits`).
"""

from __future__ import annotations

from anju.registry.core import localtime
from anju.registry.core.changes import new_id
from anju.registry.core.store import InvalidEdits
from anju.registry.core.validation import localize
from anju.registry.core.workflow import visit_edits
from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from .auth import login_required
from .db import get_registry, live_household
from .drafts import resumable, saved
from .forms import fresh_or_own
from .i18n import _, label, lang

bp = Blueprint("visits", __name__)


@bp.app_context_processor
def inject_outcomes() -> dict:
    """`visit_outcomes()`: the visit outcomes as the survey definition names them."""
    def visit_outcomes() -> list[tuple[str, str]]:
        rtype = get_registry().definition.records.get("visit")
        if rtype is None or not rtype.has("outcome"):
            return []
        return [(c.value, label(c.label)) for c in rtype.field("outcome").choices]
    return {"visit_outcomes": visit_outcomes}


def _today() -> str:
    """The project's local date (Beijing by default), not the laptop clock's zone."""
    return localtime.today().isoformat()


@bp.route("/households/<household_id>/visits/new", methods=("GET", "POST"))
@login_required
def new(household_id: str):
    """Record a visit to a household."""
    reg = get_registry()
    household = live_household(reg, household_id)
    today = _today()
    if request.method == "GET":
        return render_template("households/visit.html", h=household, today=today,
                               visit_id=new_id())
    values = {"visit_date": request.form.get("visit_date", ""),
              "outcome": request.form.get("outcome", ""),
              "note": request.form.get("note", ""),
              "surveyor": g.user["name"], "household_id": household_id}
    # a repeated post saves the same visit again, not a second one
    visit_id = fresh_or_own(reg, request.form.get("visit_id", ""), "visit", household_id)
    edits = visit_edits(reg, household_id, visit_id, values)
    try:
        reg.save_many(edits, by=g.user["name"], full=False)
    except InvalidEdits as exc:
        errors = exc.by_record.get(visit_id, (None, exc.errors))[1]
    else:
        saved(f"visit:{household_id}")
        flash(_("已保存走访记录"), "at-visits")  # shown where #visits scrolls
        return redirect(url_for("dossier.show", household_id=household_id) + "#visits")
    shown = {**values, "visit_id": visit_id}
    return render_template("households/visit.html", h=household, today=today,
                           visit_values=shown, visit_errors=localize(errors, lang())), 422


@resumable("visits.new")
def render_posted(values, household_id: str):
    """The visit form again, filled in with posted values (after a re-login)."""
    reg = get_registry()
    household = live_household(reg, household_id)
    shown = {k: values.get(k, "") for k in ("visit_date", "outcome", "note")}
    shown["visit_id"] = fresh_or_own(reg, values.get("visit_id", ""), "visit", household_id)
    return render_template("households/visit.html", h=household, today=_today(),
                           visit_values=shown, visit_errors={})
