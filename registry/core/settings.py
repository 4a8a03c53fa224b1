"""Project settings of the central office: zones with targets and deadlines, the freeze date, the
signing period, the area tolerance of the checks, the teams and their cadres.

Stored as JSON in meta 'settings' (the central pack carries it to the laptops) and validated with
marshmallow before every write. Which households a cadre is responsible for (包户) is not a
setting but each household's `cadre` field, so an assignment is a change that syncs (`assign`).
Errors are codes turned into Chinese or English by `error_lines`, as in registry/validation.py.
"""

from __future__ import annotations

import json
from typing import Any

from anju.registry.core.i18n import N_
from anju.registry.core.store import Registry, StoreError, transaction
from anju.registry.core.validation import message
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

DEFAULT_AREA_TOLERANCE = 0.05
# Settings `anju settings DB set KEY VALUE` may change; lists have their own subcommands.
SCALARS = ("freeze_date", "signing_start", "survey_start", "area_tolerance",
           "export_warn_hours", "signing_deadline", "objection_reply_days",
           "record_objection_days", "review_request_days", "appraisal_request_days",
           "administrative_review_days", "litigation_months", "selection_priority",
           "flat_area_tolerance")
# The lawful path's periods in days (months for litigation): registry/legal/common.py PERIODS.
LEGAL_PERIODS = ("objection_reply_days", "record_objection_days", "review_request_days",
                 "appraisal_request_days", "review_result_days", "administrative_review_days",
                 "litigation_months")

MESSAGES = {
    "duplicate_zone": (N_("片区名称重复"), "Zone name used twice"),
    "duplicate_team": (N_("工作组名称重复"), "Team name used twice"),
    "cadre_in_two_teams": (N_("干部 {} 在两个工作组中"), "Cadre {} is in two teams"),
    "not_a_list": (N_("应为列表"), "Must be a list"),
    "not_an_object": (N_("格式不正确"), "Wrong format"),
    "tolerance": (N_("应在 0 到 1 之间(如 0.05 表示 5%)"), "Must be between 0 and 1 (0.05 = 5%)"),
    "unknown_key": (N_("未知设置项"), "Unknown setting"),
    "hours": (N_("应为 1 到 720 之间的整数小时"), "Must be a whole number of hours, 1 to 720"),
    "signing_before_survey": (N_("签约开始日期早于调查开始日期"),
                              "Signing starts before the survey"),
    "unknown_cadre": (N_("不是任何工作组的干部"), "Not a cadre of any team"),
    "deadline_before_signing": (N_("签约期限早于签约开始日期"),
                                "Signing deadline before its start"),
    "period": (N_("应为 1 到 3650 之间的整数"), "Must be a whole number, 1 to 3650"),
    "priority": (N_("只能为 hardship(困难群体优先)或不设"), "Must be hardship or unset"),
    "flat_tolerance": (N_("应为 0 到 100 之间的平方米数"), "Must be 0 to 100 m²"),
}

_TEXT = {"required": "required", "invalid": "invalid_text", "null": "required"}
_DATE = {"required": "required", "invalid": "invalid_date", "null": "required"}
_INT = {"required": "required", "invalid": "invalid_integer", "null": "required"}
_LIST = {"invalid": "not_a_list"}
_NESTED = {"type": "not_an_object", "invalid": "not_an_object"}


def _text(max_length: int, **kw) -> fields.String:
    too_long = validate.Length(max=max_length, error=f"max_length|{max_length}")
    return fields.String(validate=[validate.Length(min=1, error="required"), too_long],
                         error_messages=_TEXT, **kw)


def _period() -> fields.Integer:
    return fields.Integer(load_default=None, allow_none=True, strict=False,
                          error_messages={"invalid": "period"},
                          validate=validate.Range(1, 3650, error="period"))


class ZoneSchema(Schema):
    """One zone (片区/地块): households are counted against its target by its deadline."""

    name = _text(40, required=True)
    code = fields.String(load_default=None, allow_none=True,
                         validate=validate.Length(max=8, error="max_length|8"))
    target = fields.Integer(required=True, strict=False, error_messages=_INT,
                            validate=validate.Range(min=0, error="min|0"))
    deadline = fields.Date(load_default=None, allow_none=True, error_messages=_DATE)


class TeamSchema(Schema):
    """A working team (工作组) and its cadres (包户干部)."""

    name = _text(40, required=True)
    cadres = fields.List(_text(40), load_default=list, error_messages=_LIST)


class SettingsSchema(Schema):
    """The whole settings document; keys other engineers add are kept as they are."""

    class Meta:
        unknown = INCLUDE

    zones = fields.List(fields.Nested(ZoneSchema, error_messages=_NESTED), load_default=list,
                        error_messages=_LIST)
    freeze_date = fields.Date(load_default=None, allow_none=True, error_messages=_DATE)
    signing_start = fields.Date(load_default=None, allow_none=True, error_messages=_DATE)
    survey_start = fields.Date(load_default=None, allow_none=True, error_messages=_DATE)
    area_tolerance = fields.Float(load_default=DEFAULT_AREA_TOLERANCE,
                                  error_messages={"invalid": "tolerance"},
                                  validate=validate.Range(0, 1, error="tolerance"))
    teams = fields.List(fields.Nested(TeamSchema, error_messages=_NESTED), load_default=list,
                        error_messages=_LIST)
    # Laptops show a banner when work has waited longer than this for an export.
    export_warn_hours = fields.Integer(load_default=None, allow_none=True,
                                       error_messages={"invalid": "hours"},
                                       validate=validate.Range(1, 720, error="hours"))

    # The end of the signing period of the compensation plan (签约期限): after it, a household
    # without an agreement may get a compensation decision (registry/legal/decisions.py).
    signing_deadline = fields.Date(load_default=None, allow_none=True, error_messages=_DATE)
    # The lawful path's periods (LEGAL_PERIODS); unset means registry/legal's default.
    objection_reply_days = _period()
    record_objection_days = _period()
    review_request_days = _period()
    appraisal_request_days = _period()
    review_result_days = _period()
    administrative_review_days = _period()
    litigation_months = _period()
    # Flat selection (registry/completion/selection.py): `hardship` when the plan gives hardship
    # households priority in the order; the m² within which another flat type's plan area
    # still fits an agreement's type.
    selection_priority = fields.String(load_default=None, allow_none=True,
                                       validate=validate.OneOf(["hardship"], error="priority"))
    flat_area_tolerance = fields.Float(load_default=None, allow_none=True,
                                       error_messages={"invalid": "flat_tolerance"},
                                       validate=validate.Range(0, 100, error="flat_tolerance"))

    @validates_schema
    def _consistent(self, data: dict, **kwargs) -> None:
        names = [z["name"] for z in data.get("zones") or ()]
        if len(names) != len(set(names)):
            raise ValidationError("duplicate_zone", "zones")
        teams = [t["name"] for t in data.get("teams") or ()]
        if len(teams) != len(set(teams)):
            raise ValidationError("duplicate_team", "teams")
        seen: set[str] = set()
        for team in data.get("teams") or ():
            for cadre in team["cadres"]:
                if cadre in seen:
                    raise ValidationError(f"cadre_in_two_teams|{cadre}", "teams")
                seen.add(cadre)
        start, signing = data.get("survey_start"), data.get("signing_start")
        if start and signing and signing < start:
            raise ValidationError("signing_before_survey", "signing_start")
        deadline = data.get("signing_deadline")
        if deadline and signing and deadline < signing:
            raise ValidationError("deadline_before_signing", "signing_deadline")


class SettingsError(StoreError):
    """Settings that fail validation; `errors` is marshmallow's nested dict of codes."""

    def __init__(self, errors: dict):
        self.errors = errors
        super().__init__("invalid settings: " + "; ".join(error_lines(errors, "en")))


def error_lines(errors: dict, lang: str = "zh", prefix: str = "") -> list[str]:
    """Flatten nested error codes into lines like 'zones.0.target: Must be at least 0'."""
    out = []
    for key, value in errors.items():
        where = f"{prefix}{key}"
        if isinstance(value, dict):
            out += error_lines(value, lang, where + ".")
            continue
        for code in value if isinstance(value, list) else [value]:
            out.append(f"{where}: {text(code, lang)}")
    return out


def text(code: str, lang: str = "zh") -> str:
    """The human text of a settings error code (falls back to the record validation texts)."""
    key, _, param = str(code).partition("|")
    if key not in MESSAGES:
        return message(code, lang)
    zh, en = MESSAGES[key]
    out = en if lang == "en" else zh
    return out.format(param) if param else out


def validate_settings(data: Any) -> tuple[dict, dict]:
    """(clean settings as stored JSON, errors) for a settings document."""
    schema = SettingsSchema()
    if not isinstance(data, dict):
        return {}, {"_schema": ["not_an_object"]}
    try:
        loaded = schema.load(data)
    except ValidationError as exc:
        return {}, exc.normalized_messages()
    clean = schema.dump(loaded)
    clean.update({k: v for k, v in loaded.items() if k not in schema.fields})
    return clean, {}


def load(reg: Registry) -> dict:
    """The project's settings with defaults filled in (as stored if they no longer validate)."""
    stored = reg.settings
    clean, errors = validate_settings(stored)
    return stored if errors else clean


def save(reg: Registry, data: dict) -> dict:
    """Validate and store the whole settings document; raise SettingsError, writing nothing."""
    clean, errors = validate_settings(data)
    if errors:
        raise SettingsError(errors)
    with transaction(reg.conn):
        reg.set_meta("settings", json.dumps(clean, ensure_ascii=False, sort_keys=True))
    return clean


def set_value(reg: Registry, key: str, value: str) -> dict:
    """Set one scalar setting from text ('' clears a date)."""
    if key not in SCALARS:
        raise SettingsError({key: ["unknown_key"]})
    data = load(reg)
    data[key] = value.strip() or None
    return save(reg, data)


def add_zone(reg: Registry, name: str, target: int, deadline: str | None = None,
             code: str | None = None) -> dict:
    """Add a zone with its target count and deadline."""
    data = load(reg)
    data["zones"] = [*data.get("zones", []),
                     {"name": name.strip(), "code": code, "target": target,
                      "deadline": deadline or None}]
    return save(reg, data)


def remove_zone(reg: Registry, name: str) -> dict:
    """Remove a zone from the settings (its households keep their zone field)."""
    data = load(reg)
    zones = [z for z in data.get("zones", []) if z["name"] != name]
    if len(zones) == len(data.get("zones", [])):
        raise StoreError(f"no zone named {name!r}")
    data["zones"] = zones
    return save(reg, data)


def set_team(reg: Registry, name: str, cadres: list[str]) -> dict:
    """Add a team, or replace the cadres of an existing one."""
    data = load(reg)
    teams = [t for t in data.get("teams", []) if t["name"] != name]
    teams.append({"name": name.strip(), "cadres": [c.strip() for c in cadres if c.strip()]})
    data["teams"] = teams
    return save(reg, data)


def cadres(settings: dict) -> dict[str, str]:
    """Each cadre's team: {cadre: team name}."""
    return {c: team["name"] for team in settings.get("teams") or () for c in team["cadres"]}


def assign(reg: Registry, cadre: str, house_nos: list[str], *, by: str) -> int:
    """Make a cadre responsible for households (包户), given by house number; return how many
    changed. Each assignment is a change of the household's `cadre` field, so it syncs."""
    cadre = cadre.strip()
    if cadre and cadre not in cadres(load(reg)):
        raise SettingsError({"cadre": ["unknown_cadre"]})
    ids = []
    missing = []
    for no in dict.fromkeys(n.strip() for n in house_nos if n.strip()):
        household = reg.household_by_number(no)
        (ids.append(household["id"]) if household else missing.append(no))
    if missing:
        raise StoreError("no household with house number " + ", ".join(missing))
    written = reg.save_many([("household", hid, {"cadre": cadre or None}) for hid in ids],
                            by=by, full=False)
    return len(written)


def responsibility(reg: Registry) -> list[dict]:
    """Each cadre with their team and the number of households they are responsible for."""
    teams = cadres(load(reg))
    counts = dict(reg.conn.execute(
        "SELECT cadre, count(*) FROM household WHERE deleted IS NULL AND cadre IS NOT NULL "
        "AND cadre != '' GROUP BY cadre"))
    names = list(teams) + sorted(set(counts) - set(teams))
    return [{"cadre": c, "team": teams.get(c), "households": counts.get(c, 0)} for c in names]
