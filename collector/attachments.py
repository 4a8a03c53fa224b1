"""Photos and document scans of a household: uploaded from a file picker or the camera.

Each file is checked by its first bytes (JPEG, PNG, WebP or PDF, whatever its name says) and its
size, stored once in the `blob` table under its SHA-256, and recorded as an `attachment` record of
the household, blob and record in one transaction. An image's pixel count is read from its header
and checked before anything decodes it (a small file can hold a huge image); its thumbnail is
made once, at upload, into the `thumbnail` table (or at its first showing, for an image that came
in a pack). The storing lives in registry/core/files.py; this module checks and serves.
"""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import quote

from anju.registry.core import files
from anju.registry.core.files import image_pixels, save_files
from anju.registry.core.mime import served_type, sniff
from anju.registry.core.store import InvalidChange
from anju.registry.core.validation import localize
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import RequestEntityTooLarge

from .auth import login_required
from .db import get_registry, live_household
from .i18n import _, lang

bp = Blueprint("attachments", __name__)

MAX_BYTES = 10 * 1024 * 1024  # per file; override with app config ATTACHMENT_MAX_BYTES
MAX_PIXELS = files.MAX_PIXELS  # override with app config ATTACHMENT_MAX_PIXELS
def clean_filename(name: str | None) -> str:
    """The last part of an uploaded file's name (browsers may send a Windows path), shortened."""
    name = PureWindowsPath(PurePosixPath(name or "").name).name.strip()
    return "".join(c for c in name if c.isprintable())[:200] or "file"


def _max_bytes() -> int:
    return int(current_app.config.get("ATTACHMENT_MAX_BYTES", MAX_BYTES))


def check_file(filename: str, data: bytes) -> tuple[str | None, str | None]:
    """(mime, None) for an acceptable file, or (None, the reason in the user's language)."""
    limit_mb = _max_bytes() / (1024 * 1024)
    if not data:
        return None, _("文件「%(filename)s」是空的", filename=filename)
    if len(data) > _max_bytes():
        return None, _("文件「%(filename)s」超过 %(limit_mb)s MB 的上限",
                       filename=filename, limit_mb=format(limit_mb, "g"))
    mime = sniff(data)
    if mime is None:
        return None, _("文件「%(filename)s」不是 JPEG、PNG、WebP 图片或 PDF 文件",
                       filename=filename)
    pixels = image_pixels(data) if mime.startswith("image/") else None
    limit = int(current_app.config.get("ATTACHMENT_MAX_PIXELS", MAX_PIXELS))
    if pixels is not None and pixels > limit:
        return None, _("图片「%(filename)s」像素过多（超过 %(v2)s 百万像素），请缩小后再上传",
                       filename=filename, v2=format(limit / 1e6, "g"))
    return mime, None


def attachment_fields(reg) -> list:
    return [f for f in reg.definition.record("household").fields if f.type == "attachment"]


@bp.route("/households/<household_id>/attachments", methods=("GET", "POST"))
@login_required
def upload(household_id: str):
    """Attach photos or scans to a household."""
    reg = get_registry()
    household = live_household(reg, household_id)
    fields = attachment_fields(reg)
    if request.method == "GET":
        return render_template("households/upload.html", h=household, fields=fields)
    field = request.form.get("field", "")
    errors = []
    if field not in {f.name for f in fields}:
        errors.append(_("请选择附件栏目"))
    files = []
    for storage in request.files.getlist("file"):
        if not storage or not storage.filename:
            continue
        name = clean_filename(storage.filename)
        data = storage.read(_max_bytes() + 1)
        mime, problem = check_file(name, data)
        if problem:
            errors.append(problem)
        else:
            files.append((name, mime, data))
    if not files and not errors:
        errors.append(_("请选择要上传的文件"))
    if errors:
        return render_template("households/upload.html", h=household, fields=fields,
                               errors=errors, chosen=field), 422
    try:
        save_files(reg, household_id, field, files, by=g.user["name"])
    except InvalidChange as exc:
        return render_template("households/upload.html", h=household, fields=fields,
                               errors=list(localize(exc.errors, lang()).values()) or
                               [_("文件未保存，请重试")], chosen=field), 422
    flash(_("已上传 %(n)s 个文件", n=len(files)), "at-attachments")
    return redirect(url_for("dossier.show", household_id=household_id) + "#attachments")


def _attachment(attachment_id: str) -> tuple[dict, bytes]:
    try:
        uuid.UUID(attachment_id)
    except ValueError:
        abort(404)
    reg = get_registry()
    row = reg.get("attachment", attachment_id)
    if row is None:
        abort(404)
    data = files.blob_data(reg, row["sha256"])
    if data is None:  # the record arrived in a pack before its file
        abort(404)
    return row, data


@bp.route("/attachments/<attachment_id>/file")
@login_required
def file(attachment_id: str):
    """The stored file itself."""
    row, data = _attachment(attachment_id)
    mime, inline = served_type(data)  # from the bytes, never the type a record or pack claims
    response = Response(data, mimetype=mime)
    response.headers["Content-Disposition"] = "inline" if inline else (
        f"attachment; filename*=UTF-8''{quote(row.get('filename') or 'file')}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


PLACEHOLDER = ('<svg xmlns="http://www.w3.org/2000/svg" width="160" height="120">'
               '<rect width="160" height="120" fill="#e4e7eb"/><text x="80" y="65" '
               'font-size="14" text-anchor="middle" fill="#616e7c">?</text></svg>')


@bp.route("/attachments/<attachment_id>/thumb")
@login_required
def thumb(attachment_id: str):
    """A thumbnail of an attached image, made from the stored bytes."""
    row, data = _attachment(attachment_id)
    limit = int(current_app.config.get("ATTACHMENT_MAX_PIXELS", MAX_PIXELS))
    small = (files.stored_thumbnail(get_registry(), row["sha256"], data, limit)
             if served_type(data)[1] else None)
    if small is None:
        return Response(PLACEHOLDER, mimetype="image/svg+xml")
    response = Response(small, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


@bp.app_errorhandler(RequestEntityTooLarge)
def too_large(exc):
    """An upload larger than the app accepts at once."""
    limit = (current_app.config.get("MAX_CONTENT_LENGTH") or 0) / (1024 * 1024)
    return render_template("message.html", title=_("文件太大"),
                           message=_("一次上传的内容不能超过 %(limit)s MB，请分几次上传。",
                                     limit=format(limit, "g"))), 413
