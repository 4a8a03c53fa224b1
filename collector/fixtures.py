"""The attachments count (附属物清点) on the household page: the counted items priced by the
rules' list, a form to add one and a button to withdraw one (supervisors). The rules live in
registry/compensation/fixtures.py; this view parses the form and renders.
"""

from __future__ import annotations

from decimal import Decimal

from anju.registry.compensation import calculation as comp
from anju.registry.compensation import fixtures as fx
from anju.registry.core.store import Registry, StoreError
from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from .auth import has_role, role_required
from .db import get_registry, live_household
from .dossier import panel
from .i18n import _

bp = Blueprint("fixtures", __name__)


@panel
def fixtures_panel(reg: Registry, household: dict):
    """The attachments count box of a household's page."""
    if not has_role("supervisor") or household.get("deleted") \
            or "fixture" not in reg.definition.records:
        return None
    try:
        prices = fx.price_list(reg)
        rows = fx.priced(reg, household["id"])
    except comp.RulesError:
        return None  # the compensation box says the rules are invalid
    if not prices and not rows:
        return None
    total = sum((r["amount"] for r in rows if r["amount"] is not None), Decimal("0.00"))
    return render_template("compensation/_fixtures.html", household=household, rows=rows,
                           prices=prices, total=total, money=comp.money, num=comp.num,
                           units=comp.ATTACHMENT_UNITS)


def _back(household_id: str):
    return redirect(url_for("dossier.show", household_id=household_id) + "#fixtures")


@bp.route("/households/<household_id>/fixtures", methods=("POST",))
@role_required("supervisor")
def add(household_id: str):
    """Add a counted item, or (with withdraw=ID) withdraw one."""
    reg = get_registry()
    live_household(reg, household_id)
    form = request.form
    try:
        if form.get("withdraw"):
            fx.withdraw_fixture(reg, household_id, form["withdraw"],
                                reason=form.get("reason", ""), by=g.user["name"])
            done = _("已撤销该清点记录")
        else:
            fx.record_fixture(reg, household_id, item_code=form.get("item_code", ""),
                              quantity=form.get("quantity", ""), note=form.get("note"),
                              by=g.user["name"])
            done = _("已登记附属物")
    except fx.FixtureError as exc:
        flash(_("未登记:") + str(exc))
    except StoreError as exc:
        text = str(exc)
        flash(_("未登记:") + (text if "无权" in text else
                                                _("数据有误,请检查各项")))
    else:
        flash(done)
    return _back(household_id)
