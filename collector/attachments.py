"""Photos and document scans of a household: uploaded from a file picker or the camera.

Each file is checked by its first bytes (JPEG, PNG, WebP or PDF, whatever its name says) and its
size, stored once in the `blob` table under its SHA-256, and recorded as an `attachment` record of
the household, blob and record in one transaction. An image's pixel count is read from its header
and checked before anything decodes it (a small file can hold a huge image); its thumbnail is
made once, at upload, into the `thumbnail` table (or at its first showing, for an image that came
in a pack).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import sqlite3
import uuid
import warnings
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import quote

from anju.registry.core.changes import new_id
from anju.registry.core.mime import served_type, sniff
from anju.registry.core.store import InvalidChange, transaction
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
# A phone photo has 12-50 megapixels; 12000 x 12000 (144) took 11 s and 1.4 GB to thumbnail.
MAX_PIXELS = 60_000_000  # override with app config ATTACHMENT_MAX_PIXELS
THUMB_SIZE = (320, 320)
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


def image_pixels(data: bytes) -> int | None:
    """Width x height from an image's header, without decoding it (None: unreadable)."""
    from PIL import Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning: we decide below
            with Image.open(io.BytesIO(data)) as image:  # reads the header only
                width, height = image.size
    except Image.DecompressionBombError:
        return 1 << 62
    except Exception:  # damaged: stored as it is, shown without a thumbnail
        return None
    return width * height


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


def save_files(reg, household_id: str, field: str, files: list[tuple[str, str, bytes]], *,
               by: str) -> list[str]:
    """Store files as blobs and attachment records of a household, all in one transaction."""
    ids = []
    # Thumbnails are made before the write lock is taken: decoding a photo takes a moment.
    thumbs = {id(data): make_thumbnail(data) for _, mime, data in files
              if mime.startswith("image/")}
    with transaction(reg.conn):
        for name, mime, data in files:
            digest = hashlib.sha256(data).hexdigest()
            reg.conn.execute("INSERT OR IGNORE INTO blob (sha256, mime, size, data) "
                             "VALUES (?, ?, ?, ?)", (digest, mime, len(data), data))
            if mime.startswith("image/"):
                reg.conn.execute("INSERT OR IGNORE INTO thumbnail (sha256, data) VALUES (?, ?)",
                                 (digest, thumbs[id(data)]))
            attachment_id = new_id()
            change = reg.make_change("attachment", attachment_id, {
                "household_id": household_id, "field": field, "filename": name, "mime": mime,
                "size": len(data), "sha256": digest}, by=by, full=True)
            reg.apply([change])
            ids.append(attachment_id)
    return ids


def _attachment(attachment_id: str) -> tuple[dict, bytes]:
    try:
        uuid.UUID(attachment_id)
    except ValueError:
        abort(404)
    reg = get_registry()
    row = reg.get("attachment", attachment_id)
    if row is None:
        abort(404)
    blob = reg.conn.execute("SELECT data FROM blob WHERE sha256 = ?", (row["sha256"],)).fetchone()
    if blob is None:  # the record arrived in a pack before its file
        abort(404)
    return row, blob[0]


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


def make_thumbnail(data: bytes, max_pixels: int = MAX_PIXELS) -> bytes | None:
    """A small JPEG of an image (turned upright by its EXIF), or None if it cannot be read or
    has more pixels than allowed (checked from the header, before decoding)."""
    from PIL import Image, ImageOps
    pixels = image_pixels(data)
    if pixels is None or pixels > max_pixels:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                image.draft("RGB", THUMB_SIZE)  # a JPEG decodes straight at a smaller scale
                image = ImageOps.exif_transpose(image)
                image.thumbnail(THUMB_SIZE)
                out = io.BytesIO()
                image.convert("RGB").save(out, "JPEG", quality=80)
                return out.getvalue()
    except Exception:  # a damaged or hostile image: no thumbnail rather than an error page
        return None


def stored_thumbnail(reg, sha256: str, data: bytes) -> bytes | None:
    """The thumbnail kept for an image, made and kept now if it came without one (a pack)."""
    row = reg.conn.execute("SELECT data FROM thumbnail WHERE sha256 = ?", (sha256,)).fetchone()
    if row is not None:
        return row[0]
    small = make_thumbnail(data, int(current_app.config.get("ATTACHMENT_MAX_PIXELS",
                                                            MAX_PIXELS)))
    with contextlib.suppress(sqlite3.Error):  # kept for next time if the database lets us
        reg.conn.execute("INSERT OR IGNORE INTO thumbnail (sha256, data) VALUES (?, ?)",
                         (sha256, small))
    return small


PLACEHOLDER = ('<svg xmlns="http://www.w3.org/2000/svg" width="160" height="120">'
               '<rect width="160" height="120" fill="#e4e7eb"/><text x="80" y="65" '
               'font-size="14" text-anchor="middle" fill="#616e7c">?</text></svg>')


@bp.route("/attachments/<attachment_id>/thumb")
@login_required
def thumb(attachment_id: str):
    """A thumbnail of an attached image, made from the stored bytes."""
    row, data = _attachment(attachment_id)
    small = (stored_thumbnail(get_registry(), row["sha256"], data)
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
