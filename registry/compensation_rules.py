"""The shape of a project's compensation rules, as marshmallow schemas (see compensation.py).

Errors are codes ("number", "choice|a, b") so that the web app and the command line can say
them in Chinese or English, each after the key it concerns.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validates_schema

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
