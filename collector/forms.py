"""The household form, generated from the survey definition, with its members as repeat rows.

Every field of the household record is rendered from `reg.definition` (the status excepted: it
moves through the workflow). Members are rows named ``m-<key>-<field>`` that can be added and
removed; without JavaScript the "add a member row" and "remove" buttons post the form back and it
is rendered again with everything typed kept. The server's validation is the truth: errors come
back next to each field, in Chinese (or English), with the input kept. A save writes the household
and all its members in one transaction, and is acknowledged (redirect) only after it commits.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field

from anju.registry.core.changes import DELETED, new_id
from anju.registry.core.definition import Definition, Field
from anju.registry.core.store import InvalidEdits, Registry
from anju.registry.core.validation import localize
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from .auth import load_user, login_required
from .db import get_registry
from .drafts import held_page, resumable, saved
from .i18n import N_, _, label, lang

bp = Blueprint("forms", __name__)
NAV = [("forms.new", N_("新增住户"), "New household", "surveyor")]

# Household fields the form does not edit: the status moves only through the workflow.
NOT_IN_FORM = frozenset({"status"})
MEMBER_KEY = re.compile(r"^m-(\d{1,4})-([a-z][a-z0-9_]{0,39})$")
MAX_MEMBER_ROWS = 60
REMOVED_REASON = "从住户表单删除 removed in the household form"


@dataclass
class FormData:
    """What a household form holds: household values, member rows, members marked removed."""

    household: dict = field(default_factory=dict)
    members: list[dict] = field(default_factory=list)   # each: key, id, and member fields
    removed: list[str] = field(default_factory=list)


def household_fields(defn: Definition) -> list[Field]:
    """The household fields the form shows, in definition order."""
    return [f for f in defn.record("household").columns if f.name not in NOT_IN_FORM]


def member_fields(defn: Definition) -> list[Field]:
    return list(defn.record("member").columns)


def shown(value) -> str | list:
    """A stored value as the form shows it (text; a list for multiple choices)."""
    if value is None:
        return ""
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def from_records(defn: Definition, household: dict, members: list[dict]) -> FormData:
    """The form's values for a saved household and its members."""
    data = FormData(household={f.name: shown(household.get(f.name))
                               for f in household_fields(defn)})
    for i, m in enumerate(members):
        row = {f.name: shown(m.get(f.name)) for f in member_fields(defn)}
        data.members.append({"key": str(i), "id": m["id"], **row})
    return data


def from_post(defn: Definition, form, existing: dict, taken) -> FormData:
    """The form's values as posted.

    A row keeps its member id when the id is one of this household's members, or a fresh id the
    form was given for a new row (so that posting the same form twice saves the same members
    again). Any other id (malformed, or another household's member: `taken(id)`) is dropped
    and the row saved as a new member.
    """
    data = FormData()
    for f in household_fields(defn):
        data.household[f.name] = (form.getlist(f.name) if f.type == "select_multiple"
                                  else halfwidth(f, form.get(f.name, "")))
    by_name = {f.name: f for f in member_fields(defn)}
    names = set(by_name) | {"id"}
    rows: dict[int, dict] = {}
    for key in form:
        m = MEMBER_KEY.match(key)
        if m and m.group(2) in names:
            index = int(m.group(1))
            if index in rows or len(rows) < MAX_MEMBER_ROWS:
                rows.setdefault(index, {})[m.group(2)] = halfwidth(by_name.get(m.group(2)),
                                                                   form.get(key, ""))
    data.removed = [i for i in dict.fromkeys(form.getlist("removed_member")) if i in existing]
    for index in sorted(rows):
        row = {f: rows[index].get(f, "") for f in names}
        if row["id"] not in existing and (not _valid_uuid(row["id"]) or taken(row["id"])):
            row["id"] = new_id()
        if row["id"] and row["id"] in data.removed:
            continue
        data.members.append({"key": str(index), **row})
    return data


HALFWIDTH_TYPES = frozenset({"resident_id", "phone", "integer", "decimal"})


def halfwidth(f: Field | None, value: str) -> str:
    """Full-width digits and letters typed with a Chinese input method (１３８…, ｘ) as
    ordinary ones, in ID, phone and number fields: NFKC, as the validation also does."""
    if f is None or f.type not in HALFWIDTH_TYPES or not isinstance(value, str):
        return value
    return unicodedata.normalize("NFKC", value).strip()


def _blank(value) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def _is_blank_row(defn: Definition, row: dict, existing: dict) -> bool:
    """A new row left empty: no member to save (an existing member's row always counts)."""
    return row["id"] not in existing and all(_blank(row.get(f.name)) for f in member_fields(defn))


def _only_meaningful(values: dict, current: dict) -> dict:
    """Drop blank inputs for fields that have no value yet: they are not changes."""
    return {k: v for k, v in values.items() if not (_blank(v) and _blank(current.get(k)))}


def edits_of(reg: Registry, household_id: str, data: FormData, current: dict,
             existing: dict) -> list:
    """The edits a posted form makes, for save_many (which validates them, once)."""
    defn = reg.definition
    edits = [("household", household_id, _only_meaningful(data.household, current))]
    for row in data.members:
        if _is_blank_row(defn, row, existing):
            continue
        values = {f.name: row.get(f.name, "") for f in member_fields(defn)}
        values["household_id"] = household_id
        edits.append(("member", row["id"], _only_meaningful(values, existing.get(row["id"], {}))))
    edits += [("member", mid, {DELETED: REMOVED_REASON}) for mid in data.removed]
    return edits


def input_errors(exc: InvalidEdits, household_id: str, data: FormData) -> dict[str, list]:
    """The store's errors keyed by the form's input names, so each shows beside its input."""
    keys = {row["id"]: row["key"] for row in data.members}
    errors: dict[str, list] = {}
    for record_id, (_record_type, found) in exc.by_record.items():
        for name, codes in found.items():
            if record_id == household_id:
                errors[name] = codes
            elif record_id in keys:
                errors[f"m-{keys[record_id]}-{name}"] = codes
            else:
                errors[f"form-{name}"] = codes
    return errors


def error_texts(errors: dict) -> dict[str, str]:
    """Error codes as text in the user's language, keyed by input name."""
    return localize(errors, lang())


def field_hint(defn: Definition, f: Field) -> str:
    """The hint under a field: the survey's own hint, then when the field applies."""
    return " ".join(x for x in (label(f.hint) if f.hint else "", relevance_hint(defn, f)) if x)


def relevance_hint(defn: Definition, f: Field) -> str:
    """A short note saying when a conditional field applies (for pages without JavaScript)."""
    cond = f.relevant
    if not cond:
        return ""
    other = defn.record("household").field(cond["field"])
    if "gt" in cond:
        return _("仅当「%(label)s」大于 %(gt)s 时填写", label=label(other.label), gt=cond['gt'])
    wanted = cond.get("equals", cond.get("contains", cond.get("in")))
    wanted = wanted if isinstance(wanted, list) else [wanted]
    names = "、".join(other.choice_label(str(w), lang()) for w in wanted)
    return _("仅当「%(label)s」为「%(names)s」时填写", label=label(other.label), names=names)


def datalists(reg: Registry) -> dict[str, list[str]]:
    """Suggestions for free-text fields: the project's zones and cadres."""
    settings = reg.settings
    zones = [z.get("name") for z in settings.get("zones", []) if z.get("name")]
    cadres = [c for team in settings.get("teams", []) for c in team.get("cadres", [])]
    return {"zone": zones, "cadre": cadres}


def _render(reg: Registry, household_id: str, data: FormData, is_new: bool,
            errors: dict | None = None, status: int = 200):
    defn = reg.definition
    fields = household_fields(defn)
    sections = [(s, [f for f in fields if f.section == s.get("name")]) for s in defn.sections]
    known = {s.get("name") for s in defn.sections}
    unsectioned = [f for f in fields if f.section not in known]
    if unsectioned:
        sections.append(({"name": "other", "label": {"zh": "其他", "en": "Other"}}, unsectioned))
    # the member rows go in the section that holds the member repeat (a box of their own when
    # it is in none, as in a survey imported from an XLSForm without groups)
    repeat = next((f for f in defn.record("household").fields
                   if f.type == "repeat" and f.record == "member"), None)
    members_at = repeat.section if repeat and repeat.section in known else "members"
    if members_at not in known:
        sections.append(({"name": "members", "label": repeat.label if repeat else
                          {"zh": "家庭成员", "en": "Members"}}, []))
    keys = [int(r["key"]) for r in data.members]
    return render_template(
        "households/form.html", household_id=household_id, is_new=is_new, data=data,
        sections=sections, member_fields=member_fields(defn), errors=error_texts(errors or {}),
        next_key=max(keys, default=-1) + 1, hint=lambda f: field_hint(defn, f),
        datalists=datalists(reg), error_count=len(errors or {}), members_at=members_at,
        id_check_message=_("身份证号校验位错误"),
    ), status


def fresh_or_own(reg: Registry, posted: str, record_type: str, household_id: str | None = None):
    """The id a form posted for a record it creates, if it is a well-formed UUID that nothing
    else uses (or that record itself, posted again); otherwise a new id. A hostile form cannot
    make a household out of a member's id, nor take over another household's visit."""
    if not _valid_uuid(posted):
        return new_id()
    kind = reg.record_type_of(posted)
    if kind is None:
        return posted
    if kind != record_type:
        return new_id()
    if household_id is not None:
        row = reg.get(record_type, posted)
        if row is None or row.get("household_id") != household_id:
            return new_id()
    return posted


def _valid_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except (ValueError, TypeError, AttributeError):
        return False


@bp.route("/households/new", methods=("GET", "POST"))
@login_required
def new():
    """A new household. Its id is made when the form is first shown, so a repeated post (a
    double click, a retry after a lost answer) saves the same household again, not a twin."""
    if request.method == "POST":
        household_id = fresh_or_own(get_registry(), request.form.get("household_id", ""),
                                    "household")
    else:
        household_id = new_id()
    return _edit(household_id, is_new=True)


@bp.route("/households/<household_id>/edit", methods=("GET", "POST"))
@login_required
def edit(household_id: str):
    """Edit a household and its members (a follow-up visit updates the same records by id)."""
    return _edit(household_id, is_new=False)


def _edit(household_id: str, is_new: bool):
    reg = get_registry()
    current = reg.get("household", household_id)
    if current is not None and current.get("deleted"):
        abort(404)
    if current is None and not is_new:
        abort(404)
    current = current or {}
    existing = {m["id"]: m for m in reg.children("member", household_id)} if current else {}
    if request.method == "GET":
        data = from_records(reg.definition, current, list(existing.values()))
        if not data.members:
            data.members.append({"key": "0", "id": new_id()})
        return _render(reg, household_id, data, is_new)
    data = from_post(reg.definition, request.form, existing,
                     lambda mid: reg.record_type_of(mid) is not None)
    action = request.form.get("action", "save")
    if action == "add_member":
        keys = [int(r["key"]) for r in data.members]
        data.members.append({"key": str(max(keys, default=-1) + 1), "id": new_id()})
        return _render(reg, household_id, data, is_new)
    if action.startswith("remove_member-"):
        key = action.partition("-")[2]
        for row in [r for r in data.members if r["key"] == key]:
            data.members.remove(row)
            if row["id"] in existing:
                data.removed.append(row["id"])
        return _render(reg, household_id, data, is_new)
    try:
        reg.save_many(edits_of(reg, household_id, data, current, existing),
                      by=g.user["name"], full=True)
    except InvalidEdits as exc:
        return _render(reg, household_id, data, is_new,
                       input_errors(exc, household_id, data), 422)
    saved(f"household:{'new' if is_new else household_id}")
    flash(_("已保存住户 %(house_no)s", house_no=data.household.get('house_no', '')))
    return redirect(url_for("dossier.show", household_id=household_id))


@bp.app_errorhandler(CSRFError)
def csrf_error(exc: CSRFError):
    """A form without a valid CSRF token: say so in the user's language and keep what was
    posted (see collector/drafts.py): log in again if needed, then check and save."""
    load_user()  # the CSRF check runs before the request's login is read
    if g.user is None:
        message = _("登录已过期，表单未提交。您填写的内容没有丢失：请重新登录，然后检查并保存。")
    else:
        message = _("表单已失效（安全令牌不对），未提交。您填写的内容没有丢失：请点“继续”，然后检"
                    "查并保存。")
    return held_page(message, 400)


@resumable("forms.new")
@resumable("forms.edit")
def render_posted(values, household_id: str | None = None):
    """The household form again, filled in with posted values (after a re-login)."""
    reg = get_registry()
    is_new = household_id is None
    if is_new:
        household_id = fresh_or_own(reg, values.get("household_id", ""), "household")
    current = reg.get("household", household_id)
    if (current is None and not is_new) or (current or {}).get("deleted"):
        abort(404)
    existing = {m["id"]: m for m in reg.children("member", household_id)} if current else {}
    data = from_post(reg.definition, values, existing,
                     lambda mid: reg.record_type_of(mid) is not None)
    return _render(reg, household_id, data, is_new)
