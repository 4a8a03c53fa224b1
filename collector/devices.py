"""Devices of the central registry: enrol a laptop (download its enrolment file), see each
device's last pack, counts and last-seen time, revoke a device so its later packs are rejected,
and show and set what each device may write (its capabilities, registry/sync/authority.py) and
what each laptop receives (its scope of zones or teams, registry/sync/scope.py).

Enrolment and revocation are the packs engineer's (registry/enrollment.py); this page calls them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from anju.registry.core.store import Registry, StoreError
from anju.registry.sync import devices as device_overview
from anju.registry.sync import scope as scopes
from anju.registry.sync.authority import (
    CAPABILITIES,
    FIELD_DEFAULT,
    set_capabilities,
)
from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from .auth import has_role, role_required
from .db import get_registry
from .i18n import N_, _, lang

bp = Blueprint("devices", __name__)
NAV = [("devices.index", N_("设备"), "Devices", "supervisor")]


@bp.route("/devices")
@role_required("supervisor")
def index():
    """The devices list, with the enrol form for admins."""
    reg = get_registry()
    return render_template("devices/index.html", devices=device_overview.overview(reg),
                           central=reg.meta("role") == "central", admin=has_role("admin"),
                           capabilities=CAPABILITIES, field_default=FIELD_DEFAULT,
                           scope_words=scope_words, **scope_choices(reg))


def scope_choices(reg: Registry) -> dict:
    """The zones and teams a scope may name: the settings' zones, else the zones households
    have; the settings' teams."""
    zones = [z.get("name") for z in reg.settings.get("zones") or () if z.get("name")]
    if not zones:
        zones = reg.distinct_values("zone")[:200]
    teams = [tm.get("name") for tm in reg.settings.get("teams") or () if tm.get("name")]
    return {"zones": zones, "teams": teams}


def _posted_scope() -> dict | None:
    """The scope ticked in a form (zones and teams); none ticked: the whole project."""
    zones = [z for z in request.form.getlist("zone") if z.strip()]
    teams = [tm for tm in request.form.getlist("team") if tm.strip()]
    return {"zones": zones, "teams": teams} if zones or teams else None


@bp.route("/devices/enroll", methods=("POST",))
@role_required("admin")
def enroll():
    """Enrol a laptop and download its enrolment file (keep it secret: it holds its keys)."""
    from anju.registry.sync.enrollment import enroll_device
    name = request.form.get("name", "").strip()
    caps = [c for c in request.form.getlist("capability") if c in CAPABILITIES]
    reg = get_registry()
    try:
        scope = scopes.check_scope(reg, _posted_scope())
    except (StoreError, TypeError):
        flash(_("未能登记设备：所选片区或工作组不存在，请刷新页面后重新选择。"))
        return redirect(url_for("devices.index"))
    if reg.conn.execute("SELECT 1 FROM device WHERE name = ?", (name,)).fetchone():
        flash(_("未能登记设备：设备“%(name)s”已经登记过，请换一个名称。", name=name))
        return redirect(url_for("devices.index"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{name or 'device'}.enrol"
        try:
            enroll_device(reg, name, out, capabilities=caps or None, scope=scope)
        except StoreError:
            flash(_("未能登记设备：设备名须为 1–40 个字母、数字或“-”“_”“.”，且不能与已登记的"
                    "设备重名；只有中心登记库可以登记设备。"))
            return redirect(url_for("devices.index"))
        data = out.read_bytes()
    return Response(data, headers={
        "Content-Type": "application/json",
        "Content-Disposition": f'attachment; filename="anju-enrol-{name}.json"',
        "Cache-Control": "no-store"})


@bp.route("/devices/<name>/revoke", methods=("POST",))
@role_required("admin")
def revoke(name: str):
    """Revoke a device: packs it makes from now on are rejected."""
    from anju.registry.sync.enrollment import revoke_device
    if request.form.get("confirm") != "1":
        flash(_("请勾选确认后再吊销"))
        return redirect(url_for("devices.index"))
    try:
        revoke_device(get_registry(), name)
    except StoreError:
        flash(_("未能吊销：没有这个设备，或它就是本机（本机不能在这里吊销）。"))
    else:
        flash(_("已吊销设备 %(name)s，其后的数据包将被拒收", name=name))
    return redirect(url_for("devices.index"))


@bp.route("/devices/<name>/capabilities", methods=("POST",))
@role_required("admin")
def capabilities(name: str):
    """Set what a device may write (the central registry judges its packs by it)."""
    caps = [c for c in request.form.getlist("capability") if c in CAPABILITIES]
    try:
        set_capabilities(get_registry(), name, caps)
    except StoreError:
        flash(_("未能修改权限：只有中心登记库可以授权，且设备须已登记、不是中心库本身"))
    else:
        shown = _("、").join(_(CAPABILITIES[c][0]) for c in caps) or _("无")
        flash(_("设备 %(name)s 可写内容已改为：%(shown)s", name=name, shown=shown))
    return redirect(url_for("devices.index"))


@bp.route("/devices/<name>/scope", methods=("POST",))
@role_required("admin")
def scope(name: str):
    """Set what a laptop receives: its next pack brings the households entering its scope, and
    merging that pack removes from the laptop those leaving it."""
    reg = get_registry()
    try:
        chosen = scopes.set_scope(reg, name, _posted_scope())
    except (StoreError, TypeError):
        flash(_("未能修改数据范围：只有中心登记库可以设置，设备须已登记、不是中心库本身，"
                "所选片区或工作组须存在。"))
    else:
        shown = scopes.describe(chosen) if lang() == "en" else scope_words(chosen)
        flash(_("设备 %(name)s 的数据范围已改为：%(shown)s。请为它单独导出中心数据包；导入后，"
                "范围外的住户会从该笔记本上删除。", name=name, shown=shown))
    return redirect(url_for("devices.index"))


def scope_words(scope: dict | None) -> str:
    """A scope in Chinese: 片区 A、B；工作组 T (or 全项目)."""
    if not scope:
        return "全项目"
    parts = []
    if scope.get("zones"):
        parts.append("片区 " + "、".join(scope["zones"]))
    if scope.get("teams"):
        parts.append("工作组 " + "、".join(scope["teams"]))
    return "；".join(parts)
