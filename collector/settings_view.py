"""Project settings in the web app (admins): zones with targets and deadlines, the freeze date,
the signing period, the area tolerance, teams and cadres, and which households each cadre is
responsible for (包户). Validation and storage are registry/settings.py's."""

from __future__ import annotations

import re

from anju.registry.core import settings as settings_mod
from anju.registry.core.store import StoreError
from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from .auth import role_required
from .db import get_registry
from .i18n import N_, _, lang

bp = Blueprint("settings_view", __name__)
NAV = [("settings_view.index", N_("项目设置"), "Settings", "admin")]
SPLIT = re.compile(r"[\s,，、;；]+")


def _rows(prefix: str, keys: tuple[str, ...]) -> list[dict]:
    """Repeated form rows (prefix-key-N) back into dicts, blank rows dropped."""
    out = []
    for i in range(200):
        row = {k: request.form.get(f"{prefix}-{k}-{i}", "").strip() for k in keys}
        if f"{prefix}-{keys[0]}-{i}" not in request.form:
            break
        if any(row.values()):
            out.append(row)
    return out


def _document(current: dict) -> dict:
    """The settings document a submitted form describes (other keys kept as they were)."""
    doc = dict(current)
    for key in ("freeze_date", "signing_start", "survey_start"):
        doc[key] = request.form.get(key, "").strip() or None
    tolerance = request.form.get("area_tolerance_percent", "").strip()
    try:
        doc["area_tolerance"] = float(tolerance) / 100 if tolerance else None
    except ValueError:
        doc["area_tolerance"] = tolerance  # let validation name it
    if doc["area_tolerance"] is None:
        doc.pop("area_tolerance")
    doc["zones"] = [{"name": z["name"], "code": z["code"] or None,
                     "target": z["target"] or None, "deadline": z["deadline"] or None}
                    for z in _rows("zone", ("name", "code", "target", "deadline"))]
    doc["teams"] = [{"name": r["name"], "cadres": [c for c in SPLIT.split(r["cadres"]) if c]}
                    for r in _rows("team", ("name", "cadres"))]
    return doc


def _page(data: dict, errors: list[str], status: int = 200):
    reg = get_registry()
    return render_template("settings/index.html", s=data, errors=errors,
                           responsibility=settings_mod.responsibility(reg)), status


@bp.route("/settings", methods=("GET", "POST"))
@role_required("admin")
def index():
    """Show and save the project settings."""
    reg = get_registry()
    current = settings_mod.load(reg)
    if request.method == "GET":
        return _page(current, [])
    doc = _document(current)
    try:
        settings_mod.save(reg, doc)
    except settings_mod.SettingsError as exc:
        return _page(doc, settings_mod.error_lines(exc.errors, lang()), 400)
    flash(_("设置已保存"))
    return redirect(url_for("settings_view.index"))


@bp.route("/settings/assign", methods=("POST",))
@role_required("admin")
def assign():
    """Make a cadre responsible for households given by house number (包户)."""
    reg = get_registry()
    cadre = request.form.get("cadre", "").strip()
    house_nos = [n for n in SPLIT.split(request.form.get("house_nos", "")) if n]
    if not house_nos:
        flash(_("请填写房屋编号"))
        return redirect(url_for("settings_view.index"))
    try:
        n = settings_mod.assign(reg, cadre, house_nos, by=g.user["name"])
    except settings_mod.SettingsError as exc:
        flash("; ".join(settings_mod.error_lines(exc.errors, lang())))
    except StoreError:
        flash(_("未能分配：有的房屋编号在本库中找不到，请核对后再试。"))
    else:
        flash(_("已将 %(n)s 户分配给 %(cadre)s", n=n, cadre=cadre))
    return redirect(url_for("settings_view.index"))
