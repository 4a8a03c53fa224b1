"""Compensation rules and the calculator: every rule at its boundaries, in exact decimals."""

import datetime as dt
from decimal import Decimal

import pytest
import yaml
from anju.registry.compensation import calculation as comp
from anju.registry.field.demo import ZONES

SETTINGS = {"signing_start": "2026-10-01", "freeze_date": "2026-06-01"}
HOUSE = {"house_no": "A-0001", "zone": "东关片区A地块", "structure": "brick_concrete",
         "decoration": "simple", "cert_area": 80.0, "surveyed_area": 82.0}


def rules(**changes) -> comp.Rules:
    """The example rules with some top-level sections replaced or deep-updated."""
    raw = yaml.safe_load(comp.default_rules_text())
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key].update(value)
        else:
            raw[key] = value
    return comp.parse_rules(yaml.safe_dump(raw, allow_unicode=True))


def item(b: comp.Breakdown, key: str) -> comp.Item:
    return next(i for i in b.items if i.key == key)


def calc(house=None, mode="money", on="2026-10-10", r=None, **options):
    return comp.calculate(r or rules(), {**HOUSE, **(house or {})}, mode, on, settings=SETTINGS,
                          **options)


def test_example_rules_price_every_demo_zone_and_structure():
    r = rules()
    for zone in ZONES:
        assert set(r.data["unit_prices"][zone]) == {"steel_concrete", "brick_concrete",
                                                    "brick_wood", "simple"}


@pytest.mark.parametrize(("day", "expected"), [
    ("2026-09-30", "0.00"),       # before the signing period: nothing
    ("2026-10-01", "30000.00"),   # day 1, first day of tier 1
    ("2026-10-30", "30000.00"),   # day 30, last day of tier 1
    ("2026-10-31", "20000.00"),   # day 31, first day of tier 2
    ("2026-11-14", "20000.00"),   # day 45, last day of tier 2
    ("2026-11-15", "7360.00"),    # day 46, first day of tier 3: 1% of 80 × 9200
    ("2026-11-29", "7360.00"),    # day 60, last day of tier 3
    ("2026-11-30", "0.00"),       # day 61: after the last tier
])
def test_incentive_tiers_first_and_last_day(day, expected):
    b = calc(on=day)
    assert item(b, "house_value").amount == Decimal("736000.00")
    assert item(b, "incentive").amount == Decimal(expected)


def test_incentive_start_in_rules_overrides_project_settings():
    r = rules(incentive={"start": "2026-11-01"})
    assert item(calc(on="2026-11-01", r=r), "incentive").amount == Decimal("30000.00")
    assert item(calc(on="2026-10-31", r=r), "incentive").amount == Decimal("0.00")


@pytest.mark.parametrize(("area", "paid"), [(49.99, "50"), (50, "50"), (50.01, "50.01")])
def test_temporary_fee_minimum_area(area, paid):
    b = calc({"cert_area": area})
    # money: 6 months at 15 yuan per m² and month
    assert item(b, "temporary").amount == comp.q(Decimal(paid) * 15 * 6)


@pytest.mark.parametrize(("months", "expected"), [
    (18, 80 * 15 * 18),                    # the month limit itself: no doubling yet
    (19, 80 * 15 * 18 + 80 * 15 * 2),      # month 19 is paid double
    (20, 80 * 15 * 18 + 80 * 15 * 2 * 2),
])
def test_temporary_fee_doubles_after_the_month_limit(months, expected):
    r = rules(temporary={"months": {"money": months, "swap_ready": 3, "swap_future": 36}})
    assert item(calc(r=r), "temporary").amount == Decimal(expected)


def test_no_temporary_fee_in_a_transition_flat():
    b = calc(mode="swap", flat="F90", transition_flat=True)
    assert item(b, "temporary").amount == Decimal("0.00")
    assert "周转房" in item(b, "temporary").basis


def test_moving_fee_once_or_twice():
    money = item(calc(mode="money"), "moving")
    ready = item(calc(mode="swap", flat="F75"), "moving")
    future = item(calc(mode="swap", flat="F90"), "moving")
    assert money.amount == ready.amount == Decimal("1000.00")  # 80 × 12 = 960 < minimum 1000
    assert future.amount == Decimal("2000.00")
    assert "两次" in future.basis and "一次" in money.basis
    big = item(calc({"cert_area": 100}, mode="swap", flat="F110"), "moving")
    assert big.amount == Decimal("2400.00")  # 100 × 12 = 1200 per move, twice


def test_swap_difference_either_way():
    # A small house for a big flat: the household pays the difference.
    small = calc({"cert_area": 40}, mode="swap", flat="F110")
    assert small.difference == Decimal("748000.00") - Decimal("368000.00")
    assert small.difference > 0 and small.difference_text == "被征收人应补缴差价 380,000.00 元"
    # A big house for a small flat: the household receives the difference.
    big = calc({"cert_area": 120}, mode="swap", flat="F60")
    assert big.difference == Decimal("372000.00") - Decimal("1104000.00")
    assert big.difference < 0 and big.difference_text.startswith("应向被征收人支付差价 732,000.00")
    for b in (small, big):
        others = sum(i.amount for i in b.items if i.key not in ("house_value", "flat_value"))
        assert b.total == others - b.difference


def test_swap_flat_defaults_to_the_wished_size():
    assert calc({"preferred_flat_size": 88}, mode="swap").flat["code"] == "F90"
    assert calc({"cert_area": 70}, mode="swap").flat["code"] == "F75"  # smallest big enough


def test_recognised_area_with_unregistered_share_and_cap():
    assert calc({"unregistered_area": 10}).area == Decimal("85.00")
    assert calc({"unregistered_area": 100}).area == Decimal("110.00")  # at most 30 m²
    after = calc({"unregistered_area": 10, "year_built": 2026})  # freeze year 2026
    assert after.area == Decimal("80.00") and "不予认定" in after.area_basis
    smaller = rules(area={"basis": "smaller"})
    assert calc({"surveyed_area": 79.5}, r=smaller).area == Decimal("79.50")


def test_missing_inputs_are_listed_not_guessed():
    b = calc({"cert_area": None, "decoration": None, "zone": "无名片区"})
    assert not b.complete and b.items == [] and b.total == Decimal("0.00")
    assert "证载面积" in b.missing and "装修情况" in b.missing
    assert any("评估单价" in m for m in b.missing)


def test_decimal_exactness():
    # Half up at the fen: 10.01 m² × 0.5 yuan = 5.005 -> 5.01; floats (and banker's rounding)
    # say 5.00.
    assert round(10.01 * 0.5, 2) == 5.0
    r = rules(decoration={"simple": "0.5"})
    assert item(calc({"cert_area": 10.01}, r=r), "decoration").amount == Decimal("5.01")
    # Many 0.1 items add up exactly; float would drift.
    r = rules(decoration={"simple": "0.1"})
    totals = [item(calc({"cert_area": 1}, r=r), "decoration").amount for _ in range(1000)]
    assert sum(totals) == Decimal("100.00") and sum([0.1] * 1000) != 100
    b = calc()
    assert b.total == sum(i.amount for i in b.items)
    assert all(i.amount == i.amount.quantize(Decimal("0.01")) for i in b.items)


def test_deterministic_and_round_trips_through_json():
    a = calc(mode="swap", on=dt.date(2026, 10, 5))
    b = calc(mode="swap", on="2026-10-05")
    assert a.to_json() == b.to_json()
    assert comp.Breakdown.from_json(a.to_json()) == a


def test_formulas_are_in_words_with_their_numbers():
    b = calc()
    value = item(b, "house_value")
    assert value.formula == "认定面积 × 评估单价 = 80.00 × 9,200.00"
    assert "东关片区A地块" in value.basis and "砖混" in value.basis


@pytest.mark.parametrize(("section", "value", "key", "problem"), [
    ("moving", {"rate": "abc"}, "moving.rate", "must be a number"),
    ("moving", {"rat": 3}, "moving.rat", "not a known key"),
    ("unit_prices", {"西门片区": {"brick_concrete": -1}}, "unit_prices.西门片区.brick_concrete",
     "must not be negative"),
    ("unit_prices", {"西门片区": {"wood": 1}}, "unit_prices.西门片区.wood",
     "not a choice of the survey"),
    ("decoration", {"luxury": 5}, "decoration.luxury", "not a choice of the survey"),
    ("incentive", {"tiers": [{"until_day": 30, "amount": 1, "percent": 1}]},
     "incentive.tiers[0]", "exactly one of amount, percent"),
    ("incentive", {"tiers": [{"until_day": 30, "amount": 1}, {"until_day": 30, "amount": 2}]},
     "incentive.tiers[1].until_day", "greater than the previous"),
    ("incentive", {"tiers": [{"until_day": 30, "percent": 101}]},
     "incentive.tiers[0].percent", "between 0 and 100"),
    ("temporary", {"months": {"money": 1.5, "swap_ready": 1, "swap_future": 2}},
     "temporary.months.money", "whole number"),
    ("area", {"unregistered_share": 1.5}, "area.unregistered_share", "between 0 and 1"),
    ("flats", [{"code": "A", "label": "a", "area": 60, "unit_price": 1, "ready": True},
               {"code": "A", "label": "b", "area": 70, "unit_price": 1, "ready": False}],
     "flats[1].code", "repeats"),
])
def test_invalid_rules_name_the_key_and_the_problem(section, value, key, problem):
    raw = yaml.safe_load(comp.default_rules_text())
    raw[section] = value if not isinstance(raw[section], dict) else {**raw[section], **value}
    with pytest.raises(comp.RulesError) as err:
        comp.parse_rules(yaml.safe_dump(raw, allow_unicode=True))
    assert f"{key}: " in str(err.value) and problem in str(err.value)
    assert err.value.text("zh")  # and it can be said in Chinese


def test_not_yaml_and_missing_sections():
    with pytest.raises(comp.RulesError, match="line 1: is not valid YAML"):
        comp.parse_rules("name: [")
    with pytest.raises(comp.RulesError, match="moving: is missing"):
        comp.parse_rules("name: x\nunit_prices: {}\ndecoration: {}\ntemporary: "
                         "{rate: 1, months: {money: 1, swap_ready: 1, swap_future: 1}}")


def test_rules_per_project_in_the_registry(registry):
    assert not comp.rules_are_stored(registry)
    assert comp.rules_of(registry).name.startswith("安居示范项目")
    text = comp.default_rules_text().replace("rate: 12 ", "rate: 13 ")
    comp.set_rules(registry, text)
    assert comp.rules_of(registry).data["moving"]["rate"] == Decimal("13")
    with pytest.raises(comp.RulesError):
        comp.set_rules(registry, text.replace("rate: 13 ", "rate: -13 "))
    assert comp.rules_of(registry).data["moving"]["rate"] == Decimal("13")  # unchanged


def test_missing_zones_are_reported(registry):
    registry.set_meta("settings", '{"zones": [{"name": "西门片区"}, {"name": "新区"}]}')
    assert comp.missing_zones(registry, comp.rules_of(registry)) == ["新区"]


def test_command_line_show_set_calc(registry, household, tmp_path):
    import subprocess
    import sys

    def anju(*args):
        return subprocess.run([sys.executable, "-m", "anju.registry.cli", "compensation",
                               str(registry.path), *args], capture_output=True, text=True,
                              timeout=120)

    shown = anju("show")
    assert shown.returncode == 0 and "unit_prices:" in shown.stdout
    assert "example" in shown.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(comp.default_rules_text().replace("rate: 15 ", "rate: -15 "),
                   encoding="utf-8")
    refused = anju("set", str(bad))
    assert refused.returncode == 2 and "temporary.rate: must not be negative" in refused.stderr
    assert "Traceback" not in refused.stderr and registry.meta("compensation") is None
    good = tmp_path / "good.yaml"
    good.write_text(comp.default_rules_text(), encoding="utf-8")
    assert anju("set", str(good)).returncode == 0
    assert registry.meta("compensation") == comp.default_rules_text()
    registry.save("household", household, {"cert_area": 80, "decoration": "none"}, by="t")
    assert "签约期起始日期" in anju("calc", "A-0001").stdout  # missing, so said
    registry.set_meta("settings", '{"signing_start": "2026-10-01"}')
    calc = anju("calc", "A-0001", "--on", "2026-10-10", "--mode", "money")
    assert calc.returncode == 0, calc.stderr
    assert "被征收房屋价值补偿: 736,000.00 元" in calc.stdout and "合计:" in calc.stdout
    missing = anju("calc", "Z-9")
    assert missing.returncode == 2 and "no household with house number Z-9" in missing.stderr
