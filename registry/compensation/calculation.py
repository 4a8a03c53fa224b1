"""Compensation: each household's breakdown (分户补偿测算) under a project's rules (补偿方案).

The rules are YAML (schema/compensation.yaml is the example), kept per project in the registry's
meta 'compensation' and checked in compensation_rules.py: a bad key or value is refused with a
message naming the key and the problem. `calculate` turns one household's survey (recognised
area, zone, structure, decoration) and a signing date into a breakdown for money (货币补偿) or a
flat swap (产权调换): each item with its basis, its formula in words and its amount, in exact
decimal yuan rounded to the fen. The same inputs always give the same breakdown; nothing here
reads the clock.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# The rules themselves (checking, storing) live in compensation_rules.py; callers keep using
# compensation.X for them.
from anju.registry.compensation.freeze import built_after_freeze
from anju.registry.compensation.rules import (  # noqa: F401
    DEFAULT_PATH,
    META_KEY,
    Rules,
    RulesError,
    default_rules_text,
    missing_zones,
    parse_rules,
    rules_are_stored,
    rules_of,
    set_rules,
)
from anju.registry.core.errors import AnjuError
from anju.registry.core.i18n import N_

FEN = Decimal("0.01")
HUNDRED = Decimal(100)
MODES = ("money", "swap")
MODE_LABELS = {"money": (N_("货币补偿"), "Money"), "swap": (N_("产权调换"), "Flat swap")}
STRUCTURE_ZH = {"steel_concrete": "钢混", "brick_concrete": "砖混", "brick_wood": "砖木",
                "simple": "简易"}
HARDSHIP_ZH = {"dibao": "低保", "tekun": "特困", "disability": "残疾", "elderly_alone": "独居老人",
               "serious_illness": "大病"}
DECORATION_ZH = {"none": "毛坯", "simple": "简装", "medium": "中档", "fine": "精装"}
AREA_BASIS_ZH = {"cert_area": "证载面积", "surveyed_area": "测绘面积",
                 "smaller": "证载与测绘面积的较小者"}


def q(value: Decimal) -> Decimal:
    """Round to the fen, half up: the one rounding of money in anju."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def dec(value: Any) -> Decimal:
    """An exact decimal from a stored number (a REAL column's 85.3 is the decimal 85.3)."""
    return Decimal(str(value))


def money(value: Decimal | None) -> str:
    """An amount as printed: thousands separated, two decimals (1,234,567.80)."""
    return "" if value is None else f"{q(Decimal(value)):,.2f}"


def sq(value: Decimal) -> str:
    """An area of a house as printed: always two decimals (85.30)."""
    return f"{q(Decimal(value))}"


def num(value: Decimal) -> str:
    """A rate or area as printed: no needless trailing zeros (12, 0.5, 85.3)."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text



# -- the calculator ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Item:
    """One line of a breakdown: what it is, what it rests on, how it is computed, the amount."""

    key: str
    label: str
    basis: str
    formula: str
    amount: Decimal


@dataclass
class Breakdown:
    """A household's compensation for one mode on one date; `missing` lists absent inputs."""

    mode: str
    on: str
    house: dict
    area: Decimal | None = None
    area_basis: str = ""
    items: list[Item] = field(default_factory=list)
    total: Decimal = Decimal("0.00")
    flat: dict | None = None
    difference: Decimal | None = None
    options: dict = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    rules: dict = field(default_factory=dict)
    # Several flats of one swap (each code, label, area, unit_price, ready, value); `flat` is
    # then the first of them. Empty for money or a one-flat swap chosen by `flat`.
    flats: list[dict] = field(default_factory=list)
    # Lines paid only if a condition is met later (按期交房奖励): shown, never in `total`.
    conditional: list[Item] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def mode_label(self) -> str:
        return MODE_LABELS[self.mode][0]

    @property
    def difference_text(self) -> str:
        """The swap's price difference in words: who pays whom."""
        if self.difference is None:
            return ""
        if self.difference > 0:
            return f"被征收人应补缴差价 {money(self.difference)} 元"
        if self.difference < 0:
            return f"应向被征收人支付差价 {money(-self.difference)} 元"
        return "无差价"

    def to_dict(self) -> dict:
        """Plain JSON-ready values; amounts as exact decimal strings."""
        out = asdict(self)
        for name in ("area", "total", "difference"):
            out[name] = None if out[name] is None else str(out[name])
        out["items"] = [{**i, "amount": str(i["amount"])} for i in out["items"]]
        out["conditional"] = [{**i, "amount": str(i["amount"])} for i in out["conditional"]]
        out["flats"] = [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in f.items()}
                        for f in out["flats"]]
        if not out["flats"]:
            del out["flats"]  # a breakdown without them freezes as it did before
        if not out["conditional"]:
            del out["conditional"]
        if out["flat"]:
            out["flat"] = {k: (str(v) if isinstance(v, Decimal) else v)
                           for k, v in out["flat"].items()}
        return out

    def to_json(self) -> str:
        """Canonical JSON: the form an agreement freezes."""
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True,
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Breakdown:
        """A breakdown read back from its frozen JSON."""
        raw = json.loads(text)
        for name in ("area", "total", "difference"):
            raw[name] = None if raw.get(name) is None else Decimal(raw[name])
        raw["items"] = [Item(**{**i, "amount": Decimal(i["amount"])}) for i in raw["items"]]
        raw["conditional"] = [Item(**{**i, "amount": Decimal(i["amount"])})
                              for i in raw.get("conditional") or []]
        raw["flats"] = [{k: (Decimal(v) if k in ("area", "unit_price", "value") else v)
                         for k, v in f.items()} for f in raw.get("flats") or []]
        if raw.get("flat"):
            raw["flat"] = {k: (Decimal(v) if k in ("area", "unit_price", "value") else v)
                           for k, v in raw["flat"].items()}
        return cls(**raw)


class SwapError(AnjuError, ValueError):
    """Flats that cannot be settled as given; the message is for people (Chinese)."""


@dataclass(frozen=True)
class FlatLine:
    """One resettlement flat of a swap: its area split into the price bands and its price."""

    code: str
    label: str
    area: Decimal
    unit_price: Decimal
    ready: bool
    within: Decimal      # m² priced at the tiers' `within` price (up to the old house's area)
    band: Decimal        # m² priced at the tiers' `band_price` (the 扩面 band above it)
    beyond: Decimal      # m² priced at the flat's own unit price (market)
    amount: Decimal      # the flat's price in yuan, to the fen (positive)
    basis: str
    formula: str


@dataclass(frozen=True)
class SwapSettlement:
    """The settlement of a swap for one or more flats against the old house's value."""

    lines: tuple[FlatLine, ...]
    area: Decimal            # the old house's recognised area the bands are measured from
    house_value: Decimal     # what the old house is credited (house value item)
    flats_area: Decimal
    flats_value: Decimal     # the flats' prices together
    difference: Decimal      # flats_value − house_value: > 0 the household pays, < 0 it is paid

    @property
    def direction(self) -> str:
        """Who pays whom, in the words of a notice."""
        if self.difference > 0:
            return "被征收人应补缴"
        return "应支付被征收人" if self.difference < 0 else "无差价"

    @property
    def text(self) -> str:
        """The difference with its direction (被征收人应补缴差价 1,234.00 元)."""
        if self.difference > 0:
            return f"被征收人应补缴差价 {money(self.difference)} 元"
        if self.difference < 0:
            return f"应向被征收人支付差价 {money(-self.difference)} 元"
        return "无差价"

    @property
    def ready(self) -> bool:
        """Whether every flat is ready (现房): one move; any future flat means two."""
        return all(line.ready for line in self.lines)


def _exact(value: Any, what: str, *, positive: bool = False) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise SwapError(f"{what}应为数字")
    try:
        number = Decimal(str(value).strip())
    except (ArithmeticError, ValueError):
        raise SwapError(f"{what}应为数字") from None
    if not number.is_finite() or number < 0 or (positive and number == 0):
        raise SwapError(f"{what}应为{'正数' if positive else '非负数'}")
    if number > Decimal(10) ** 9:
        raise SwapError(f"{what}过大")
    return number


def swap_settlement(flats: list[dict], *, area: Decimal | str | float,
                    house_value: Decimal | str | float,
                    tiers: dict | None = None) -> SwapSettlement:
    """The settlement of a flat swap (产权调换) for one or more flats.

    `flats`: in the order the household takes them, each a mapping with `area` (m², > 0) and
    `unit_price` (yuan/m², the flat's own or market price), optionally `code`, `label` and
    `ready` (现房, default True). `area`: the old house's recognised area; `house_value`: what the
    old house is credited (the breakdown's house value item). `tiers`: the rules' `swap_tiers`
    ({within, band, band_price}) or None (every m² at its flat's unit price).

    With tiers the flats' areas fill, in the order given, first the old house's recognised area
    (at `within`, shared by all flats), then the `band` m² above it (at `band_price`), and the
    rest at each flat's own unit price. Each flat's price is rounded to the fen; the difference
    is flats_value − house_value (> 0: 被征收人应补缴; < 0: 应支付被征收人). Raises SwapError
    (a Chinese message) for no flats or a bad number; reads nothing but its arguments.
    """
    if not isinstance(flats, list | tuple) or not flats:
        raise SwapError("请至少选择一套安置房")
    if len(flats) > 20:
        raise SwapError("安置房套数过多")
    area = _exact(area, "原房认定面积")
    house_value = q(_exact(house_value, "被征收房屋价值补偿"))
    if tiers is not None:
        tiers = {"within": _exact(tiers.get("within"), "原面积内单价"),
                 "band": _exact(tiers.get("band", 0), "扩面面积"),
                 "band_price": _exact(tiers.get("band_price", 0), "扩面单价")}
    cost_left = area
    band_left = tiers["band"] if tiers else Decimal(0)
    lines = []
    for n, flat in enumerate(flats, 1):
        if not isinstance(flat, dict):
            raise SwapError(f"第 {n} 套安置房的资料不全")
        code = str(flat.get("code") or f"#{n}")
        label = str(flat.get("label") or code)
        f_area = _exact(flat.get("area"), f"安置房 {label} 的面积", positive=True)
        price = _exact(flat.get("unit_price"), f"安置房 {label} 的单价")
        ready = flat.get("ready", True) is not False
        if tiers is None:
            within, band, beyond = Decimal(0), Decimal(0), f_area
            amount = q(f_area * price)
            basis = f"{label}:面积 {num(f_area)}㎡;单价 {money(price)} 元/㎡"
            formula = f"面积 × 单价 = {num(f_area)} × {money(price)}"
        else:
            within = min(f_area, cost_left)
            band = min(f_area - within, band_left)
            beyond = f_area - within - band
            cost_left -= within
            band_left -= band
            amount = q(within * tiers["within"] + band * tiers["band_price"] + beyond * price)
            basis = (f"{label}:面积 {num(f_area)}㎡;原房认定面积以内 {num(within)}㎡ 按 "
                     f"{money(tiers['within'])} 元/㎡,扩面 {num(band)}㎡ 按 "
                     f"{money(tiers['band_price'])} 元/㎡,超出 {num(beyond)}㎡ 按 "
                     f"{money(price)} 元/㎡")
            formula = (f"{num(within)} × {money(tiers['within'])} + {num(band)} × "
                       f"{money(tiers['band_price'])} + {num(beyond)} × {money(price)}")
        lines.append(FlatLine(code, label, f_area, price, ready, within, band, beyond, amount,
                              basis, formula))
    flats_value = sum((line.amount for line in lines), Decimal("0.00"))
    return SwapSettlement(tuple(lines), area, house_value,
                          sum((line.area for line in lines), Decimal(0)), flats_value,
                          flats_value - house_value)


def calculate(rules: Rules, household: dict, mode: str, on: dt.date | str, *,
              settings: dict | None = None, flat: str | None = None,
              transition_flat: bool = False, valuation: dict | None = None,
              flats: list | None = None, fixtures: list[dict] | None = None,
              handover_on: dt.date | str | None = None) -> Breakdown:
    """A household's breakdown for `mode` ("money" or "swap") if signed on date `on`.

    `flats`: several flats of one swap (codes of the rules' flats, or mappings as
    `swap_settlement` takes them), settled together; `fixtures`: the household's counted
    attachments (附属物: {item_code, quantity}) priced by the rules' `attachments` list;
    `handover_on`: the handover date when known (transition months count from it).

    `settings` are the project settings (signing_start, freeze_date); `flat` the code of the
    chosen resettlement flat for a swap (default: the one nearest the household's preferred size);
    `transition_flat` whether the household lives in a transition flat (no temporary fee);
    `valuation` the household's valuation in force (评估: {"unit_price" or "amount", "report",
    "date"}), which replaces the zone × structure price when given (`valuation_of`).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    on = dt.date.fromisoformat(on) if isinstance(on, str) else on
    settings = settings or {}
    data = rules.data
    house = {k: household.get(k) for k in ("house_no", "zone", "address", "structure",
                                            "decoration", "cert_area", "surveyed_area",
                                            "unregistered_area", "year_built")}
    out = Breakdown(mode=mode, on=on.isoformat(), house=house,
                    options={"flat": None, "transition_flat": bool(transition_flat)},
                    rules=rules_frozen(rules, on))
    area, area_basis, missing = recognised_area(data["area"], household, settings)
    zone, structure = household.get("zone"), household.get("structure")
    price = data["unit_prices"].get(zone, {}).get(structure) if zone and structure else None
    valued = _valuation(valuation)
    if valued is not None:
        price = valued.get("unit_price", price)
    if not structure and valued is None:
        missing.append("房屋结构")
    elif price is None and (valued is None or "amount" not in valued):
        missing.append(f"评估单价({zone or '无片区'}·{STRUCTURE_ZH.get(structure, structure)})")
    unregistered_item = _unregistered(data.get("unregistered"), household, settings, missing)
    decoration = household.get("decoration")
    if not decoration:
        missing.append("装修情况")
    elif decoration not in data["decoration"]:
        missing.append(f"装修补偿标准({DECORATION_ZH.get(decoration, decoration)})")
    start = data["incentive"].get("start") or settings.get("signing_start")
    if data["incentive"]["tiers"] and not start:
        missing.append("签约期起始日期")
    chosen = None
    several: list[dict] = []
    if mode == "swap" and flats:
        for f in flats:
            found = rules.flat(f) if isinstance(f, str) else (dict(f) if isinstance(f, dict)
                                                               else None)
            if found is None:
                missing.append(f"安置房型({f})")
            else:
                several.append(found)
        chosen = several[0] if several else None
    elif mode == "swap":
        chosen = rules.flat(flat) if flat else _nearest_flat(data["flats"], household, area)
        if chosen is None:
            missing.append(f"安置房型({flat})" if flat else "安置房型")
    attachment_items = _attachments(data.get("attachments"), fixtures, missing)
    handover_day = (dt.date.fromisoformat(handover_on) if isinstance(handover_on, str)
                    else handover_on)
    out.area, out.area_basis, out.missing = area, area_basis, missing
    if missing:
        return out
    items = [_house_value(data.get("minimum"), area, price, zone, structure, valued)]
    value = items[0].amount
    if unregistered_item is not None:
        items.append(unregistered_item)
    moves, months_key = 1, "money"
    delivery = None
    if several:
        try:
            settled = swap_settlement(several, area=area, house_value=value,
                                      tiers=data.get("swap_tiers"))
        except SwapError as exc:
            out.missing = [str(exc)]
            return out
        out.options["flat"] = settled.lines[0].code
        out.options["flats"] = [line.code for line in settled.lines]
        for f, line in zip(several, settled.lines, strict=True):
            out.flats.append({"code": line.code, "label": line.label, "area": line.area,
                              "unit_price": line.unit_price, "ready": line.ready,
                              "value": line.amount,
                              **({"delivery_on": str(f["delivery_on"])}
                                 if f.get("delivery_on") else {})})
            items.append(Item("flat_value", f"安置房价款(抵扣)·{line.label}", line.basis,
                              f"-({line.formula})", -line.amount))
        out.flat = dict(out.flats[0])
        out.difference = settled.difference
        moves, months_key = (1, "swap_ready") if settled.ready else (2, "swap_future")
        try:
            delivery = _delivery(several)
        except ValueError:
            out.missing = ["安置房交付日期(应为 年-月-日)"]
            return out
    elif chosen is not None:
        delivery = _delivery([chosen])
        out.options["flat"] = chosen["code"]
        out.flat = dict(chosen)
        flat_item = _flat_value(data.get("swap_tiers"), chosen, area)
        flat_value = -flat_item.amount
        out.flat["value"] = flat_value
        items.append(flat_item)
        out.difference = flat_value - value
        moves, months_key = (1, "swap_ready") if chosen["ready"] else (2, "swap_future")
    rate = data["decoration"][decoration]
    items.append(Item("decoration", "装修补偿",
                      f"装修情况:{DECORATION_ZH.get(decoration, decoration)};补偿标准 "
                      f"{money(rate)} 元/㎡", f"认定面积 × 装修补偿标准 = {sq(area)} × "
                      f"{money(rate)}", q(area * rate)))
    items.append(_moving(data["moving"], area, moves, mode, chosen))
    items.append(_temporary(data["temporary"], area, months_key, transition_flat,
                            handover_day, delivery))
    items.extend(attachment_items)
    items.append(_incentive(data["incentive"]["tiers"], start, on, value))
    if data.get("business") is not None:
        items.append(_business(data["business"], area, household))
    if data.get("hardship") is not None:
        items.append(_hardship(data["hardship"], household))
    out.items = items
    out.total = sum((i.amount for i in items), Decimal("0.00"))
    if data.get("handover_reward") is not None:
        out.conditional.append(handover_reward_item(data["handover_reward"], on, handover_day))
    return out


ATTACHMENT_UNITS = {"m": "米", "m2": "㎡", "m3": "m³", "each": "个", "tree": "棵", "well": "口",
                    "set": "套", "place": "处"}


def _attachments(price_list: list[dict] | None, fixtures: list[dict] | None,
                 missing: list[str]) -> list[Item]:
    """附属物补偿: one line per counted item, quantity × unit price of the rules' item list;
    a counted item the list does not price makes the household unsettled (missing)."""
    if not fixtures:
        return []
    prices = {p["code"]: p for p in price_list or []}
    out = []
    for fixture in fixtures:
        code = str(fixture.get("item_code") or "")
        entry = prices.get(code)
        if entry is None:
            missing.append(f"附属物单价({code or '无代码'})")
            continue
        qty = dec(fixture.get("quantity") or 0)
        unit = ATTACHMENT_UNITS.get(entry["unit"], entry["unit"])
        out.append(Item("attachment", f"附属物补偿·{entry['name']}",
                        f"{entry['name']}({code}){num(qty)} {unit};单价 "
                        f"{money(entry['unit_price'])} 元/{unit}",
                        f"数量 × 单价 = {num(qty)} × {money(entry['unit_price'])}",
                        q(qty * entry["unit_price"])))
    return out


def _delivery(flats: list[dict]) -> dt.date | None:
    """When the last future flat of a swap is to be delivered (the rules' `delivery_on`)."""
    days = [dt.date.fromisoformat(str(f["delivery_on"])) for f in flats
            if not f.get("ready", True) and f.get("delivery_on")]
    return max(days) if days else None


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (the month's last day when it has no such day)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise ValueError(day)


def months_between(start: dt.date, end: dt.date) -> int:
    """Transition months from `start` to `end`, a month begun counting as a whole month; 0
    when `end` is not after `start`."""
    if end <= start:
        return 0
    months = (end.year - start.year) * 12 + end.month - start.month
    if add_months(start, months) < end:
        months += 1
    elif months > 0 and add_months(start, months - 1) >= end:
        months -= 1
    return months


def transition_months(rule: dict, months_key: str, handover_on: dt.date | None,
                      delivery_on: dt.date | None) -> tuple[int, str]:
    """过渡期: (months, basis in words). From the handover date to the delivery of a future flat
    when both are known; else the rules' months, counted from the handover when it is known,
    or assumed from the rules while it is not."""
    months = rule["months"][months_key]
    if handover_on is None:
        return months, f"按方案假定过渡 {months} 个月(自交房之日起计,交房日期未定)"
    if months_key == "swap_future" and delivery_on is not None:
        counted = months_between(handover_on, delivery_on)
        return counted, (f"自交房日 {handover_on.isoformat()} 至安置房交付日 "
                         f"{delivery_on.isoformat()},计 {counted} 个月(不足一月按一月计)")
    return months, (f"自交房日 {handover_on.isoformat()} 起按方案 {months} 个月(至 "
                    f"{add_months(handover_on, months).isoformat()})")


def handover_reward_item(rule: dict, signed_on: dt.date | str,
                         handover_on: dt.date | str | None) -> Item:
    """按期交房奖励: before the handover the line says what an on-time handover would earn
    (conditional); once it is dated, what it earned: by days after signing (tiers) or by a
    deadline date."""
    signed = dt.date.fromisoformat(signed_on) if isinstance(signed_on, str) else signed_on
    handed = (dt.date.fromisoformat(handover_on) if isinstance(handover_on, str)
              else handover_on)
    if rule.get("deadline"):
        deadline = dt.date.fromisoformat(rule["deadline"])
        terms = f"{deadline.isoformat()} 前(含当日)交房奖励 {money(rule['amount'])} 元"
        if handed is None:
            return Item("handover_reward", "按期交房奖励", f"按期交房可得:{terms}",
                        "交房后按交房日期核定,不计入协议合计", q(rule["amount"]))
        paid = handed <= deadline
        return Item("handover_reward", "按期交房奖励",
                    f"{terms};交房日期 {handed.isoformat()}"
                    + ("" if paid else ",已过期限"),
                    f"定额 {money(rule['amount'])}" if paid else "不计",
                    q(rule["amount"]) if paid else Decimal("0.00"))
    tiers = rule["tiers"]
    first, parts = 0, []
    for tier in tiers:
        parts.append(f"签约后第 {first}–{tier['until_day']} 天交房 {money(tier['amount'])} 元")
        first = tier["until_day"] + 1
    terms = ";".join(parts)
    if handed is None:
        best = max((t["amount"] for t in tiers), default=Decimal(0))
        return Item("handover_reward", "按期交房奖励", f"按期交房可得:{terms}",
                    "交房后按交房日期核定,不计入协议合计", q(best))
    days = (handed - signed).days
    when = f"签约 {signed.isoformat()},交房 {handed.isoformat()},签约后第 {days} 天"
    for tier in tiers:
        if days <= tier["until_day"]:
            return Item("handover_reward", "按期交房奖励", f"{when};{terms}",
                        f"定额 {money(tier['amount'])}", q(tier["amount"]))
    return Item("handover_reward", "按期交房奖励", f"{when},已过第 {tiers[-1]['until_day']} 天;"
                f"{terms}", "不计", Decimal("0.00"))


def rules_frozen(rules: Rules, on: dt.date, basis: str | None = None) -> dict:
    """What a breakdown records of the rules it was computed under: name, version, hash, the
    version's effective date, the date computed on, and both in words."""
    since = rules.data.get("effective_from")
    words = basis or f"依 {on.isoformat()} 施行的补偿方案版本 {rules.version}"
    if since and basis is None:
        words += f"({since} 起施行)"
    return {"name": rules.name, "version": rules.version, "hash": rules.hash,
            "effective_from": since, "computed_on": on.isoformat(), "basis": words}


def recognised_area(rule: dict, household: dict,
                    settings: dict) -> tuple[Decimal | None, str, list[str]]:
    """认定面积 by the rules: (area, how it was found in words, missing inputs)."""
    cert, surveyed = household.get("cert_area"), household.get("surveyed_area")
    basis = rule["basis"]
    need = {"cert_area": [("证载面积", cert)], "surveyed_area": [("测绘面积", surveyed)],
            "smaller": [("证载面积", cert), ("测绘面积", surveyed)]}[basis]
    missing = [name for name, value in need if value is None]
    if missing:
        return None, "", missing
    if basis == "smaller":
        base = min(dec(cert), dec(surveyed))
    else:
        base = dec(cert if basis == "cert_area" else surveyed)
    words = f"{AREA_BASIS_ZH[basis]} {sq(base)}㎡"
    unregistered = dec(household.get("unregistered_area") or 0)
    counted = Decimal(0)
    if unregistered > 0 and rule.get("separate"):
        words += f";无证面积 {sq(unregistered)}㎡ 另按认定结论补偿"
    elif unregistered > 0:
        freeze = settings.get("freeze_date")
        year = household.get("year_built")
        if (rule["unregistered_built_after_freeze"] is False
                and built_after_freeze(year, freeze)):
            words += f";无证面积 {sq(unregistered)}㎡ 建于冻结年份及以后,不予认定"
        else:
            counted = min(unregistered * rule["unregistered_share"], rule["unregistered_max"])
            share = num(rule["unregistered_share"] * 100)
            words += (f" + 无证面积 {sq(unregistered)}㎡ × {share}%"
                      f"(最多 {num(rule['unregistered_max'])}㎡)= {sq(base + counted)}㎡")
    return q(base + counted), words, []


def _valuation(valuation: dict | None) -> dict | None:
    """A valuation result as exact numbers, or None (none in force)."""
    if not valuation:
        return None
    out = dict(valuation)
    for key in ("unit_price", "amount"):
        if out.get(key) is not None:
            out[key] = dec(out[key])
        else:
            out.pop(key, None)
    return out if ("unit_price" in out or "amount" in out) else None


def _house_value(minimum: dict | None, area: Decimal, price: Decimal | None, zone, structure,
                 valued: dict | None) -> Item:
    """被征收房屋价值补偿: a valuation's amount, or area × price (the valuation's unit price or
    the zone × structure price), with the minimum guarantee (保底) when the rules have one."""
    source = (f"评估报告 {valued.get('report') or ''}({valued.get('date') or ''})".strip()
              if valued is not None else f"{zone}·{STRUCTURE_ZH.get(structure, structure)}")
    if valued is not None and "amount" in valued:
        value, basis = q(valued["amount"]), f"按{source}评估金额"
        formula = f"评估金额 = {money(value)}"
    else:
        paid_area = area
        basis = f"认定面积 {sq(area)}㎡;评估单价 {money(price)} 元/㎡({source})"
        if minimum and minimum["area"] > area:
            paid_area = minimum["area"]
            basis += f";不足保底面积 {num(minimum['area'])}㎡,按保底面积计"
        value = q(paid_area * price)
        which = "认定面积" if paid_area == area else "保底面积"
        formula = f"{which} × 评估单价 = {sq(paid_area)} × {money(price)}"
    if minimum and minimum["amount"] > value:
        basis += f";低于保底金额 {money(minimum['amount'])} 元,按保底金额计"
        formula += f",保底 {money(minimum['amount'])}"
        value = q(minimum["amount"])
    return Item("house_value", "被征收房屋价值补偿", basis, formula, value)


def _unregistered(rule: dict | None, household: dict, settings: dict,
                  missing: list[str]) -> Item | None:
    """合法无证面积补偿 (Art. 24): legal area by its own price, illegal area nothing; with no
    finding yet the household cannot be settled (missing)."""
    area = dec(household.get("unregistered_area") or 0)
    if rule is None or area <= 0:
        return None
    if built_after_freeze(household.get("year_built"), settings.get("freeze_date")):
        return Item("unregistered", "无证面积补偿", f"无证面积 {sq(area)}㎡;房屋建于冻结年份及以后,"
                    "视为抢建", "不予补偿", Decimal("0.00"))
    finding = household.get("unregistered_finding")
    if finding == "illegal":
        return Item("unregistered", "无证面积补偿", f"无证面积 {sq(area)}㎡ 经认定为违法建筑",
                    "不予补偿(条例第二十四条)", Decimal("0.00"))
    if finding != "legal":
        missing.append("无证面积认定结论")
        return None
    counted = area if rule["legal_max"] is None else min(area, rule["legal_max"])
    cap = "" if rule["legal_max"] is None else f",最多 {num(rule['legal_max'])}㎡"
    return Item("unregistered", "无证面积补偿",
                f"无证面积 {sq(area)}㎡ 经认定合法;标准 {money(rule['legal_price'])} 元/㎡{cap}",
                f"计入面积 × 标准 = {sq(counted)} × {money(rule['legal_price'])}",
                q(counted * rule["legal_price"]))


def _flat_value(tiers: dict | None, flat: dict, area: Decimal) -> Item:
    """安置房价款(抵扣): the flat's price, by area tiers (扩面) when the rules have them."""
    if tiers is None:
        return Item("flat_value", "安置房价款(抵扣)",
                    f"{flat['label']}:面积 {num(flat['area'])}㎡;单价 "
                    f"{money(flat['unit_price'])} 元/㎡",
                    f"-(安置房面积 × 安置房单价) = -({num(flat['area'])} × "
                    f"{money(flat['unit_price'])})", -q(flat["area"] * flat["unit_price"]))
    within = min(flat["area"], area)
    band = min(max(flat["area"] - area, Decimal(0)), tiers["band"])
    beyond = flat["area"] - within - band
    amount = q(within * tiers["within"] + band * tiers["band_price"]
               + beyond * flat["unit_price"])
    return Item("flat_value", "安置房价款(抵扣)",
                f"{flat['label']}:面积 {num(flat['area'])}㎡;原房认定面积以内按 "
                f"{money(tiers['within'])} 元/㎡,其上 {num(tiers['band'])}㎡ 内按 "
                f"{money(tiers['band_price'])} 元/㎡,超出部分按 {money(flat['unit_price'])} 元/㎡",
                f"-({sq(within)} × {money(tiers['within'])} + {sq(band)} × "
                f"{money(tiers['band_price'])} + {sq(beyond)} × {money(flat['unit_price'])})",
                -amount)


def _business(rule: dict, area: Decimal, household: dict) -> Item:
    """停产停业损失: for a house actually used for business, area × rate × months."""
    use = household.get("actual_use")
    if use not in rule["uses"]:
        return Item("business", "停产停业损失", "实际用途非经营性", "不计", Decimal("0.00"))
    return Item("business", "停产停业损失",
                f"实际用途为经营({use});标准 {money(rule['rate'])} 元/㎡/月,{rule['months']} 个月",
                f"认定面积 × 标准 × 月数 = {sq(area)} × {money(rule['rate'])} × {rule['months']}",
                q(area * rule["rate"] * rule["months"]))


def _hardship(rule: dict, household: dict) -> Item:
    """困难补助 by hardship type: the largest of the household's types, or their sum."""
    kinds = household.get("hardship") or []
    if isinstance(kinds, str):
        try:
            kinds = json.loads(kinds)
        except ValueError:
            kinds = []
    amounts = {k: rule["amounts"][k] for k in kinds if k in rule["amounts"]}
    if not amounts:
        return Item("hardship", "困难补助", "非困难群体(或本方案未设此类补助)", "不计",
                    Decimal("0.00"))
    words = "、".join(f"{HARDSHIP_ZH.get(k, k)} {money(v)} 元" for k, v in amounts.items())
    if rule["combine"] == "sum":
        return Item("hardship", "困难补助", f"困难类型:{words}", "各类型补助之和",
                    q(sum(amounts.values(), Decimal(0))))
    return Item("hardship", "困难补助", f"困难类型:{words}", "取其中最高一项",
                q(max(amounts.values())))


def _nearest_flat(flats: list[dict], household: dict, area: Decimal | None) -> dict | None:
    """The flat nearest the preferred size, else the smallest at least the recognised area."""
    if not flats:
        return None
    wanted = household.get("preferred_flat_size")
    if wanted:
        return min(flats, key=lambda f: (abs(f["area"] - dec(wanted)), f["area"], f["code"]))
    if area is not None:
        big_enough = [f for f in flats if f["area"] >= area]
        if big_enough:
            return min(big_enough, key=lambda f: (f["area"], f["code"]))
    return max(flats, key=lambda f: (f["area"], f["code"]))


def _moving(rule: dict, area: Decimal, moves: int, mode: str, flat: dict | None) -> Item:
    per_move = q(max(area * rule["rate"], rule["minimum"]))
    why = ("货币补偿,搬迁一次" if mode == "money" else
           "产权调换现房,搬迁一次" if moves == 1 else "产权调换期房,搬迁两次(搬出、回迁)")
    return Item("moving", "搬迁费",
                f"{why};标准 {money(rule['rate'])} 元/㎡,每次不低于 {money(rule['minimum'])} 元",
                f"每次 max(认定面积 × 标准, 最低额) × 次数 = max({sq(area)} × "
                f"{money(rule['rate'])}, {money(rule['minimum'])}) × {moves} = "
                f"{money(per_move)} × {moves}", per_move * moves)


def _temporary(rule: dict, area: Decimal, months_key: str, transition_flat: bool,
               handover_on: dt.date | None = None, delivery_on: dt.date | None = None) -> Item:
    months, months_words = transition_months(rule, months_key, handover_on, delivery_on)
    if transition_flat:
        return Item("temporary", "临时安置费", "使用周转房过渡,不计临时安置费", "不计",
                    Decimal("0.00"))
    paid_area = max(area, rule["minimum_area"])
    limit = rule.get("double_after")
    normal = months if limit is None else min(months, limit)
    doubled = months - normal
    area_words = (f"认定面积 {sq(area)}㎡" if area >= rule["minimum_area"] else
                  f"认定面积 {sq(area)}㎡ 不足 {num(rule['minimum_area'])}㎡,按 "
                  f"{num(rule['minimum_area'])}㎡ 计")
    kind = {"money": "货币补偿", "swap_ready": "产权调换现房",
            "swap_future": "产权调换期房"}[months_key]
    basis = (f"{area_words};标准 {money(rule['rate'])} 元/㎡/月;{kind}过渡 {months} 个月"
             f";{months_words}")
    words = "计费面积 × 标准 × 月数"
    numbers = f"{sq(paid_area)} × {money(rule['rate'])} × {normal}"
    amount = paid_area * rule["rate"] * normal
    if doubled:
        factor = rule["double_factor"]
        basis += f";第 {limit + 1} 个月起按 {num(factor)} 倍计"
        words = (f"计费面积 × 标准 × 前 {limit} 个月 + 计费面积 × 标准 × {num(factor)} × "
                 f"其后 {doubled} 个月")
        numbers += f" + {sq(paid_area)} × {money(rule['rate'])} × {num(factor)} × {doubled}"
        amount += paid_area * rule["rate"] * factor * doubled
    formula = f"{words} = {numbers}"
    return Item("temporary", "临时安置费", basis, formula, q(amount))


temporary_item = _temporary  # 临时安置费 for given transition inputs (completion/rewards.py)


def _incentive(tiers: list[dict], start: str | None, on: dt.date, value: Decimal) -> Item:
    if not tiers:
        return Item("incentive", "签约奖励", "本方案未设签约奖励", "不计", Decimal("0.00"))
    start_day = dt.date.fromisoformat(str(start))
    day = (on - start_day).days + 1
    when = f"签约日期 {on.isoformat()},签约期 {start_day.isoformat()} 起第 {day} 天"
    if day < 1:
        return Item("incentive", "签约奖励", f"签约日期 {on.isoformat()} 早于签约期起始日 "
                    f"{start_day.isoformat()}", "不计", Decimal("0.00"))
    first = 1
    for tier in tiers:
        if day <= tier["until_day"]:
            span = f"第 {first}–{tier['until_day']} 天"
            if "amount" in tier:
                return Item("incentive", "签约奖励", f"{when}({span}档)",
                            f"定额 {money(tier['amount'])}", q(tier["amount"]))
            return Item("incentive", "签约奖励", f"{when}({span}档)",
                        f"房屋价值补偿 × {num(tier['percent'])}% = {money(value)} × "
                        f"{num(tier['percent'])}%", q(value * tier["percent"] / HUNDRED))
        first = tier["until_day"] + 1
    return Item("incentive", "签约奖励", f"{when},已过第 {tiers[-1]['until_day']} 天",
                "不计", Decimal("0.00"))


def breakdown_for(reg, household_id: str, mode: str, on: dt.date | str,
                  **options) -> Breakdown:
    """The breakdown of one household of a registry under the project's rules."""
    household = reg.get("household", household_id)
    if household is None:
        raise LookupError(f"no household {household_id}")
    options.setdefault("valuation", valuation_of(reg, household_id, on))
    options.setdefault("fixtures", fixtures_of(reg, household_id))
    return calculate(rules_of(reg), household, mode, on, settings=reg.settings, **options)


def valuation_of(reg, household_id: str, on: dt.date | str | None = None) -> dict | None:
    """The household's valuation in force as compensation reads it ({unit_price, amount,
    report, date, id}), the one place compensation reads it: the report of
    `legal.valuations.valuation_in_force`, or None (the zone × structure price applies).

    With `on`, only reports issued on or before that day count (the valuation in force as of a
    signing date): a paper agreement entered late, or an amendment computed on its original's
    date, is not priced by a report that did not exist then.
    """
    from anju.registry.legal import valuations
    if "valuation" not in reg.definition.records:
        return None
    if on is None:
        row = valuations.valuation_in_force(reg, household_id)
    else:
        day = on.isoformat() if isinstance(on, dt.date) else str(on)
        rows = [r for r in valuations.valuations_of(reg, household_id)
                if (r.get("reported_on") or "") <= day]
        gone = {r.get("supersedes") for r in rows}
        live = [r for r in rows if r["id"] not in gone]
        row = live[-1] if live else None
    if row is None or (row.get("total") is None and row.get("unit_price") is None):
        return None
    out = {"report": row.get("report_no"), "date": row.get("reported_on"), "id": row["id"]}
    if row.get("total") is not None:
        out["amount"] = row["total"]
    if row.get("unit_price") is not None:
        out["unit_price"] = row["unit_price"]
    return out


def fixtures_of(reg, household_id: str) -> list[dict]:
    """The household's counted attachments (附属物清点: item_code, quantity), by code."""
    if "fixture" not in reg.definition.records:
        return []
    rows = [r for r in reg.children("fixture", household_id) if not r.get("deleted")]
    return sorted(({"item_code": r["item_code"], "quantity": r["quantity"], "id": r["id"]}
                   for r in rows), key=lambda r: (r["item_code"] or "", r["id"]))


def breakdown_text(b: Breakdown) -> str:
    """A breakdown as plain text lines, for the command line and audit files."""
    head = f"{b.house.get('house_no') or ''} {b.house.get('zone') or ''} {b.mode_label}" \
           f" (按 {b.on} 签约计)"
    if not b.complete:
        return f"{head}\n  资料不全,无法计算: {'、'.join(b.missing)}"
    lines = [head]
    if b.rules.get("basis"):
        lines.append(f"  计算依据: {b.rules['basis']}")
    lines.append(f"  认定面积: {b.area_basis or num(b.area)}")
    for i in b.items:
        lines.append(f"  {i.label}: {money(i.amount)} 元")
        lines.append(f"      依据: {i.basis}")
        lines.append(f"      算法: {i.formula}")
    for i in b.conditional:
        lines.append(f"  {i.label}(按期交房可得,不计入合计): {money(i.amount)} 元")
        lines.append(f"      依据: {i.basis}")
    if b.difference is not None:
        lines.append(f"  产权调换差价: {b.difference_text}")
    pays = "被征收人应补缴" if b.total < 0 else "应支付被征收人"
    lines.append(f"  合计: {pays} {money(abs(b.total))} 元")
    return "\n".join(lines)
