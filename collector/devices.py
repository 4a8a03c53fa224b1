"""Devices of the central registry: enrol a laptop (download its enrolment file), see each
device's last pack, counts and last-seen time, revoke a device so its later packs are rejected,
and show and set what each device may write (its capabilities, registry/sync/authority.py).

Enrolment and revocation are the packs engineer's (registry/enrollment.py); this page calls them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from anju.registry.core.store import Registry, StoreError
from anju.registry.sync.authority import (
    CAPABILITIES,
    FIELD_DEFAULT,
    capabilities_of,
    set_capabilities,
)
from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from .auth import has_role, role_required
from .db import get_registry
from .i18n import N_, _

bp = Blueprint("devices", __name__)
NAV = [("devices.index", N_("设备"), "Devices", "supervisor")]


def device_rows(reg: Registry) -> list[dict]:
    """Every device with its change counts, last pack and last-seen time."""
    cols = {r[1] for r in reg.conn.execute("PRAGMA table_info(device)")}
    role = "d.role" if "role" in cols else "NULL"
    caps = "d.capabilities" if "capabilities" in cols else "NULL"
    devices = [dict(zip(("device_id", "name", "enrolled_at", "revoked_at", "role",
                         "capabilities"), r))
               for r in reg.conn.execute(f"SELECT d.device_id, d.name, d.enrolled_at, "
                                         f"d.revoked_at, {role}, {caps} FROM device d "
                                         "ORDER BY d.enrolled_at, d.name")]
    # A device restored from backup writes as `<device id>~<generation>` (registry/core/origin.py):
    # its changes count for the device.
    for d in devices:
        d["may"] = [c for c in CAPABILITIES if c in capabilities_of(d)]
    stats = {r[0]: r[1:] for r in reg.conn.execute(
        "SELECT substr(device_id, 1, instr(device_id || '~', '~') - 1) AS device, count(*), "
        "sum(record_type = 'household'), max(at), max(received_at) FROM change GROUP BY device")}
    has_packs = reg.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'pack_received'"
                                 ).fetchone()
    for d in devices:
        changes, households, last_change, received = stats.get(d["device_id"],
                                                               (0, 0, None, None))
        d.update(changes=changes, household_changes=households or 0, last_change=last_change,
                 last_received=received, packs=0, last_pack=None)
        if has_packs:
            row = reg.conn.execute(
                "SELECT file_name, made_at, changes, new, conflicts, last_seen_at, "
                "(SELECT count(*) FROM pack_received WHERE device_id = ?) FROM pack_received "
                "WHERE device_id = ? ORDER BY last_seen_at DESC LIMIT 1",
                (d["device_id"], d["device_id"])).fetchone()
            if row:
                d["last_pack"] = dict(zip(("file_name", "made_at", "changes", "new",
                                           "conflicts", "last_seen_at"), row[:6]))
                d["packs"] = row[6]
        d["self"] = d["device_id"] == reg.device_id
        # Last seen: the latest of its last pack and its newest change we hold.
        d["last_seen"] = max(filter(None, [d["last_pack"] and d["last_pack"]["last_seen_at"],
                                           d["last_change"]]), default=None)
    return devices


@bp.route("/devices")
@role_required("supervisor")
def index():
    """The devices list, with the enrol form for admins."""
    reg = get_registry()
    return render_template("devices/index.html", devices=device_rows(reg),
                           central=reg.meta("role") == "central", admin=has_role("admin"),
                           capabilities=CAPABILITIES, field_default=FIELD_DEFAULT)


@bp.route("/devices/enroll", methods=("POST",))
@role_required("admin")
def enroll():
    """Enrol a laptop and download its enrolment file (keep it secret: it holds its keys)."""
    from anju.registry.sync.enrollment import enroll_device
    name = request.form.get("name", "").strip()
    caps = [c for c in request.form.getlist("capability") if c in CAPABILITIES]
    reg = get_registry()
    if reg.conn.execute("SELECT 1 FROM device WHERE name = ?", (name,)).fetchone():
        flash(_("未能登记设备：设备“%(name)s”已经登记过，请换一个名称。", name=name))
        return redirect(url_for("devices.index"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{name or 'device'}.enrol"
        try:
            enroll_device(reg, name, out, capabilities=caps or None)
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
