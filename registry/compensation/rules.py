"""A project's compensation rules (补偿方案): their shape as marshmallow schemas, checking YAML
rules text, and storing them in the registry (meta 'compensation'); compensation.py calculates.

Errors are codes ("number", "choice|a, b") so that the web app and the command line can say
them in Chinese or English, each after the key it concerns.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from anju.registry.core import definition as definition_mod
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validates_schema

DEFAULT_PATH = Path(__file__).resolve().parent.parent.parent / "schema" / "compensation.yaml"
META_KEY = "compensation"

RULE_MESSAGES = {
    "required": ("缺少此项", "is missing"),
    "unknown": ("不是方案中的项(拼写错误?)", "is not a known key (a typo?)"),
    "number": ("应为数字", "must be a number"),
    "negative": ("不能为负数", "must not be negative"),
    "positive": ("应大于 0", "must be greater than 0"),
    "integer": ("应为非负整数", "must be a whole number, 0 or more"),
    "share": ("应在 0 到 1 之间", "must be between 0 and 1"),
    "date": ("日期格式应为 年-月-日", "must be a date YYYY-MM-DD"),
    "boolean": ("应为 true 或 false", "must be true or false"),
    "text": ("应为文字", "must be text"),
    "mapping": ("应为 键: 值 的映射", "must be a mapping of key: value"),
    "list": ("应为列表", "must be a list"),
    "choice": ("应为 {} 之一", "must be one of {}"),
    "key_choice": ("不是调查表中的选项,应为 {} 之一",
                   "is not a choice of the survey; use one of {}"),
    "tier_kind": ("每档须有 amount(定额)或 percent(比例)之一", "needs exactly one of amount, "
                  "percent"),
    "tier_order": ("天数须逐档递增", "until_day must be greater than the previous tier's"),
    "percent": ("比例应在 0 到 100 之间", "must be between 0 and 100"),
    "duplicate": ("与前面的房型代码重复", "repeats an earlier flat code"),
    "yaml": ("不是有效的 YAML", "is not valid YAML"),
}

_ERRORS = {"required": "required", "null": "required"}


class _Number(fields.Field):
    """An exact decimal number: never negative; optionally positive or at most a bound."""

    def __init__(self, *, positive: bool = False, at_most: Decimal | None = None,
                 code: str = "share", **kwargs):
        super().__init__(error_messages=_ERRORS, **kwargs)
        self.positive, self.at_most, self.code = positive, at_most, code

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValidationError("number")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValidationError("number") from None
        if not number.is_finite():
            raise ValidationError("number")
        if number < 0:
            raise ValidationError("negative")
        if self.positive and number == 0:
            raise ValidationError("positive")
        if self.at_most is not None and number > self.at_most:
            raise ValidationError(self.code)
        return number


class _Count(fields.Field):
    """A whole number of months or days, 0 or more (1 or more when positive)."""

    def __init__(self, *, positive: bool = False, **kwargs):
        super().__init__(error_messages=_ERRORS, **kwargs)
        self.positive = positive

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError("integer")
        if self.positive and value == 0:
            raise ValidationError("positive")
        return value


class _Text(fields.Field):
    def __init__(self, **kwargs):
        super().__init__(error_messages=_ERRORS, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValidationError("text")
        text = str(value).strip()
        if not text:
            raise ValidationError("required")
        return text


class _Date(fields.Field):
    def __init__(self, **kwargs):
        super().__init__(error_messages=_ERRORS, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dt.date):
            return value.isoformat()
        try:
            return dt.date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise ValidationError("date") from None


class _Choice(fields.Field):
    def __init__(self, values: tuple[str, ...], code: str = "choice", **kwargs):
        super().__init__(error_messages=_ERRORS, **kwargs)
        self.values, self.code = values, code

    def _deserialize(self, value, attr, data, **kwargs):
        if value not in self.values:
            raise ValidationError(f"{self.code}|{', '.join(self.values)}")
        return value


class _Flag(fields.Field):
    def __init__(self, **kwargs):
        super().__init__(error_messages=_ERRORS, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("boolean")
        return value


class _Strict(Schema):
    """A mapping with known keys only; a misspelt key is an error, not silently ignored."""

    error_messages = {"unknown": "unknown", "type": "mapping"}

    class Meta:
        unknown = RAISE


def _nested(schema, **kwargs) -> fields.Nested:
    return fields.Nested(schema, error_messages={**_ERRORS, "type": "mapping"}, **kwargs)


def _mapping(keys: tuple[str, ...], values: fields.Field, **kwargs) -> fields.Dict:
    return fields.Dict(keys=_Choice(keys, code="key_choice"), values=values,
                       error_messages={**_ERRORS, "invalid": "mapping"}, **kwargs)


class AreaRule(_Strict):
    basis = _Choice(("cert_area", "surveyed_area", "smaller"), load_default="cert_area")
    unregistered_share = _Number(at_most=Decimal(1), load_default=Decimal(0))
    unregistered_max = _Number(load_default=Decimal(0))
    unregistered_built_after_freeze = _Flag(load_default=False)


class MovingRule(_Strict):
    rate = _Number(required=True)
    minimum = _Number(load_default=Decimal(0))


class MonthsRule(_Strict):
    money = _Count(required=True)
    swap_ready = _Count(required=True)
    swap_future = _Count(required=True)


class TemporaryRule(_Strict):
    rate = _Number(required=True)
    minimum_area = _Number(load_default=Decimal(0))
    months = _nested(MonthsRule, required=True)
    double_after = _Count(load_default=None, allow_none=True)
    double_factor = _Number(positive=True, load_default=Decimal(2))


class Tier(_Strict):
    until_day = _Count(positive=True, required=True)
    amount = _Number()
    percent = _Number(at_most=Decimal(100), code="percent")

    @validates_schema
    def one_kind(self, data, **kwargs):
        if ("amount" in data) == ("percent" in data):
            raise ValidationError("tier_kind")


class IncentiveRule(_Strict):
    start = _Date(load_default=None, allow_none=True)
    tiers = fields.List(_nested(Tier), load_default=list,
                        error_messages={**_ERRORS, "invalid": "list"})

    @validates_schema
    def increasing(self, data, **kwargs):
        days = [t["until_day"] for t in data.get("tiers", [])]
        for i in range(1, len(days)):
            if days[i] <= days[i - 1]:
                raise ValidationError({"tiers": {i: {"until_day": ["tier_order"]}}})


class Flat(_Strict):
    code = _Text(required=True)
    label = _Text(required=True)
    area = _Number(positive=True, required=True)
    unit_price = _Number(required=True)
    ready = _Flag(required=True)


def rules_schema(context: dict[str, list[str]]) -> Schema:
    """The schema of a whole rules file; structures and decoration levels come from the survey
    definition (`context`), so a price for a structure the survey cannot record is refused."""
    structures = tuple(context.get("structure", ()))
    decorations = tuple(context.get("decoration", ()))

    class Rules(_Strict):
        name = _Text(required=True)
        version = _Text(load_default="1")
        area = _nested(AreaRule, load_default=lambda: AreaRule().load({}))
        unit_prices = fields.Dict(keys=_Text(), values=_mapping(structures, _Number()),
                                  required=True, error_messages={**_ERRORS, "invalid": "mapping"})
        decoration = _mapping(decorations, _Number(), required=True)
        moving = _nested(MovingRule, required=True)
        temporary = _nested(TemporaryRule, required=True)
        incentive = _nested(IncentiveRule, load_default=lambda: {"start": None, "tiers": []})
        flats = fields.List(_nested(Flat), load_default=list,
                            error_messages={**_ERRORS, "invalid": "list"})

        @validates_schema
        def unique_flats(self, data, **kwargs):
            seen = set()
            for i, flat in enumerate(data.get("flats", [])):
                if flat["code"] in seen:
                    raise ValidationError({"flats": {i: {"code": ["duplicate"]}}})
                seen.add(flat["code"])

        @post_load
        def complete(self, data, **kwargs):
            data.setdefault("incentive", {"start": None, "tiers": []})
            data["incentive"].setdefault("tiers", [])
            data["incentive"].setdefault("start", None)
            return data

    return Rules()


# -- loading and storing a project's rules -----------------------------------------------------
class RulesError(ValueError):
    """Compensation rules that cannot be used; `problems` lists (key path, problem) pairs."""

    def __init__(self, problems: list[tuple[str, str]], lang: str = "en"):
        self.problems = problems
        super().__init__(self.text("en"))

    def lines(self, lang: str = "en") -> list[tuple[str, str]]:
        """(key, problem) pairs in Chinese or English."""
        return [(key, _problem(code, lang)) for key, code in self.problems]

    def text(self, lang: str = "en") -> str:
        """All problems in one line per key, in Chinese or English."""
        return "; ".join(f"{key}: {_problem(code, lang)}" if key else _problem(code, lang)
                         for key, code in self.problems)


def _problem(code: str, lang: str) -> str:
    name, _, param = code.partition("|")
    zh, en = RULE_MESSAGES.get(name, (name, name))
    return (en if lang == "en" else zh).format(param)


@dataclass(frozen=True)
class Rules:
    """A checked set of compensation rules and the YAML text it came from."""

    data: dict
    text: str

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    @property
    def name(self) -> str:
        return self.data["name"]

    @property
    def version(self) -> str:
        return self.data["version"]

    def flat(self, code: str) -> dict | None:
        return next((f for f in self.data["flats"] if f["code"] == code), None)


def parse_rules(text: str, definition: definition_mod.Definition | None = None) -> Rules:
    """Check YAML rules text; raise RulesError naming each bad key and its problem."""
    defn = definition or definition_mod.load()
    key = (text, defn.hash)
    if key not in _PARSED:
        rules = _parse(text, defn)
        if len(_PARSED) >= 16:  # a few projects' rules, not every edit ever tried
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[key] = rules
    return _PARSED[key]


# Checked rules by (text, survey definition hash): parsing takes ~20 ms and a household page
# needs the rules every time. Rules are never mutated after parsing.
_PARSED: dict[tuple[str, str], Rules] = {}


def _parse(text: str, defn: definition_mod.Definition) -> Rules:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise RulesError([(where, "yaml")]) from None
    if not isinstance(raw, dict):
        raise RulesError([("", "mapping")])
    household = defn.record("household")
    context = {name: [c.value for c in household.field(name).choices]
               for name in ("structure", "decoration") if household.has(name)}
    try:
        data = rules_schema(context).load(raw)
    except ValidationError as exc:
        raise RulesError(sorted(_flatten(exc.messages))) from None
    return Rules(data=data, text=text)


def _flatten(errors: Any, path: tuple = ()) -> list[tuple[str, str]]:
    """marshmallow's nested error dict as (dotted key, code) pairs."""
    if isinstance(errors, dict):
        out = []
        for key, sub in errors.items():
            # Dict fields nest under "key"/"value"; schema-wide errors under "_schema".
            step = () if key in ("key", "value", "_schema") else (key,)
            out += _flatten(sub, path + step)
        return out
    if isinstance(errors, list) and errors and all(isinstance(e, str) for e in errors):
        return [(_dotted(path), code) for code in errors]
    if isinstance(errors, list):
        return [p for e in errors for p in _flatten(e, path)]
    return [(_dotted(path), str(errors))]


def _dotted(path: tuple) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def default_rules_text() -> str:
    """The example rules shipped in schema/compensation.yaml."""
    return DEFAULT_PATH.read_text(encoding="utf-8")


def rules_of(reg) -> Rules:
    """The project's rules: meta 'compensation' of the registry, or the example when absent."""
    return parse_rules(reg.meta(META_KEY) or default_rules_text(), reg.definition)


def rules_are_stored(reg) -> bool:
    """Whether the project has its own rules (otherwise the example file is in use)."""
    return bool(reg.meta(META_KEY))


def set_rules(reg, text: str) -> Rules:
    """Check and store a project's rules; nothing is written when they are invalid."""
    rules = parse_rules(text, reg.definition)
    reg.set_meta(META_KEY, text)
    return rules


def missing_zones(reg, rules: Rules) -> list[str]:
    """Zones of the project settings that the rules give no unit prices for."""
    return [z["name"] for z in reg.settings.get("zones", [])
            if z.get("name") and z["name"] not in rules.data["unit_prices"]]
