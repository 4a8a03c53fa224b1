"""Laptop safety in the web app: the backup page, the scheduled backups, the export reminders.

The surveyor chooses a backup folder (a USB stick), how often to back up and how many backups to
keep; the app then backs the database up in a background thread (registry.backup.Scheduler), and
the page lists the last backups and has a "back up now" button. On every page a banner warns when
this laptop's changes have waited for an export longer than the set hours, or when the last
automatic backup failed; logging out with unexported changes shows a reminder.
"""

from __future__ import annotations

from pathlib import Path

from anju.registry.core.store import Registry, StoreError
from anju.registry.field import backup
from anju.registry.sync.export_status import export_status
from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from .auth import role_required
from .db import get_registry
from .i18n import N_, _, local

bp = Blueprint("backup", __name__)
NAV = [("backup.index", N_("备份"), "Backup", "surveyor")]

EVERY_CHOICES = (0, 15, 30, 60, 120, 240)
REASONS = {"manual": (N_("手动"), "manual"), "scheduled": (N_("定时"), "scheduled"),
           "import": (N_("导入前"), "before import"), "restore": (N_("恢复前"), "before restore")}


@bp.record_once
def _setup(state) -> None:
    """Start the scheduled backups when the app is built, if a folder has been chosen."""
    app = state.app
    app.extensions["anju_backup"] = None
    if not app.config.get("BACKUP_SCHEDULER", True):
        return
    try:
        reg = Registry.open(app.config["DATABASE"])
    except StoreError:
        return
    try:
        if backup.configured_folder(reg):
            start_scheduler(app)
    finally:
        reg.close()


def start_scheduler(app: Flask) -> None:
    """Run the backup schedule of this app's database in a background thread (once)."""
    if app.extensions.get("anju_backup") or not app.config.get("BACKUP_SCHEDULER", True):
        return
    tick = float(app.config.get("BACKUP_TICK_SECONDS", 60))
    app.extensions["anju_backup"] = backup.Scheduler(app.config["DATABASE"], tick).start()


@bp.route("/backup")
@role_required("surveyor", central="admin")
def index():
    """The backup folder, the schedule and the last backups of this laptop."""
    reg = get_registry()
    folder = backup.configured_folder(reg)
    # The chosen folder, and wherever the last backup went (before an import without a chosen
    # folder, a laptop backs up beside its database): the count matches "last backup".
    places = [folder] if folder else []
    last_file = reg.meta("backup_last_file")
    if last_file and Path(last_file).parent not in places:
        places.append(Path(last_file).parent)
    found = {b.path: b for place in places for b in backup.list_backups(place, reg.device_id)}
    backups = sorted(found.values(), key=lambda b: (b.taken_at, b.path.name), reverse=True)[:20]
    return render_template(
        "backup/index.html", folder=folder, folder_ok=bool(folder and folder.is_dir()),
        every=int(reg.meta("backup_every_minutes") or backup.DEFAULT_EVERY_MINUTES),
        keep=int(reg.meta("backup_keep") or backup.DEFAULT_KEEP), backups=backups,
        last_at=_local(reg.meta("backup_last_at")), error=reg.meta("backup_error"),
        suggestions=backup.removable_folders(), every_choices=EVERY_CHOICES, reasons=REASONS,
        status=export_status(reg))


@bp.route("/backup/settings", methods=("POST",))
@role_required("surveyor", central="admin")
def settings():
    """Save the backup folder, the interval and how many backups to keep."""
    reg = get_registry()
    raw = request.form.get("folder", "").strip()
    try:
        every = int(request.form.get("every", backup.DEFAULT_EVERY_MINUTES))
        keep = int(request.form.get("keep", backup.DEFAULT_KEEP))
    except ValueError:
        every, keep = -1, -1
    if every not in EVERY_CHOICES or not 1 <= keep <= 100:
        flash(_("备份间隔或保留份数不正确"))
        return redirect(url_for("backup.index"))
    try:
        folder = _prepare(raw)
    except backup.BackupError as exc:
        flash(_("不能使用这个文件夹：%(reason)s", reason=_reason(exc)))
        return redirect(url_for("backup.index"))
    reg.set_meta("backup_dir", str(folder))
    reg.set_meta("backup_every_minutes", str(every))
    reg.set_meta("backup_keep", str(keep))
    start_scheduler(current_app._get_current_object())
    flash(_("已保存：备份到 %(folder)s", folder=folder))
    return redirect(url_for("backup.index"))


def _local(stamp: str | None) -> str | None:
    """A change-log UTC time as the project's local time, to the minute."""
    return local(stamp) if stamp else None


def _prepare(raw: str) -> Path:
    """The chosen folder, created inside an existing drive or folder when missing."""
    if not raw:
        raise backup.BackupError("no backup folder given")
    path = Path(raw).expanduser()
    if not path.exists() and path.parent.is_dir():
        try:
            path.mkdir()
        except OSError as exc:
            raise backup.BackupError(f"{path}: cannot create it ({exc.strerror})") from None
    return backup.check_folder(path)


def _reason(exc: Exception) -> str:
    """Why a backup folder cannot be used, in the user's language (else the error's own words)."""
    text = str(exc)
    if "no such folder" in text:
        return _("找不到这个文件夹（U盘是否已插好？）")
    if "cannot write" in text or "cannot create" in text:
        return _("没有写入权限或U盘已写保护")
    if "no backup folder" in text:
        return _("请先填写备份文件夹")
    return text


@bp.route("/backup/now", methods=("POST",))
@role_required("surveyor", central="admin")
def now():
    """Back up at once to the chosen folder."""
    reg = get_registry()
    folder = backup.configured_folder(reg)
    if folder is None:
        flash(_("请先选择备份文件夹"))
        return redirect(url_for("backup.index"))
    try:
        path = backup.backup_now(reg, folder, reason="manual")
    except backup.BackupError as exc:
        flash(_("备份失败：%(reason)s", reason=_reason(exc)))
    else:
        flash(_("已备份：%(name)s", name=path.name))
    return redirect(url_for("backup.index"))


@bp.app_context_processor
def inject_safety_banner() -> dict:
    """What the banner shows: overdue exports and a failed automatic backup (laptops only)."""
    if getattr(g, "user", None) is None:
        return {"safety": None}
    try:
        reg = get_registry()
        if reg.meta("role") == "central":
            return {"safety": None}
        status = export_status(reg)
        error = reg.meta("backup_error") or ""
    except StoreError:
        return {"safety": None}
    export_url = _export_url()
    return {"safety": {"status": status, "overdue": status.overdue, "backup_error": error,
                       "export_url": export_url}}


def _export_url() -> str | None:
    """The page where this laptop exports a pack, if the app has one."""
    for endpoint in ("sync.index", "packs.index"):  # pages (GET), not the export POSTs
        if endpoint in current_app.view_functions:
            return url_for(endpoint)
    return None


@bp.after_app_request
def remind_on_logout(response):
    """After logging out of a laptop, remind the surveyor of changes not exported yet."""
    if request.endpoint != "auth.logout" or response.status_code >= 400:
        return response
    try:
        reg = get_registry()
        if reg.meta("role") == "central":
            return response
        status = export_status(reg)
    except StoreError:
        return response
    if status.count:
        flash(_("提醒：本机还有 %(count)s 条修改没有导出。下班前请导出数据包并交到项目办公室。",
                count=status.count), "warning")
    return response
