"""Resettlement flat selection (选房) on the central registry: the flat inventory (import from
the builder's XLSX, admin edits), the selection order of each batch, and the session page that
calls households in order and records their choices. Every rule is in registry/completion
(flats, selection, settlement); these views parse the forms and render.
"""

from __future__ import annotations

import json

from anju.registry.compensation import calculation as comp
from anju.registry.completion import flats as fl
from anju.registry.completion import selection as sel
from anju.registry.core.store import StoreError
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from .auth import has_role, role_required
from .db import get_registry
from .dossier import panel
from .i18n import N_, _

bp = Blueprint("selection", __name__)
NAV = [("selection.index", N_("选房"), "Flat selection", "supervisor")]
MAX_UPLOAD = fl.MAX_BYTES


def _central_or_page():
    """The registry, or a page saying selection happens on the central registry only."""
    reg = get_registry()
    if reg.meta("role") != "central":
        return reg, (render_template(
            "message.html", title=_("选房"),
            message=_("选房只在中心库进行;本机的房源与选房结果来自中心库的同步包。")), 403)
    return reg, None


@bp.route("/selection")
@role_required("supervisor")
def index():
    """The batches and their progress, the inventory's counts, and fixing the next order."""
    reg, refused = _central_or_page()
    if refused:
        return refused
    orders = sel.orders(reg)
    chosen = sel.choices(reg)
    for o in orders:
        o["chosen"] = sum(1 for h in o["households"] if h in chosen)
    return render_template("selection/index.html", orders=orders, summary=sel.summary(reg),
                           eligible=sel.eligible(reg), rules=sel.RULES,
                           priority=reg.settings.get("selection_priority"))


@bp.route("/selection/orders", methods=("POST",))
@role_required("admin")
def fix_order():
    """Fix the order of the next batch (by signing time, or a lottery with its seed)."""
    reg, refused = _central_or_page()
    if refused:
        return refused
    form = request.form
    try:
        oid = sel.fix_order(reg, rule=form.get("rule", ""), seed=form.get("seed"),
                            witness=form.get("witness"), by=g.user["name"])
    except sel.SelectionError as exc:
        flash(_("未确定顺序:") + str(exc))
        return redirect(url_for("selection.index"))
    flash(_("已确定选房顺序"))
    return redirect(url_for("selection.session", order_id=oid))


@bp.route("/selection/orders/<order_id>")
@role_required("supervisor")
def session(order_id: str):
    """The session: the queue in order, the household called, the flats that fit it."""
    reg, refused = _central_or_page()
    if refused:
        return refused
    order = sel.get_order(reg, order_id)
    if order is None:
        abort(404)
    rows = sel.queue(reg, order)
    called = next((r for r in rows if r["choice"] is None), None)
    wanted = request.args.get("household")
    current = next((r for r in rows if r["household_id"] == wanted and r["choice"] is None),
                   called)
    flats_by_id = {f["id"]: f for f in fl.all_flats(reg)}
    offered = sel.fitting(reg, current["household_id"]) if current else []
    for r in rows:
        if r["choice"]:
            r["flat"] = flats_by_id.get(r["choice"]["flat"])
    return render_template("selection/session.html", order=order, rows=rows, called=called,
                           current=current, offered=offered, rules=sel.RULES, money=comp.money,
                           settlement_words=_settlement_words)


def _settlement_words(difference) -> str:
    if difference > 0:
        return _("被征收人应补缴差价 %(money)s 元", money=comp.money(difference))
    if difference < 0:
        return _("应向被征收人支付差价 %(money)s 元", money=comp.money(-difference))
    return _("无差价")


@bp.route("/selection/orders/<order_id>/choose", methods=("POST",))
@role_required("supervisor")
def choose(order_id: str):
    """Record the choice of a flat for a household of this order."""
    reg, refused = _central_or_page()
    if refused:
        return refused
    if sel.get_order(reg, order_id) is None:
        abort(404)
    form = request.form
    household_id = form.get("household_id", "")
    try:
        if household_id not in sel.get_order(reg, order_id)["households"]:
            raise sel.SelectionError("这户不在本批次的选房顺序中")
        if not form.get("flat_id"):
            raise sel.SelectionError("请选择一套房源")
        sel.choose(reg, household_id, form["flat_id"], by=g.user["name"],
                   out_of_turn=form.get("out_of_turn"))
    except sel.SelectionError as exc:
        flash(_("未登记选房:") + str(exc))
        return redirect(url_for("selection.session", order_id=order_id, household=household_id))
    except StoreError:
        flash(_("未登记选房:数据有误,请检查各项"))
        return redirect(url_for("selection.session", order_id=order_id, household=household_id))
    flash(_("已登记选房"))
    return redirect(url_for("selection.session", order_id=order_id) + "#queue")


@bp.route("/selection/orders/<order_id>/release", methods=("POST",))
@role_required("admin")
def release(order_id: str):
    """Undo a household's choice, with a reason; the flat is free again."""
    reg, refused = _central_or_page()
    if refused:
        return refused
    try:
        sel.release(reg, request.form.get("household_id", ""),
                    reason=request.form.get("reason", ""), by=g.user["name"])
    except sel.SelectionError as exc:
        flash(_("未撤销:") + str(exc))
    else:
        flash(_("已撤销选房,房源重新可选"))
    return redirect(url_for("selection.session", order_id=order_id) + "#queue")


@bp.route("/selection/flats")
@role_required("supervisor")
def flats():
    """The flat inventory: every flat, who chose it, the import and edit forms (admins)."""
    reg, refused = _central_or_page()
    if refused:
        return refused
    chosen = {c["flat"]: c for c in sel.choices(reg).values()}
    houses = dict(reg.conn.execute("SELECT id, house_no FROM household"))
    rows = fl.all_flats(reg)
    for f in rows:
        c = chosen.get(f["id"])
        f["chosen_by"] = houses.get(c["household_id"]) if c else None
    edit = fl.get_flat(reg, request.args.get("edit", "")) if request.args.get("edit") else None
    return render_template("selection/flats.html", flats=rows, types=fl.flat_types(reg),
                           edit=edit, columns=fl.COLUMNS, money=comp.money,
                           admin=has_role("admin"))


@bp.route("/selection/flats/import", methods=("POST",))
@role_required("admin")
def import_flats():
    """Import the builder's XLSX list: checked whole; any problem and nothing is written."""
    reg, refused = _central_or_page()
    if refused:
        return refused
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("请选择房源表文件(.xlsx)"))
        return redirect(url_for("selection.flats"))
    data = upload.read(MAX_UPLOAD + 1)
    try:
        counts = fl.import_xlsx(reg, data, by=g.user["name"])
    except fl.FlatError as exc:
        flash(str(exc))
    except StoreError:
        flash(_("房源表未导入:数据有误,请检查各项"))
    else:
        flash(_("房源表已导入:新增 %(added)s 套,修改 %(updated)s 套,未变 %(unchanged)s 套",
                added=counts['added'], updated=counts['updated'], unchanged=counts['unchanged']))
    return redirect(url_for("selection.flats"))


@bp.route("/selection/flats/save", methods=("POST",))
@role_required("admin")
def save_flat():
    """Add a flat or change one not yet chosen."""
    reg, refused = _central_or_page()
    if refused:
        return refused
    form = request.form
    values = {k: form.get(k) for k in ("building", "unit", "floor", "number", "area",
                                       "flat_type", "unit_price", "note", "withheld")}
    try:
        fl.save_flat(reg, values, by=g.user["name"], fid=form.get("flat_id") or None)
    except fl.FlatError as exc:
        flash(_("未保存房源:") + str(exc))
    except StoreError:
        flash(_("未保存房源:数据有误,请检查各项"))
    else:
        flash(_("已保存房源"))
    return redirect(url_for("selection.flats"))


@bp.route("/selection/flats/<flat_id>/remove", methods=("POST",))
@role_required("admin")
def remove_flat(flat_id: str):
    """Take a flat out of the inventory, with a reason (refused once chosen)."""
    reg, refused = _central_or_page()
    if refused:
        return refused
    try:
        fl.remove_flat(reg, flat_id, reason=request.form.get("reason", ""), by=g.user["name"])
    except fl.FlatError as exc:
        flash(_("未删除:") + str(exc))
    else:
        flash(_("已删除房源"))
    return redirect(url_for("selection.flats"))


@panel
def selection_panel(reg, household: dict):
    """The household page's selection box: its batch and place, the flat chosen and when, and
    the swap settlement recomputed from that flat beside the agreement's."""
    if not has_role("supervisor") or household.get("deleted"):
        return None
    order = next((o for o in sel.orders(reg) if household["id"] in o["households"]), None)
    if order is None:
        return None
    choice = sel.choices(reg).get(household["id"])
    flat = fl.get_flat(reg, choice["flat"]) if choice else None
    agreement = sel.agreement_in_force(reg, household["id"])
    settled = json.loads(choice["settlement"]) if choice else None
    return render_template(
        "selection/_panel.html", order=order, choice=choice, flat=flat, settled=settled,
        position=order["households"].index(household["id"]) + 1, rules=sel.RULES,
        agreed=agreement["breakdown"].difference if agreement else None,
        money=comp.money, settlement_words=_settlement_words)
