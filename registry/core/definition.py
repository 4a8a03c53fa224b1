"""The survey definition: loads and checks schema/survey.yaml, the one source of fields.

Everything that knows about fields (database columns, validation, the form, publication) asks a
`Definition` rather than hard-coding names.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from anju.registry.core import contract as contract_mod
from anju.registry.core.errors import AnjuError
from anju.registry.core.i18n import N_

DEFAULT_PATH = Path(__file__).resolve().parent.parent.parent / "schema" / "survey.yaml"

FIELD_TYPES = {
    "text", "integer", "decimal", "date", "select_one", "select_multiple", "geopoint",
    "resident_id", "phone", "repeat", "attachment",
}
PUBLISH = {"plain", "masked", "total", "never"}
# What makes a field sensitive even without `sensitive: true`: its section or its record type
# (hardship, health, the members' data). A sensitive field is published as a controlled total
# or not at all (registry/publication/totals.py), never per household.
SENSITIVE_SECTIONS = frozenset({"hardship", "health", "members"})
SENSITIVE_RECORDS = frozenset({"member"})
# The members' counts are members' data wherever they sit (definitions stored before `sensitive`
# existed mark them nowhere else).
SENSITIVE_NAMES = re.compile(r"^(registered|resident|member)s?_count$")
NAMED_VALIDATORS = {"not_future_year", "person_name"}
CONSTRAINT_KEYS = {"min", "max", "pattern", "validator", "max_length"}
RELEVANT_OPS = {"equals", "in", "contains", "gt"}
# Columns every record table has, kept by the store, never named by a survey field.
SYSTEM_COLUMNS = ("id", "household_id", "deleted", "created_at", "created_by", "updated_at",
                  "updated_by")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
SQL_TYPES = {"integer": "INTEGER", "decimal": "REAL"}


class DefinitionError(AnjuError, ValueError):
    """A malformed survey definition; the message names the field and the problem."""

    zh = N_("调查表定义有误：%(detail)s")


@dataclass(frozen=True)
class Choice:
    value: str
    label: dict[str, str]


@dataclass(frozen=True)
class Field:
    """One question of the survey."""

    name: str
    type: str
    label: dict[str, str]
    section: str | None = None
    required: bool = False
    choices: tuple[Choice, ...] = ()
    constraint: dict[str, Any] = field(default_factory=dict)
    relevant: dict[str, Any] | None = None
    precision: int = 2
    publish: str = "never"
    record: str | None = None
    default: Any = None
    sensitive: bool = False
    hint: dict[str, str] | None = None

    @property
    def stored(self) -> bool:
        """Whether the field is a column of its record table (repeats and files are records)."""
        return self.type not in ("repeat", "attachment")

    @property
    def sql_type(self) -> str:
        return SQL_TYPES.get(self.type, "TEXT")

    def choice_label(self, value: str, lang: str = "zh") -> str:
        for choice in self.choices:
            if choice.value == value:
                return choice.label.get(lang) or choice.label["zh"]
        return value


@dataclass(frozen=True)
class RecordType:
    """A kind of record (household, member, visit, attachment) and its fields."""

    name: str
    label: dict[str, str]
    fields: tuple[Field, ...]
    parent: str | None = None

    @property
    def columns(self) -> list[Field]:
        return [f for f in self.fields if f.stored]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def has(self, name: str) -> bool:
        return any(f.name == name and f.stored for f in self.fields)


@dataclass(frozen=True, eq=False)
class Definition:
    """A whole survey definition, as loaded from YAML."""

    name: str
    version: int
    title: dict[str, str]
    sections: tuple[dict, ...]
    records: dict[str, RecordType]
    source: str

    @property
    def hash(self) -> str:
        """SHA-256 of the definition's text: which survey a database or pack was made with."""
        return hashlib.sha256(self.source.encode()).hexdigest()

    def record(self, name: str) -> RecordType:
        try:
            return self.records[name]
        except KeyError:
            raise DefinitionError(f"unknown record type {name!r}") from None

    def published(self, record: str = "household") -> list[Field]:
        return [f for f in self.records[record].columns if f.publish != "never"]


def load(path: str | Path | None = None) -> Definition:
    """Load and check a survey definition; raise DefinitionError naming the field at fault."""
    path = Path(path or DEFAULT_PATH)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DefinitionError(f"{path}: cannot read ({exc.strerror})") from None
    return parse(text, str(path))


# Parsed definitions by their text: every request of the web app opens the registry, and parsing
# the YAML each time would cost more than the save itself. A Definition is immutable.
_PARSED: dict[str, Definition] = {}


def parse(text: str, origin: str = "survey definition") -> Definition:
    """Build a Definition from YAML text, checking every field (cached by text)."""
    cached = _PARSED.get(text)
    if cached is None:
        cached = _parse(text, origin)
        if len(_PARSED) >= 16:
            _PARSED.clear()
        _PARSED[text] = cached
    return cached


def _parse(text: str, origin: str) -> Definition:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{origin}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("records"), dict):
        raise DefinitionError(f"{origin}: needs a 'records' mapping")
    version = raw.get("version", 1)
    if not isinstance(version, int) or version < 1:
        raise DefinitionError(f"{origin}: 'version' must be a positive integer")
    sections = tuple(raw.get("sections") or ())
    section_names = {s.get("name") for s in sections if isinstance(s, dict)}
    records = {}
    for rname, rraw in raw["records"].items():
        if rname not in contract_mod.SYSTEM_RECORDS:
            records[rname] = _record(rname, rraw, section_names)
    if "household" not in records:
        raise DefinitionError(f"{origin}: needs a 'household' record type")
    # System records are anju's own (schema/system_records.yaml): a survey's copy is replaced.
    for rname, rraw in _system_records().items():
        records[rname] = _record(rname, rraw, section_names)
    for rec in records.values():
        if rec.parent and rec.parent not in records:
            raise DefinitionError(f"record {rec.name}: unknown parent {rec.parent!r}")
        for f in rec.fields:
            if f.type == "repeat" and f.record not in records:
                raise DefinitionError(f"field {rec.name}.{f.name}: repeat of unknown record "
                                      f"{f.record!r}")
            if f.relevant and not rec.has(f.relevant["field"]):
                raise DefinitionError(f"field {rec.name}.{f.name}: relevant refers to unknown "
                                      f"field {f.relevant['field']!r}")
    lacking = contract_mod.problems(records)
    if lacking:
        raise DefinitionError(f"{origin}: " + "; ".join(lacking))
    return Definition(name=str(raw.get("name", "survey")), version=version,
                      title=_label(raw.get("title") or {"zh": "调查", "en": "Survey"}, origin),
                      sections=sections, records=records, source=text)


@functools.cache
def _system_records() -> dict:
    return yaml.safe_load(contract_mod.system_records_text())["records"]


def _label(raw: Any, where: str) -> dict[str, str]:
    if isinstance(raw, str):
        return {"zh": raw, "en": raw}
    if not isinstance(raw, dict) or not raw.get("zh"):
        raise DefinitionError(f"{where}: label needs a Chinese text under 'zh'")
    return {"zh": str(raw["zh"]), "en": str(raw.get("en") or raw["zh"])}


def _record(name: str, raw: Any, sections: set) -> RecordType:
    if not NAME_RE.match(name) or not isinstance(raw, dict):
        raise DefinitionError(f"record {name!r}: needs a lowercase name and a mapping")
    fields_raw = raw.get("fields")
    if not isinstance(fields_raw, list) or not fields_raw:
        raise DefinitionError(f"record {name}: needs a non-empty 'fields' list")
    fields, seen = [], set()
    for fraw in fields_raw:
        f = _field(name, fraw, sections)
        if f.name in seen:
            raise DefinitionError(f"field {name}.{f.name}: defined twice")
        seen.add(f.name)
        fields.append(f)
    return RecordType(name=name, label=_label(raw.get("label") or name, f"record {name}"),
                      fields=tuple(fields), parent=raw.get("parent"))


def _field(record: str, raw: Any, sections: set) -> Field:
    if not isinstance(raw, dict) or "name" not in raw:
        raise DefinitionError(f"record {record}: a field without a name: {raw!r}")
    name = str(raw["name"])
    where = f"field {record}.{name}"
    if not NAME_RE.match(name):
        raise DefinitionError(f"{where}: name must be lowercase letters, digits and _")
    if name in SYSTEM_COLUMNS:
        raise DefinitionError(f"{where}: name is reserved for the store")
    unknown = set(raw) - {"name", "type", "label", "section", "required", "choices", "constraint",
                          "relevant", "precision", "publish", "record", "default",
                          "sensitive", "hint"}
    if unknown:
        raise DefinitionError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    ftype = raw.get("type")
    if ftype not in FIELD_TYPES:
        raise DefinitionError(f"{where}: unknown type {ftype!r} (one of "
                              f"{', '.join(sorted(FIELD_TYPES))})")
    publish = raw.get("publish", "never")
    if publish not in PUBLISH:
        raise DefinitionError(f"{where}: publish must be one of plain, masked, total, never")
    section = raw.get("section")
    if section is not None and sections and section not in sections:
        raise DefinitionError(f"{where}: unknown section {section!r}")
    if "sensitive" in raw and not isinstance(raw["sensitive"], bool):
        raise DefinitionError(f"{where}: sensitive must be true or false")
    # An explicit `sensitive: false` cannot take a hardship or member field out of protection.
    sensitive = bool(raw.get("sensitive")) or section in SENSITIVE_SECTIONS \
        or record in SENSITIVE_RECORDS or bool(SENSITIVE_NAMES.match(name))
    if sensitive and publish in ("plain", "masked"):
        raise DefinitionError(
            f"{where}: 敏感字段（困难、健康、家庭成员信息）不能逐户公开 — a sensitive field "
            f"cannot be published {publish}; use publish: total (a disclosure-controlled "
            "project total) or never")
    if publish == "masked" and ftype != "text":
        raise DefinitionError(f"{where}: only a text field (a name) can be published masked")
    if publish != "never" and ftype in ("resident_id", "phone", "geopoint", "attachment"):
        raise DefinitionError(f"{where}: a {ftype} is never published")
    choices = ()
    if ftype in ("select_one", "select_multiple"):
        if not isinstance(raw.get("choices"), list) or not raw["choices"]:
            raise DefinitionError(f"{where}: a {ftype} needs a 'choices' list")
        choices = tuple(_choice(where, c) for c in raw["choices"])
    constraint = raw.get("constraint") or {}
    if not isinstance(constraint, dict) or set(constraint) - CONSTRAINT_KEYS:
        raise DefinitionError(f"{where}: constraint keys are {', '.join(sorted(CONSTRAINT_KEYS))}")
    if "pattern" in constraint:
        try:
            re.compile(constraint["pattern"])
        except re.error as exc:
            raise DefinitionError(f"{where}: bad pattern ({exc})") from None
    if constraint.get("validator") and constraint["validator"] not in NAMED_VALIDATORS:
        raise DefinitionError(f"{where}: unknown validator {constraint['validator']!r}")
    for bound in ("min", "max", "max_length"):
        if bound in constraint and not isinstance(constraint[bound], int | float):
            raise DefinitionError(f"{where}: constraint {bound} must be a number")
    relevant = raw.get("relevant")
    if relevant is not None:
        if (not isinstance(relevant, dict) or "field" not in relevant
                or len(set(relevant) & RELEVANT_OPS) != 1):
            raise DefinitionError(f"{where}: relevant needs 'field' and one of "
                                  f"{', '.join(sorted(RELEVANT_OPS))}")
    if ftype == "repeat" and not raw.get("record"):
        raise DefinitionError(f"{where}: a repeat needs 'record', the child record type")
    precision = raw.get("precision", 2)
    if not isinstance(precision, int) or not 0 <= precision <= 6:
        raise DefinitionError(f"{where}: precision must be 0..6")
    return Field(name=name, type=ftype, label=_label(raw.get("label") or name, where),
                 section=section, required=bool(raw.get("required", False)), choices=choices,
                 constraint=constraint, relevant=relevant, precision=precision, publish=publish,
                 record=raw.get("record"), default=raw.get("default"), sensitive=sensitive,
                 hint=_label(raw["hint"], where) if raw.get("hint") else None)


def _choice(where: str, raw: Any) -> Choice:
    if not isinstance(raw, dict) or "value" not in raw:
        raise DefinitionError(f"{where}: each choice needs a 'value'")
    return Choice(value=str(raw["value"]), label=_label(raw.get("label") or str(raw["value"]),
                                                        where))


def is_relevant(f: Field, values: dict) -> bool:
    """Whether field f applies given the record's other values (its declarative condition)."""
    cond = f.relevant
    if not cond:
        return True
    other = values.get(cond["field"])
    if "equals" in cond:
        return other == cond["equals"]
    if "in" in cond:
        return other in cond["in"]
    if "contains" in cond:
        return isinstance(other, list | tuple) and cond["contains"] in other
    try:
        return other is not None and float(other) > float(cond["gt"])
    except (TypeError, ValueError):
        return False
