"""The household page (一户一档): every field, members, attachments, visits, and full history.

Other parts of the app add their own boxes to this page (open review items, the compensation
breakdown) with `@panel`: a function of (registry, household row) returning HTML or None.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from anju.registry.core import localtime
from anju.registry.core.changes import DELETED, new_id
from anju.registry.core.definition import Field
from anju.registry.core.store import Registry
from anju.registry.core.workflow import allowed_moves
from anju.registry.legal.path import bare_move_refused
from anju.registry.publication.privacy import mask_id_for_staff
from anju.registry.sync.conflicts import open_conflicts
from flask import Blueprint, abort, g, render_template, url_for
from markupsafe import Markup

from .auth import has_role, login_required
from .db import get_registry
from .i18n import N_, _, label, lang, local

bp = Blueprint("dossier", __name__)

# Extra boxes on the household page, in order: fn(reg, household) -> HTML (Markup) or None.
PANELS: list[Callable[[Registry, dict], Markup | str | None]] = []
RECORD_NAMES = {"household": (N_("住户"), "Household"), "member": (N_("成员"), "Member"),
                "visit": (N_("走访"), "Visit"), "attachment": (N_("附件"), "Attachment")}


def panel(fn: Callable[[Registry, dict], Markup | str | None]):
    """Register a box for the household page (a decorator)."""
    PANELS.append(fn)
    return fn


def format_value(f: Field | None, value) -> str:
    """A stored value as people read it: choice labels, masked ID numbers, plain numbers."""
    if value is None or value == "" or value == []:
        return ""
    if f is None:
        return str(value)
    if f.type == "select_multiple" and isinstance(value, list):
        return "、".join(f.choice_label(str(v), lang()) for v in value)
    if f.type == "select_one":
        return f.choice_label(str(value), lang())
    if f.type == "resident_id":
        return mask_id_for_staff(str(value)) or ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def local_time(at: str | None) -> str:
    """A change-log UTC time as the project's local time, to the minute."""
    return local(at) if at else ""


def _field(reg: Registry, record_type: str, name: str) -> Field | None:
    try:
        return reg.definition.record(record_type).field(name)
    except KeyError:
        return None


def history(reg: Registry, household: dict, children: dict[str, list[dict]]) -> list[dict]:
    """Every change of the household and its records, newest first, with old and new values."""
    records = [("household", household, "")]
    for m in children["member"]:
        records.append(("member", m, m.get("name") or ""))
    for v in children["visit"]:
        records.append(("visit", v, v.get("visit_date") or ""))
    for a in children["attachment"]:
        records.append(("attachment", a, a.get("filename") or ""))
    entries = []
    for record_type, row, title in records:
        for change in reg.history(row["id"]):
            diffs = []
            for d in change["diffs"]:
                if d["field"] == "household_id":
                    continue
                if d["field"] == DELETED:
                    name = _("删除原因") if d["new"] else _("恢复")
                    diffs.append({"label": name, "old": d["old"] or "", "new": d["new"] or ""})
                    continue
                f = _field(reg, record_type, d["field"])
                if record_type == "attachment" and d["field"] == "field":
                    # which box of the household the file belongs to: its label, not its name
                    old, new = (_household_field_label(reg, d["old"]),
                                _household_field_label(reg, d["new"]))
                else:
                    old, new = format_value(f, d["old"]), format_value(f, d["new"])
                diffs.append({"label": label(f.label) if f else d["field"], "old": old,
                              "new": new})
            zh, _en = RECORD_NAMES.get(record_type, (record_type, record_type))
            entries.append({"at": change["at"], "when": local_time(change["at"]),
                            "by": change["by"], "record": _(zh), "title": title,
                            "note": note_text(reg, change["note"]), "diffs": diffs})
    entries.sort(key=lambda e: e["at"], reverse=True)
    return entries


MOVE_NOTE = re.compile(r"^([a-z_]{1,40}) -> ([a-z_]{1,40})$")


def note_text(reg: Registry, note: str | None) -> str:
    """A change's note as people read it: a status move ("unsurveyed -> surveyed", as the
    workflow records it) becomes "未调查 → 已登记"; any other note is shown as written."""
    m = MOVE_NOTE.match(note or "")
    status = _field(reg, "household", "status")
    if not m or status is None:
        return note or ""
    known = {c.value for c in status.choices}
    if m.group(1) not in known or m.group(2) not in known:
        return note
    return (_("状态：") + status.choice_label(m.group(1), lang()) + " → "
            + status.choice_label(m.group(2), lang()))


def _household_field_label(reg: Registry, name) -> str:
    """The label of a household field named by an attachment record (e.g. photos → 房屋照片)."""
    if not name:
        return ""
    f = _field(reg, "household", str(name))
    return label(f.label) if f else str(name)


def sections(reg: Registry, household: dict) -> list[dict]:
    """The household page's boxes in the survey's section order: {name, title, kind, rows}.

    kind is "facts" (stored fields as (label, value) rows), "members" (a section holding the
    member repeat) or "files" (a section holding attachment fields).
    """
    rtype = reg.definition.record("household")
    out = []
    for s in reg.definition.sections:
        fields = [f for f in rtype.fields if f.section == s.get("name")]
        rows = [(label(f.label), format_value(f, household.get(f.name)))
                for f in fields if f.stored]
        kind = ("members" if any(f.type == "repeat" for f in fields) else
                "files" if any(f.type == "attachment" for f in fields) else "facts")
        if rows or kind != "facts":
            out.append({"name": s.get("name"), "title": label(s.get("label")), "kind": kind,
                        "rows": rows})
    # a survey that puts its members or files in no section still shows them
    for kind, zh, _en in (("members", N_("家庭成员"), "Members"),
                          ("files", N_("照片与证件"), "Files")):
        if kind not in {box["kind"] for box in out}:
            out.append({"name": kind, "title": _(zh), "kind": kind, "rows": []})
    return out


def field_conflicts(reg: Registry, household: dict, children: dict[str, list[dict]]) -> list:
    """The open conflicts of the household and its records: which field, the values in
    contention (as people read them), and the resolve page for supervisors."""
    records = [("household", household, "")] + [
        (name, row, row.get("name") or row.get("visit_date") or row.get("filename") or "")
        for name in ("member", "visit", "attachment") for row in children.get(name, [])]
    devices = reg.device_names()
    here = url_for("dossier.show", household_id=household["id"])
    out = []
    for record_type, row, title in records:
        for c in open_conflicts(reg, record_type, row["id"]):
            f = _field(reg, record_type, c["field"])
            values = [{"shown": format_value(f, x["value"]) or "—", "by": x["by"],
                       "device": devices.get(x["device_id"], str(x["device_id"])[:8])}
                      for x in c["candidates"]]
            resolve = (url_for("sync.resolve_conflict", record_type=record_type,
                               record_id=row["id"], field=c["field"], next=here)
                       if has_role("supervisor") else None)
            out.append({"record_type": record_type, "field": c["field"],
                        "label": label(f.label) if f else c["field"],
                        "record": _(RECORD_NAMES.get(record_type, (record_type,))[0]),
                        "title": title, "candidates": values, "resolve": resolve})
    return out


@bp.route("/households/<household_id>")
@login_required
def show(household_id: str):
    """The household page."""
    reg = get_registry()
    household = reg.get("household", household_id)
    if household is None:
        abort(404)
    everything = {name: reg.children(name, household_id, deleted=True)
                  for name in ("member", "visit", "attachment")}
    children = {name: [r for r in rows if r["deleted"] is None]
                for name, rows in everything.items()}
    status_field = reg.definition.record("household").field("status")
    status = household.get("status") or "unsurveyed"
    moves = [(m, status_field.choice_label(m, lang())) for m in allowed_moves(status)
             if (m == "surveyed" or has_role("supervisor"))
             and not bare_move_refused(reg, household, m)]
    extra = [Markup(html) if not isinstance(html, Markup) else html
             for html in (fn(reg, household) for fn in PANELS) if html]
    attachment_fields = [f for f in reg.definition.record("household").fields
                         if f.type == "attachment"]
    conflicts = field_conflicts(reg, household, children)
    member_type = reg.definition.record("member")
    visit_type = reg.definition.record("visit")
    return render_template(
        "households/dossier.html", h=household, sections=sections(reg, household),
        members=children["member"], visits=children["visit"],
        attachments=children["attachment"], attachment_fields=attachment_fields,
        history=history(reg, household, everything), moves=moves,
        status_label=status_field.choice_label(status, lang()), status=status, panels=extra,
        member_fields=member_type.columns, visit_fields=visit_type.columns,
        fmt=format_value, when=local_time, today=localtime.today().isoformat(),
        visit_id=new_id(),  # the sidebar's visit form: posting it twice saves one visit
        conflicts=conflicts, conflicted={c["label"] for c in conflicts
                                         if c["record_type"] == "household"},
        user=g.user)
