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
from anju.registry.core.changes import now
from anju.registry.core.errors import AnjuError
from anju.registry.core.i18n import N_
from anju.registry.core.store import transaction
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validates_schema

DEFAULT_PATH = Path(__file__).resolve().parent.parent.parent / "schema" / "compensation.yaml"
META_KEY = "compensation"

RULE_MESSAGES = {
    "required": (N_("缺少此项"), "is missing"),
    "unknown": (N_("不是方案中的项(拼写错误?)"), "is not a known key (a typo?)"),
    "number": (N_("应为数字"), "must be a number"),
    "negative": (N_("不能为负数"), "must not be negative"),
    "positive": (N_("应大于 0"), "must be greater than 0"),
    "integer": (N_("应为非负整数"), "must be a whole number, 0 or more"),
    "share": (N_("应在 0 到 1 之间"), "must be between 0 and 1"),
    "date": (N_("日期格式应为 年-月-日"), "must be a date YYYY-MM-DD"),
    "boolean": (N_("应为 true 或 false"), "must be true or false"),
    "text": (N_("应为文字"), "must be text"),
    "mapping": (N_("应为 键: 值 的映射"), "must be a mapping of key: value"),
    "list": (N_("应为列表"), "must be a list"),
    "choice": (N_("应为 {} 之一"), "must be one of {}"),
    "key_choice": (N_("不是调查表中的选项,应为 {} 之一"),
                   "is not a choice of the survey; use one of {}"),
    "tier_kind": (N_("每档须有 amount(定额)或 percent(比例)之一"), "needs exactly one of amount, "
                  "percent"),
    "tier_order": (N_("天数须逐档递增"), "until_day must be greater than the previous tier's"),
    "percent": (N_("比例应在 0 到 100 之间"), "must be between 0 and 100"),
    "duplicate": (N_("与前面的房型代码重复"), "repeats an earlier flat code"),
    "duplicate_item": (N_("与前面的附属物代码重复"), "repeats an earlier attachment item code"),
    "reward_kind": (N_("须写 tiers(按签约后天数分档)或 deadline 与 amount(按期限日期)之一"),
                    "needs either tiers (days after signing) or deadline with amount"),
    "yaml": (N_("不是有效的 YAML"), "is not valid YAML"),
    "version_used": (N_("版本 {} 已有协议据以签订,内容不能再改;请使用新的版本号"),
                     "version {} has agreements signed under it and cannot change; "
                     "use a new version label"),
    "duplicate_key": (N_("重复出现(第 {} 行);后出现的会覆盖前面的,请删去一处"),
                      "is repeated (line {}); the later one would silently replace the earlier"),
}

# Suspicious rules: stored, but said (the web editor and the command line show them).
WARNING_MESSAGES = {
    "no_price": (N_("该片区没有此结构的评估单价,此类房屋无法签约"),
                 "has no unit price for this structure: such houses cannot be signed"),
    "zero_price": (N_("单价为 0"), "is a unit price of 0"),
    "fen": (N_("金额超过两位小数(分以下),计算结果将四舍五入到分"),
            "has more than 2 decimals (below the fen); results are rounded to the fen"),
    "tier_more": (N_("后一档签约奖励高于前一档"), "pays more than the earlier tier"),
    "reward_more": (N_("后一档交房奖励高于前一档"), "pays more than the earlier handover tier"),
    "zero_item": (N_("附属物单价为 0,清点的此项不补偿"), "is an attachment priced 0: counted items "
                  "of it get nothing"),
    "zone_missing": (N_("项目设置中的片区在方案中没有评估单价"),
                     "is a zone of the settings with no unit prices in the rules"),
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


class UnregisteredRule(_Strict):
    """无证面积: paid by its own price once found legal (illegal: nothing); replaces the
    area.unregistered_share rule when present."""

    legal_price = _Number(required=True)
    legal_max = _Number(load_default=None, allow_none=True)


class BusinessRule(_Strict):
    """停产停业损失 for houses actually used for business."""

    uses = fields.List(_Choice(("non_residential", "mixed")), load_default=lambda: [
        "non_residential"], error_messages={**_ERRORS, "invalid": "list"})
    rate = _Number(required=True)           # 元/m²/month on the recognised area
    months = _Count(positive=True, required=True)


class MinimumRule(_Strict):
    """保底: the house value computed on at least `area` m², and at least `amount` yuan."""

    area = _Number(load_default=Decimal(0))
    amount = _Number(load_default=Decimal(0))


class SwapTiers(_Strict):
    """扩面 pricing of a resettlement flat: up to the old house's recognised area at `within`,
    the next `band` m² at `band_price`, beyond at the flat's own unit price (market)."""

    within = _Number(required=True)
    band = _Number(load_default=Decimal(0))
    band_price = _Number(load_default=Decimal(0))


class Flat(_Strict):
    code = _Text(required=True)
    label = _Text(required=True)
    area = _Number(positive=True, required=True)
    unit_price = _Number(required=True)
    ready = _Flag(required=True)
    delivery_on = _Date()   # a future flat's expected delivery: transition months end there


ATTACHMENT_UNITS = ("m", "m2", "m3", "each", "tree", "well", "set", "place")


class AttachmentItem(_Strict):
    """One line of the attachments price list (附属物: walls, wells, trees)."""

    code = _Text(required=True)
    name = _Text(required=True)
    unit = _Choice(ATTACHMENT_UNITS, required=True)
    unit_price = _Number(required=True)


class RewardTier(_Strict):
    until_day = _Count(required=True)   # days after the signing day (0: the same day)
    amount = _Number(required=True)


class HandoverReward(_Strict):
    """按期交房奖励: by days after signing (`tiers`) or by a deadline date (`deadline`,
    `amount`); paid only when the handover record is dated on time."""

    tiers = fields.List(_nested(RewardTier), error_messages={**_ERRORS, "invalid": "list"})
    deadline = _Date()
    amount = _Number()

    @validates_schema
    def one_kind(self, data, **kwargs):
        by_days = bool(data.get("tiers"))
        by_date = "deadline" in data and "amount" in data
        if by_days == by_date or (by_days and ("deadline" in data or "amount" in data)):
            raise ValidationError("reward_kind")
        days = [t["until_day"] for t in data.get("tiers") or []]
        for i in range(1, len(days)):
            if days[i] <= days[i - 1]:
                raise ValidationError({"tiers": {i: {"until_day": ["tier_order"]}}})


def rules_schema(context: dict[str, list[str]]) -> Schema:
    """The schema of a whole rules file; structures and decoration levels come from the survey
    definition (`context`), so a price for a structure the survey cannot record is refused."""
    structures = tuple(context.get("structure", ()))
    decorations = tuple(context.get("decoration", ()))
    hardships = tuple(context.get("hardship", ()))

    class hardship_rule(_Strict):  # noqa: N801 (a schema made per survey)
        """困难补助 by hardship type; a household of several types gets the largest (or the
        sum, combine: sum)."""

        amounts = _mapping(hardships, _Number(), required=True)
        combine = _Choice(("max", "sum"), load_default="max")

    class Rules(_Strict):
        name = _Text(required=True)
        version = _Text(load_default="1")
        effective_from = _Date(load_default=None, allow_none=True)
        area = _nested(AreaRule, load_default=lambda: AreaRule().load({}))
        unit_prices = fields.Dict(keys=_Text(), values=_mapping(structures, _Number()),
                                  required=True, error_messages={**_ERRORS, "invalid": "mapping"})
        decoration = _mapping(decorations, _Number(), required=True)
        moving = _nested(MovingRule, required=True)
        temporary = _nested(TemporaryRule, required=True)
        incentive = _nested(IncentiveRule, load_default=lambda: {"start": None, "tiers": []})
        flats = fields.List(_nested(Flat), load_default=list,
                            error_messages={**_ERRORS, "invalid": "list"})
        unregistered = _nested(UnregisteredRule, load_default=None, allow_none=True)
        business = _nested(BusinessRule, load_default=None, allow_none=True)
        hardship = _nested(hardship_rule, load_default=None, allow_none=True)
        minimum = _nested(MinimumRule, load_default=None, allow_none=True)
        swap_tiers = _nested(SwapTiers, load_default=None, allow_none=True)
        attachments = fields.List(_nested(AttachmentItem), load_default=list,
                                  error_messages={**_ERRORS, "invalid": "list"})
        handover_reward = _nested(HandoverReward, load_default=None, allow_none=True)

        @validates_schema
        def unique_items(self, data, **kwargs):
            seen = set()
            for i, entry in enumerate(data.get("attachments", [])):
                if entry["code"] in seen:
                    raise ValidationError({"attachments": {i: {"code": ["duplicate_item"]}}})
                seen.add(entry["code"])

        @validates_schema
        def unique_flats(self, data, **kwargs):
            seen = set()
            for i, flat in enumerate(data.get("flats", [])):
                if flat["code"] in seen:
                    raise ValidationError({"flats": {i: {"code": ["duplicate"]}}})
                seen.add(flat["code"])

        @post_load
        def complete(self, data, **kwargs):
            data["area"]["separate"] = data.get("unregistered") is not None
            data.setdefault("incentive", {"start": None, "tiers": []})
            data["incentive"].setdefault("tiers", [])
            data["incentive"].setdefault("start", None)
            return data

    return Rules()


# -- loading and storing a project's rules -----------------------------------------------------
class RulesError(AnjuError, ValueError):
    """Compensation rules that cannot be used; `problems` lists (key path, problem) pairs."""

    zh = N_("补偿方案有误：%(detail)s")

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


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader with dates left as text: an impossible date (2026-02-30) is then a
    problem named by its key (the schema checks every date), not a crash while reading."""


def _timestamp(loader: yaml.SafeLoader, node: yaml.Node):
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def _duplicates(node: yaml.Node, path: tuple = ()) -> list[tuple[str, str]]:
    """Keys repeated within one mapping, anywhere in the document: (dotted key, code)."""
    out = []
    if isinstance(node, yaml.MappingNode):
        seen: set = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key in seen:
                out.append((_dotted(path + (key,)),
                            f"duplicate_key|{key_node.start_mark.line + 1}"))
            seen.add(key)
            out += _duplicates(value_node, path + ((key,) if key is not None else ()))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out += _duplicates(item, path + (i,))
    return out


def load_yaml(text: str) -> Any:
    """Read rules YAML strictly: a repeated key anywhere is refused (with its line), never
    resolved by the last one winning; dates stay text for the schema to check."""
    try:
        node = yaml.compose(text, Loader=_StrictLoader)
        duplicates = _duplicates(node) if node is not None else []
        if duplicates:
            raise RulesError(duplicates)
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except RulesError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise RulesError([(where, "yaml")]) from None
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise RulesError([("", "yaml")]) from None


def _parse(text: str, defn: definition_mod.Definition) -> Rules:
    raw = load_yaml(text)
    if not isinstance(raw, dict):
        raise RulesError([("", "mapping")])
    household = defn.record("household")
    context = {name: [c.value for c in household.field(name).choices]
               for name in ("structure", "decoration", "hardship") if household.has(name)}
    try:
        data = rules_schema(context).load(raw)
    except ValidationError as exc:
        raise RulesError(sorted(_flatten(exc.messages))) from None
    return Rules(data=data, text=text)


def rule_warnings(rules: Rules, definition: definition_mod.Definition | None = None,
                  settings: dict | None = None) -> list[tuple[str, str]]:
    """Suspicious but usable rules, as (key, code) pairs for `warning_text`: a zone without a
    price for a structure the survey records, a unit price of 0, an amount below the fen, a
    later signing-incentive tier paying more than an earlier one, a zone of the settings that
    the rules do not price."""
    defn = definition or definition_mod.load()
    household = defn.record("household")
    structures = ([c.value for c in household.field("structure").choices]
                  if household.has("structure") else [])
    data = rules.data
    out: list[tuple[str, str]] = []
    for zone, prices in data["unit_prices"].items():
        for structure in structures:
            if structure not in prices:
                out.append((f"unit_prices.{zone}.{structure}", "no_price"))
        for structure, price in prices.items():
            if price == 0:
                out.append((f"unit_prices.{zone}.{structure}", "zero_price"))
    for zone in (settings or {}).get("zones") or ():
        name = zone.get("name") if isinstance(zone, dict) else None
        if name and name not in data["unit_prices"]:
            out.append((f"unit_prices.{name}", "zone_missing"))
    amounts = [(f"unit_prices.{z}.{k}", v) for z, p in data["unit_prices"].items()
               for k, v in p.items()]
    amounts += [(f"decoration.{k}", v) for k, v in data["decoration"].items()]
    amounts += [(f"moving.{k}", data["moving"][k]) for k in ("rate", "minimum")]
    amounts += [("temporary.rate", data["temporary"]["rate"])]
    amounts += [(f"incentive.tiers[{i}].amount", t["amount"])
                for i, t in enumerate(data["incentive"]["tiers"]) if "amount" in t]
    amounts += [(f"flats[{i}].unit_price", f["unit_price"]) for i, f in enumerate(data["flats"])]
    if data.get("unregistered"):
        amounts.append(("unregistered.legal_price", data["unregistered"]["legal_price"]))
    if data.get("business"):
        amounts.append(("business.rate", data["business"]["rate"]))
    if data.get("hardship"):
        amounts += [(f"hardship.amounts.{k}", v) for k, v in data["hardship"]["amounts"].items()]
    if data.get("minimum"):
        amounts.append(("minimum.amount", data["minimum"]["amount"]))
    if data.get("swap_tiers"):
        amounts += [(f"swap_tiers.{k}", data["swap_tiers"][k]) for k in ("within", "band_price")]
    for i, entry in enumerate(data.get("attachments") or []):
        amounts.append((f"attachments[{i}].unit_price", entry["unit_price"]))
        if entry["unit_price"] == 0:
            out.append((f"attachments[{i}].unit_price", "zero_item"))
    reward = data.get("handover_reward") or {}
    if "amount" in reward:
        amounts.append(("handover_reward.amount", reward["amount"]))
    for i, tier in enumerate(reward.get("tiers") or []):
        amounts.append((f"handover_reward.tiers[{i}].amount", tier["amount"]))
        if i and tier["amount"] > reward["tiers"][i - 1]["amount"]:
            out.append((f"handover_reward.tiers[{i}].amount", "reward_more"))
    out += [(key, "fen") for key, value in amounts if value != value.quantize(Decimal("0.01"))]
    tiers = data["incentive"]["tiers"]
    for i in range(1, len(tiers)):
        for kind in ("amount", "percent"):
            if kind in tiers[i] and kind in tiers[i - 1] and tiers[i][kind] > tiers[i - 1][kind]:
                out.append((f"incentive.tiers[{i}].{kind}", "tier_more"))
    return out


def warning_text(warnings: list[tuple[str, str]], lang: str = "en") -> list[tuple[str, str]]:
    """Warnings as (key, sentence) pairs in Chinese or English."""
    return [(key, WARNING_MESSAGES[code][0 if lang != "en" else 1]) for key, code in warnings]


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


def set_rules(reg, text: str, *, by: str | None = None) -> Rules:
    """Check and store a project's rules as its current rules and as the version they name
    (`version`, from `effective_from`); nothing is written when they are invalid, or when they
    would change the text of a version some agreement was signed under."""
    rules = parse_rules(text, reg.definition)
    old = _version_row(reg, rules.version)
    if old is not None and old[1] != rules.hash and _version_in_use(reg, rules.version, old[1]):
        raise RulesError([("version", f"version_used|{rules.version}")])
    earlier = _unversioned(reg, rules)
    with transaction(reg.conn):
        if earlier is not None:  # rules stored before versions were kept: keep them as one
            _store_version(reg, earlier, None)
        reg.set_meta(META_KEY, text)
        reg.conn.execute(
            "INSERT INTO rules_version (version, effective_from, text, hash, stored_at, "
            "stored_by) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(version) DO UPDATE SET "
            "effective_from = excluded.effective_from, text = excluded.text, "
            "hash = excluded.hash, stored_at = excluded.stored_at, stored_by = excluded.stored_by",
            (rules.version, rules.data.get("effective_from"), text, rules.hash, now(), by))
    return rules


def _unversioned(reg, new: Rules) -> Rules | None:
    """The registry's current rules when no version is kept yet and they differ from `new`."""
    if reg.conn.execute("SELECT 1 FROM rules_version LIMIT 1").fetchone():
        return None
    text = reg.meta(META_KEY)
    if not text:
        return None
    try:
        old = parse_rules(text, reg.definition)
    except RulesError:
        return None
    return old if old.version != new.version else None


def _store_version(reg, rules: Rules, by: str | None) -> None:
    reg.conn.execute(
        "INSERT OR IGNORE INTO rules_version (version, effective_from, text, hash, stored_at, "
        "stored_by) VALUES (?, ?, ?, ?, ?, ?)",
        (rules.version, rules.data.get("effective_from"), rules.text, rules.hash, now(), by))


def _version_row(reg, version: str) -> tuple | None:
    return reg.conn.execute("SELECT text, hash, effective_from FROM rules_version "
                            "WHERE version = ?", (version,)).fetchone()


def _version_in_use(reg, version: str, digest: str) -> bool:
    """Whether an agreement froze this version (label and hash) in its breakdown."""
    if "agreement" not in reg.definition.records:
        return False
    return reg.conn.execute(
        "SELECT 1 FROM agreement WHERE json_valid(breakdown) AND "
        "json_extract(breakdown, '$.rules.version') = ? AND "
        "json_extract(breakdown, '$.rules.hash') = ? LIMIT 1", (version, digest)).fetchone() \
        is not None


def versions(reg) -> list[dict]:
    """The stored rules versions, earliest effective first (those from the start first)."""
    rows = reg.conn.execute("SELECT version, effective_from, hash, stored_at, stored_by "
                            "FROM rules_version").fetchall()
    out = [dict(zip(("version", "effective_from", "hash", "stored_at", "stored_by"), r))
           for r in rows]
    return sorted(out, key=lambda v: (v["effective_from"] or "", v["stored_at"]))


def rules_version(reg, version: str, digest: str | None = None) -> Rules | None:
    """One stored version by its label (and hash, when given), or None."""
    row = _version_row(reg, version)
    if row is not None and (digest is None or row[1] == digest):
        return parse_rules(row[0], reg.definition)
    current = reg.meta(META_KEY) or default_rules_text()
    rules = parse_rules(current, reg.definition) if current else None
    if rules is not None and rules.version == version and digest in (None, rules.hash):
        return rules
    return None


def rules_on(reg, day: dt.date | str) -> Rules:
    """The rules in force on `day`: the stored version with the latest effective date not after
    it (a version without one applies from the start); the current rules when no version is
    stored yet, or none is in force that early."""
    day = day.isoformat() if isinstance(day, dt.date) else str(day)
    best = None
    for v in versions(reg):
        if (v["effective_from"] or "") <= day:
            best = v
    if best is None:
        return rules_of(reg)
    return rules_version(reg, best["version"]) or rules_of(reg)


def export_versions(reg) -> list[dict]:
    """Every stored version with its text, for the central registry's packs."""
    rows = reg.conn.execute("SELECT version, effective_from, text, hash, stored_at, stored_by "
                            "FROM rules_version ORDER BY version").fetchall()
    return [dict(zip(("version", "effective_from", "text", "hash", "stored_at", "stored_by"), r))
            for r in rows]


def learn_versions(reg, rows) -> int:
    """Take the central registry's versions (a laptop merging a central pack); rows that do
    not parse as rules are skipped. Returns how many were taken."""
    if not isinstance(rows, list):
        return 0
    taken = 0
    for row in rows:
        try:
            text, version = row["text"], row["version"]
            rules = parse_rules(text, reg.definition)
        except (KeyError, TypeError, RulesError):
            continue
        if rules.version != version:
            continue
        reg.conn.execute(
            "INSERT INTO rules_version (version, effective_from, text, hash, stored_at, "
            "stored_by) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(version) DO UPDATE SET "
            "effective_from = excluded.effective_from, text = excluded.text, "
            "hash = excluded.hash, stored_at = excluded.stored_at, stored_by = excluded.stored_by",
            (version, rules.data.get("effective_from"), text, rules.hash,
             str(row.get("stored_at") or ""), row.get("stored_by")))
        taken += 1
    return taken


def missing_zones(reg, rules: Rules) -> list[str]:
    """Zones of the project settings that the rules give no unit prices for."""
    return [z["name"] for z in reg.settings.get("zones", [])
            if z.get("name") and z["name"] not in rules.data["unit_prices"]]
