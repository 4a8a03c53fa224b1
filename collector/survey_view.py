"""The survey definition on the settings page (admins): download it as an XLSForm for Excel,
or adopt a survey prepared in Excel (an uploaded XLSForm). The mapping is
registry/core/xlsform.py's and the adoption registry/sync/merge.py's; this view only parses the
upload and renders the result. A form with any refused row changes nothing."""

from __future__ import annotations

import re

from anju.registry.core.store import StoreError
from anju.registry.core.xlsform import XLSFormError, export_bytes, import_xlsform
from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for

from .auth import role_required
from .db import get_registry
from .i18n import _

bp = Blueprint("survey_view", __name__)


@bp.route("/settings/survey.xlsx")
@role_required("admin")
def download():
    """The registry's survey as an XLSForm workbook."""
    import io
    defn = get_registry().definition
    try:
        data = export_bytes(defn)
    except XLSFormError as exc:
        flash(_("调查表无法完整写成 Excel：%(exc)s", exc=exc))
        return redirect(url_for("settings_view.index"))
    return send_file(io.BytesIO(data), as_attachment=True,
                     download_name=re.sub(r"[^\w.-]", "_", f"{defn.name}-v{defn.version}")
                     + ".xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _page(findings, error: str, status: int):
    return render_template("settings/survey_import.html", findings=findings, error=error), status


@bp.route("/settings/survey", methods=("POST",))
@role_required("admin")
def upload():
    """Adopt the survey of an uploaded XLSForm (central registry only)."""
    from anju.registry.sync.merge import adopt_definition
    reg = get_registry()
    if reg.meta("role") != "central":
        return _page([], _("只有中心库可以更换调查表；笔记本随中心数据包更新。"), 403)
    upload_file = request.files.get("xlsform")
    if not upload_file or not upload_file.filename:
        return _page([], _("请选择一个 Excel 文件（.xlsx）。"),
                     400)
    suffix = upload_file.filename.rsplit(".", 1)[-1].lower() if "." in upload_file.filename \
        else ""
    if suffix not in ("xlsx", "xlsm", "xls"):
        return _page([], _("不是 Excel 文件（.xlsx）。"), 400)
    try:
        result = import_xlsform(upload_file.read(), file_type=suffix)
    except XLSFormError as exc:
        if exc.findings:
            return _page(exc.findings, _("有的行安居不能接受，调查表没有改变。"),
                         422)
        return _page([], _("无法读取这个文件：%(exc)s", exc=exc), 400)
    new, old = result.definition, reg.definition
    if new.hash == old.hash:
        flash(_("调查表没有变化"))
        return redirect(url_for("settings_view.index"))
    if new.version <= old.version:
        return _page(result.findings, _("版本号 %(new)s 不高于当前的 %(old)s：请在 settings 表"
                                        "里提高 version。", new=new.version, old=old.version),
                     422)
    try:
        adopt_definition(reg, result.text)
    except StoreError as exc:
        return _page(result.findings, _("调查表被拒绝：%(exc)s", exc=exc), 422)
    flash(_("已采用调查表 %(name)s 版本 %(version)s；笔记本随下一个中心数据包更新。",
            name=new.name, version=new.version))
    return redirect(url_for("settings_view.index"))
