"""Compensation screens: the rules editor (admin), the breakdown box on the household page,
recording an agreement or an amendment, the printable A4 notice of a household, and the zone
lists for public posting (masked names) as printable pages and XLSX.

All figures come from registry.compensation / registry.agreements; nothing is computed here.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from anju.registry.compensation import agreements as ag
from anju.registry.compensation import amounts, lists
from anju.registry.compensation import calculation as comp
from anju.registry.compensation import rules as rules_mod
from anju.registry.compensation.preview import preview as rules_preview
from anju.registry.completion import rewards
from anju.registry.core.store import Registry, StoreError
from anju.registry.core.workflow import allowed_moves
from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for

from .auth import has_role, role_required
from .db import get_registry, live_household
from .dossier import panel
from .i18n import N_, _, lang

bp = Blueprint("compensation", __name__)
NAV = [("compensation.index", N_("补偿"), "Compensation", "supervisor")]
# How amounts, rates and areas are printed, for every template of this module.
FORMATS = {"money": amounts.yuan, "num": comp.num, "sq": comp.sq,
           "settlement": amounts.settlement_words, "settlement_capital": amounts.settlement_capital,
           "capital": amounts.capital}


def _rules(reg: Registry) -> tuple[comp.Rules | None, str | None]:
    """The project's rules, or None and the reason they cannot be used."""
    try:
        return comp.rules_of(reg), None
    except comp.RulesError as exc:
        return None, exc.text(lang())


def estimates(reg: Registry, rules: comp.Rules, household: dict,
              on: dt.date) -> list[comp.Breakdown]:
    """The money and swap breakdowns of a household if it signed on `on`."""
    valuation = comp.valuation_of(reg, household["id"], on)
    fixtures = comp.fixtures_of(reg, household["id"])
    return [comp.calculate(rules, household, mode, on, settings=reg.settings,
                           valuation=valuation, fixtures=fixtures) for mode in comp.MODES]


def can_sign(household: dict) -> bool:
    """Whether an agreement may be recorded: the workflow lets the household move to 已签约, or
    it is past that stage without one (a paper agreement entered late)."""
    return ("signed" in allowed_moves(household.get("status"))
            or household.get("status") in ag.SIGNED)


@panel
def breakdown_panel(reg: Registry, household: dict):
    """The compensation box of the household page (supervisors and admins)."""
    if not has_role("supervisor") or household.get("deleted"):
        return None
    rules, error = _rules(reg)
    agreements = ag.agreements_of(reg, household["id"])
    today = dt.date.today()
    after = {a["id"]: rewards.after_handover(reg, a) for a in agreements if a["in_force"]}
    return render_template(
        "compensation/_breakdown.html", household=household, rules=rules, rules_error=error,
        rules_stored=comp.rules_are_stored(reg), agreements=agreements, after=after,
        estimates=[] if agreements or rules is None else estimates(reg, rules, household, today),
        today=today.isoformat(), can_sign=can_sign(household) and ag.supported(reg),
        **FORMATS)


@bp.route("/compensation")
@role_required("supervisor")
def index():
    """Overview: the rules in use, and each zone's list with its signed total."""
    reg = get_registry()
    rules, error = _rules(reg)
    zone_lists = [lists.zone_list(reg, z) for z in lists.zones(reg)]
    return render_template("compensation/index.html", rules=rules, rules_error=error,
                           rules_stored=comp.rules_are_stored(reg), zone_lists=zone_lists,
                           missing=comp.missing_zones(reg, rules) if rules else [],
                           **FORMATS)


@bp.route("/compensation/rules", methods=("GET", "POST"))
@role_required("admin")
def rules_editor():
    """Edit the project's rules as YAML; invalid rules are refused, naming key and problem."""
    reg = get_registry()
    problems = []
    tried = None
    house_no = request.form.get("house_no", "").strip()[:40]
    if request.method == "POST" and request.form.get("action") == "preview":
        text = request.form.get("rules", "").replace("\r\n", "\n")
        try:  # try the rules on a sample household; nothing is saved
            tried = rules_preview(reg, text, house_no)
        except comp.RulesError as exc:
            problems = exc.lines(lang())
    elif request.method == "POST":
        text = request.form.get("rules", "").replace("\r\n", "\n")
        try:
            stored = comp.set_rules(reg, text, by=g.user["name"])
        except comp.RulesError as exc:
            problems = exc.lines(lang())
        else:
            flash(_("补偿方案已保存:%(name)s(版本 %(version)s)",
                    name=stored.name, version=stored.version))
            return redirect(url_for("compensation.rules_editor"))
    else:
        text = reg.meta(comp.META_KEY) or comp.default_rules_text()
    warnings = []
    if not problems:
        try:
            current = comp.parse_rules(text, reg.definition)
        except comp.RulesError as exc:
            problems = exc.lines(lang())
        else:
            warnings = rules_mod.warning_text(
                rules_mod.rule_warnings(current, reg.definition, reg.settings), lang())
    return render_template("compensation/rules.html", text=text, problems=problems,
                           warnings=warnings, versions=rules_mod.versions(reg),
                           rules_stored=comp.rules_are_stored(reg), tried=tried,
                           house_no=house_no, **FORMATS), (
        400 if request.method == "POST" and problems else 200)


@bp.route("/compensation/households/<household_id>/agreement", methods=("GET", "POST"))
@role_required("supervisor")
def agreement(household_id: str):
    """Record an agreement (or, with ?amends=ID, an amendment): preview, then sign."""
    reg = get_registry()
    household = live_household(reg, household_id)
    rules, error = _rules(reg)
    if rules is None:
        return render_template("message.html", title=_("补偿方案有误"),
                               message=error), 409
    existing = ag.agreements_of(reg, household_id)
    amends = request.values.get("amends") or None
    old = next((a for a in existing if a["id"] == amends), None)
    if amends and old is None:
        abort(404)
    form = {"number": "", "signed_on": dt.date.today().isoformat(),
            "mode": old["mode"] if old else (household.get("compensation_mode") or "money"),
            "flat": "", "flat2": "", "transition_flat": False, "reason": ""}
    if old is None and not existing:
        form["number"] = ag.propose_number(reg, household)
    elif old is not None:
        form["number"] = ag.propose_number(reg, household, old, len(existing))
    preview, problem = None, None
    if request.method == "POST":
        form.update({k: request.form.get(k, "").strip() for k in
                     ("number", "signed_on", "mode", "flat", "flat2", "reason")})
        form["transition_flat"] = bool(request.form.get("transition_flat"))
        options = {"flat": form["flat"] or None if form["mode"] == "swap" else None,
                   "transition_flat": form["transition_flat"]}
        if form["mode"] == "swap" and form["flat2"]:  # two flats for one house
            if not form["flat"]:
                problem = _("选第二套安置房前,请先选定第一套")
            options["flats"] = [form["flat"] or form["flat2"], form["flat2"]]
        if request.form.get("action") == "sign" and not problem:
            try:
                ag.record_agreement(reg, household_id, number=form["number"],
                                    signed_on=form["signed_on"], mode=form["mode"],
                                    by=g.user["name"], amends=amends, reason=form["reason"],
                                    **options)
            except StoreError as exc:
                problem = str(exc)
            else:
                flash(_("协议 %(number)s 已记录", number=form['number']))
                return redirect(url_for("dossier.show", household_id=household_id))
        try:
            day = dt.date.fromisoformat(form["signed_on"])
            if form["mode"] not in comp.MODES:
                raise ValueError
            preview = ag.preview(reg, household_id, signed_on=day.isoformat(),
                                 mode=form["mode"], amends=amends, **options)
        except StoreError as exc:
            problem = problem or str(exc)
        except ValueError:
            problem = problem or _("请填写正确的签约日期和补偿方式")
    blocked = None
    if not ag.supported(reg):
        blocked = _("此登记库的调查表没有协议记录类型")
    elif any(a["disputed"] for a in existing):
        blocked = _("这户有两份以上协议待核定,须由主管核定保留哪一份")
    elif old is None and existing and any(a["in_force"] for a in existing):
        blocked = _("这户已有协议;如需更改,请签订变更协议")
    elif old is None and not can_sign(household):
        blocked = _("当前状态不能签约(须为已评估或补偿决定)")
    elif old is not None and not old["in_force"]:
        blocked = _("该协议已被变更,请变更现行协议")
    return render_template("compensation/agreement.html", household=household, form=form,
                           old=old, flats=rules.data["flats"], preview=preview,
                           problem=problem, blocked=blocked, **FORMATS), (400 if problem else 200)


@bp.route("/compensation/households/<household_id>/settle", methods=("POST",))
@role_required("supervisor")
def settle(household_id: str):
    """Settle a double agreement: keep one agreement in force, set the others aside."""
    reg = get_registry()
    live_household(reg, household_id)
    try:
        ag.settle(reg, household_id, request.form.get("keep", ""),
                  request.form.get("reason", ""), by=g.user["name"])
    except ag.AgreementError as exc:  # worded for people (Chinese)
        flash(str(exc))
        return redirect(url_for("dossier.show", household_id=household_id)), 303
    except StoreError:
        flash(_("未能核定:数据有误,请检查各项"))
        return redirect(url_for("dossier.show", household_id=household_id)), 303
    flash(_("已核定双重协议"))
    return redirect(url_for("dossier.show", household_id=household_id))


@bp.route("/compensation/households/<household_id>/notice")
@role_required("supervisor")
def notice(household_id: str):
    """The printable A4 notice of one household: its agreement, or the estimates."""
    reg = get_registry()
    household = live_household(reg, household_id)
    rules, error = _rules(reg)
    agreements = ag.agreements_of(reg, household_id)
    in_force = next((a for a in reversed(agreements) if a["in_force"]), None)
    on = dt.date.today()
    return render_template(
        "compensation/notice.html", household=household, agreement=in_force,
        amended=[a for a in agreements if not a["in_force"]], rules=rules, rules_error=error,
        estimates=[] if in_force or rules is None else estimates(reg, rules, household, on),
        on=on.isoformat(), project=reg.meta("project_name") or "", **FORMATS,
        structure=comp.STRUCTURE_ZH, decoration=comp.DECORATION_ZH, area=_area)


def _area(value) -> str:
    """An area of the survey as printed on a notice."""
    return "—" if value is None else f"{comp.sq(comp.dec(value))} ㎡"


@bp.route("/compensation/zones/<path:zone>/list")
@role_required("supervisor")
def zone_list(zone: str):
    """The printable list of one zone for public posting, names masked."""
    reg = get_registry()
    if zone not in lists.zones(reg):
        abort(404)
    return render_template("compensation/zone_list.html", zl=lists.zone_list(reg, zone),
                           columns=lists.COLUMNS, project=reg.meta("project_name") or "",
                           on=dt.date.today().isoformat(), **FORMATS)


@bp.route("/compensation/lists.xlsx")
@role_required("supervisor")
def lists_xlsx():
    """The zone lists as one XLSX workbook (?zone=NAME for one zone)."""
    reg = get_registry()
    zone = request.args.get("zone")
    if zone and zone not in lists.zones(reg):
        abort(404)
    data = lists.xlsx_bytes(reg, [zone] if zone else None)
    name = f"{zone or '全部片区'}-分户补偿公示表-{dt.date.today().isoformat()}.xlsx"
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument."
                    "spreadsheetml.sheet", headers={
                        "Content-Disposition": "attachment; filename=compensation-lists.xlsx; "
                                               f"filename*=UTF-8''{quote(name)}"})
