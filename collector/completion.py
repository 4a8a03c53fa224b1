"""After the signature, on the household page: payments against the agreement in force, the
handover of the house and its demolition (supervisors). Every rule is in registry/completion;
these views parse the forms and render.
"""

from __future__ import annotations

import datetime as dt

from anju.registry.compensation import calculation as comp
from anju.registry.completion import handover as ho
from anju.registry.completion import payments as pay
from anju.registry.core.store import Registry, StoreError
from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from .auth import has_role, role_required
from .db import get_registry, live_household
from .dossier import panel
from .i18n import N_, _

bp = Blueprint("completion", __name__)
NAV = [("completion.index", N_("付款与交房"), "Payments", "supervisor")]


@bp.route("/completion")
@role_required("supervisor")
def index():
    """Per zone: agreed, paid and outstanding money; houses handed over and demolished."""
    reg = get_registry()
    zones = pay.zone_totals(reg)
    counts = ho.zone_counts(reg)
    names = sorted({z["zone"] for z in zones} | set(counts))
    by_zone = {z["zone"]: z for z in zones}
    rows = [{"zone": n, **(by_zone.get(n) or {"households": 0, "due": 0, "paid": 0,
                                               "outstanding": 0}),
             **(counts.get(n) or {"handed_over": 0, "demolished": 0})} for n in names]
    total = {k: sum(r[k] for r in rows) for k in ("households", "due", "paid", "outstanding",
                                                  "handed_over", "demolished")}
    return render_template("completion/index.html", rows=rows, total=total, money=comp.money)


@panel
def completion_panel(reg: Registry, household: dict):
    """The payments and handover box of a signed household's page."""
    if not has_role("supervisor") or household.get("deleted"):
        return None
    acct = pay.account(reg, household["id"])
    if acct.agreement_id is None:
        return None
    return render_template(
        "completion/_panel.html", household=household, account=acct,
        payments=pay.payments_of(reg, household["id"]), methods=pay.METHODS,
        handover=ho.handover_of(reg, household["id"]), today=dt.date.today().isoformat(),
        money=comp.money)


def _back(household_id: str):
    return redirect(url_for("dossier.show", household_id=household_id) + "#completion")


@bp.route("/households/<household_id>/payments", methods=("POST",))
@role_required("supervisor")
def payment(household_id: str):
    """Record a payment, or the reversal of one."""
    reg = get_registry()
    live_household(reg, household_id)
    form = request.form
    try:
        pay.record_payment(reg, household_id, amount=form.get("amount", ""),
                           paid_on=form.get("paid_on", ""), method=form.get("method", ""),
                           voucher_no=form.get("voucher_no", ""), by=g.user["name"],
                           reason=form.get("reason"), reverses=form.get("reverses") or None)
    except pay.PaymentError as exc:
        flash(_("未登记支付:") + str(exc))
    except StoreError:
        flash(_("未登记支付:数据有误,请检查各项"))
    else:
        flash(_("已登记支付"))
    return _back(household_id)


@bp.route("/households/<household_id>/handover", methods=("POST",))
@role_required("supervisor")
def handover(household_id: str):
    """Record the handover of the house, or (with demolished_on) its demolition."""
    reg = get_registry()
    live_household(reg, household_id)
    form = request.form
    try:
        if form.get("demolished_on"):
            ho.record_demolition(reg, household_id, demolished_on=form["demolished_on"],
                                 by=g.user["name"])
            done = _("已登记拆除")
        else:
            ho.record_handover(reg, household_id, handed_over_on=form.get("handed_over_on", ""),
                               utilities_cut=form.get("utilities_cut", ""),
                               keys_received=form.get("keys_received", ""), by=g.user["name"],
                               inspection_note=form.get("inspection_note"))
            done = _("已登记交房")
    except ho.HandoverError as exc:
        flash(_("未登记:") + str(exc))
    except StoreError:
        flash(_("未登记:数据有误,请检查各项"))
    else:
        flash(done)
    return _back(household_id)
