"""Sync from the browser: export a pack, merge packs, resolve conflicts.

On a laptop: download this laptop's pack (for the central office), import the central pack.
On the central registry: download the central pack (for every laptop), upload many laptop packs
at once with one result line per pack. Supervisors resolve conflicts (keep one value or enter
another, with a reason) on /conflicts/<record_type>/<record_id>/<field>, the page the review
queue links to. All of it calls registry.packs, registry.merge and registry.conflicts.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

from anju.registry.core.origin import device_of
from anju.registry.core.redirects import safe_next
from anju.registry.core.store import InvalidChange, StoreError
from anju.registry.core.validation import localize
from anju.registry.sync import devices
from anju.registry.sync.conflicts import get_conflict, open_conflicts, resolve
from anju.registry.sync.merge import merge_packs, summary
from anju.registry.sync.packs import PackError, export_pack
from anju.registry.sync.wording import sentence, total
from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for

from .auth import has_role, login_required, role_required
from .db import get_registry
from .i18n import N_, _, label, lang

bp = Blueprint("sync", __name__)
NAV = [("sync.index", N_("同步"), "Sync", "surveyor"),
       ("sync.conflicts", N_("冲突"), "Conflicts", "supervisor")]


def _central() -> bool:
    return get_registry().meta("role") == "central"


@bp.route("/sync")
@login_required
def index():
    """Export and import packs; on the central registry, the packs received so far."""
    reg = get_registry()
    received = devices.received_packs(reg)
    return render_template("sync/index.html", central=_central(), received=received,
                           scoped=_scoped_laptops(reg) if _central() else [],
                           conflicts=reg.conflict_count(),
                           can_merge=not _central() or has_role("supervisor"))


def _scoped_laptops(reg) -> list[dict]:
    """Central: the laptops with a scope, each needing a pack of its own (name, scope)."""
    from anju.registry.sync import scope as scopes

    from .devices import scope_words
    return [{"name": name, "zh": scope_words(scope), "en": scopes.describe(scope)}
            for name, scope in devices.scoped_laptops(reg)]


@bp.route("/sync/export", methods=("POST",))
@role_required("surveyor", central="supervisor")
def export():
    """Write a pack and send it as a download (the file is encrypted: safe on a USB stick)."""
    reg = get_registry()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
    recipient = (request.form.get("for") or "").strip() if _central() else ""
    suffix = f"-for-{recipient}" if recipient and recipient.replace("-", "").replace(
        "_", "").replace(".", "").isalnum() else ""
    name = f"anju-{reg.meta('device_name')}{suffix}-{stamp}.pack"
    tmp = tempfile.mkdtemp(prefix="anju-export-")
    path = Path(tmp) / name
    try:
        manifest = export_pack(reg, path, full=request.form.get("full") == "1",
                               recipients=[recipient] if recipient else None)
    except PackError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.code == "no_central_key":
            flash(_("导出失败：本机还不知道中心库的加密公钥。请先导入一个最新的中心数据包，再导出。"),
                  "warning")
        elif exc.code == "recipients":
            flash(_("导出失败：所选笔记本不存在、已吊销，或尚未登记加密公钥（请先合并它的数据包）。"),
                  "warning")
        else:
            flash(_("导出失败：数据包没有写成，请确认本机磁盘有空余空间后再试一次。"), "warning")
        return redirect(url_for("sync.index"))
    except (StoreError, OSError):
        shutil.rmtree(tmp, ignore_errors=True)
        flash(_("导出失败：数据包没有写成，请确认本机磁盘有空余空间后再试一次。"), "warning")
        return redirect(url_for("sync.index"))

    size = path.stat().st_size

    def chunks():
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                yield block

    response = Response(chunks(), mimetype="application/octet-stream")
    response.headers.set("Content-Disposition", "attachment", filename=name)
    response.headers["Content-Length"] = str(size)
    # Removed after the download, once the file is closed: Windows cannot delete an open file.
    response.call_on_close(lambda: shutil.rmtree(tmp, ignore_errors=True))
    response.headers["X-Anju-Changes"] = str(manifest["counts"]["changes"])
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/sync/merge", methods=("POST",))
@role_required("surveyor", central="supervisor")
def merge():
    """Merge uploaded packs, each in one transaction; one result line per pack."""
    uploads = [f for f in request.files.getlist("packs") if f and f.filename]
    if not uploads:
        flash(_("请选择数据包文件"), "warning")
        return redirect(url_for("sync.index"))
    reg = get_registry()
    with tempfile.TemporaryDirectory(prefix="anju-merge-") as tmp:
        paths = []
        for n, upload in enumerate(uploads):
            name = Path(upload.filename.replace("\\", "/")).name or f"pack-{n + 1}.pack"
            folder = Path(tmp) / str(n)
            folder.mkdir()
            upload.save(folder / name)
            paths.append(folder / name)
        results = merge_packs(reg, paths)  # the one merge entry point: flags rebuilt after
        for path, result in zip(paths, results, strict=True):
            result.path = path.name
    rejected = sum(not r.ok for r in results)
    shown = [{"ok": r.ok, "text": sentence(r, reg.definition) if lang() == "zh" else r.line(),
              "raised": [_raised(reg, *key) for key in r.raised]} for r in results]
    return render_template("sync/results.html", results=shown,
                           summary=total(results) if lang() == "zh" else summary(results),
                           rejected=rejected), (422 if rejected == len(results) else 200)


def _raised(reg, record_type: str, record_id: str, field: str) -> dict:
    """A conflict a pack raised, as a link: the resolve page for supervisors, else the house."""
    house_no = _house_no(reg, record_type, record_id)
    if has_role("supervisor"):
        url = url_for("sync.resolve_conflict", record_type=record_type, record_id=record_id,
                      field=field)
    else:
        url = _household_url(reg, record_type, record_id)
    return {"house_no": house_no or record_id[:8], "label": _field_label(reg, record_type, field),
            "url": url}


def _household_url(reg, record_type: str, record_id: str) -> str | None:
    """The household page a record belongs to (None if it is gone)."""
    hid = reg.household_of(record_type, record_id)
    return url_for("dossier.show", household_id=hid) + "#conflicts" if hid else None


@bp.route("/conflicts")
@role_required("supervisor")
def conflicts():
    """Open conflicts: concurrent edits of one field with different values."""
    reg = get_registry()
    rows = open_conflicts(reg)
    names = reg.device_names()
    for c in rows:
        c["label"] = _field_label(reg, c["record_type"], c["field"])
        c["house_no"] = _house_no(reg, c["record_type"], c["record_id"])
        c["house_url"] = _household_url(reg, c["record_type"], c["record_id"])
        for cand in c["candidates"]:
            cand["shown"] = _shown(reg, c["record_type"], c["field"], cand["value"])
            cand["device"] = names.get(device_of(cand["device_id"]), cand["device_id"][:8])
    return render_template("sync/conflicts.html", conflicts=rows)


@bp.route("/conflicts/<record_type>/<record_id>/<field>", methods=("GET", "POST"))
@role_required("supervisor")
def resolve_conflict(record_type: str, record_id: str, field: str):
    """Resolve one conflict: keep one of the values or enter another, with a reason."""
    reg = get_registry()
    if record_type not in reg.definition.records:
        abort(404)
    conflict = get_conflict(reg, record_type, record_id, field)
    if conflict is None:
        flash(_("该冲突已解决或不存在"))
        return redirect(url_for("sync.conflicts"))
    error = None
    form = {"choice": "", "other": "", "reason": ""}
    if request.method == "POST":
        form = {k: request.form.get(k, "").strip() for k in form}
        cands = {c["change_id"]: c for c in conflict["candidates"]}
        if form["choice"] in cands:
            value = cands[form["choice"]]["value"]
        elif form["choice"] == "other":
            value = form["other"] or None
        else:
            value, error = None, _("请选择保留的值或填写新值")
        if not form["reason"]:
            error = error or _("请填写理由")
        if error is None:
            try:
                seen = request.form.getlist("seen")  # the candidates the page showed
                resolve(reg, record_type, record_id, field, value, form["reason"],
                        by=g.user["name"], seen=seen or None)
            except InvalidChange as exc:
                error = "；".join(localize(exc.errors, lang()).values())
            except StoreError:
                error = _("未能解决：该冲突可能已被他人解决，请返回冲突列表刷新后再试。")
            else:
                flash(_("冲突已解决，该决定将随数据包同步到各笔记本"))
                return redirect(_back())
    names = reg.device_names()
    for cand in conflict["candidates"]:
        cand["shown"] = _shown(reg, record_type, field, cand["value"])
        cand["device"] = names.get(device_of(cand["device_id"]), cand["device_id"][:8])
    return render_template("sync/resolve.html", c=conflict, form=form, error=error,
                           back=_back(),
                           label=_field_label(reg, record_type, field),
                           house_no=_house_no(reg, record_type, record_id),
                           choices=_choices(reg, record_type, field)), (400 if error else 200)


def _back() -> str:
    """Where the resolve page returns to (?next=, the review queue or a household page): a
    path of this app only (the one safe-redirect rule), else the conflict list."""
    return safe_next(request.args.get("next"), url_for("sync.conflicts"))


def _field(reg, record_type: str, name: str):
    rtype = reg.definition.record(record_type)
    return rtype.field(name) if rtype.has(name) else None


def _field_label(reg, record_type: str, name: str) -> str:
    f = _field(reg, record_type, name)
    if f is None:
        return _("删除标记") if name == "_deleted" else name
    return label(f.label)


def _choices(reg, record_type: str, name: str) -> list[tuple[str, str]]:
    f = _field(reg, record_type, name)
    if f is None or f.type != "select_one":
        return []
    return [(c.value, label(c.label)) for c in f.choices]


def _shown(reg, record_type: str, name: str, value) -> str:
    """A value as people read it: choice labels, '—' for none."""
    if value is None or value == "":
        return "—"
    f = _field(reg, record_type, name)
    if f is not None and f.choices:
        values = value if isinstance(value, list) else [value]
        return "、".join(f.choice_label(str(v), lang()) for v in values)
    return str(value)


def _house_no(reg, record_type: str, record_id: str) -> str | None:
    """The house number of the household a record belongs to."""
    return reg.house_no_of(record_type, record_id)
