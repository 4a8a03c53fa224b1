"""The items of a real compensation plan (Art. 17-25), each configured in the rules, at its
boundaries; the figures are the test's own products of the numbers it configures."""

from __future__ import annotations

from decimal import Decimal

import pytest
from anju.registry.compensation import calculation as comp

from tests.test_compensation import HOUSE, calc, item, rules

PRICE = Decimal(9200)  # 东关片区A地块 · brick_concrete in the example rules


def test_a_valuation_replaces_the_zone_price_and_none_is_read_today(registry, household):
    assert comp.valuation_of(registry, household) is None
    b = calc(valuation={"unit_price": "12000", "report": "评估-7", "date": "2026-09-01"})
    assert item(b, "house_value").amount == Decimal("80") * 12000
    assert "评估-7" in item(b, "house_value").basis
    by_amount = calc(valuation={"amount": "700000.456", "report": "评估-8"})
    assert item(by_amount, "house_value").amount == Decimal("700000.46")
    assert item(calc(valuation=None), "house_value").amount == 80 * PRICE
    # A valuation prices a house the zone table cannot.
    assert calc({"zone": "新区"}, valuation={"unit_price": 5000}).complete
    assert not calc({"zone": "新区"}).complete


UNREG = {"unregistered": {"legal_price": 3000, "legal_max": 8}}


@pytest.mark.parametrize(("house", "amount", "words"), [
    ({"unregistered_area": 10, "unregistered_finding": "legal"}, Decimal(8 * 3000), "合法"),
    ({"unregistered_area": 7.5, "unregistered_finding": "legal"}, Decimal("22500.00"), "合法"),
    ({"unregistered_area": 10, "unregistered_finding": "illegal"}, Decimal(0), "违法建筑"),
    ({"unregistered_area": 10, "unregistered_finding": "legal", "year_built": 2026},
     Decimal(0), "抢建"),
])
def test_unregistered_area_by_its_finding(house, amount, words):
    b = calc(house, r=rules(**UNREG))
    unreg = item(b, "unregistered")
    assert unreg.amount == amount and words in (unreg.basis + unreg.formula)
    assert b.area == Decimal("80.00")  # not also counted into the recognised area
    assert item(b, "house_value").amount == 80 * PRICE


def test_unregistered_area_without_a_finding_cannot_be_settled():
    b = calc({"unregistered_area": 10}, r=rules(**UNREG))
    assert not b.complete and "无证面积认定结论" in b.missing
    assert calc({"unregistered_area": 0}, r=rules(**UNREG)).complete
    assert all(i.key != "unregistered" for i in calc(r=rules(**UNREG)).items)


BUSINESS = {"business": {"rate": 40, "months": 6}}


@pytest.mark.parametrize(("use", "amount"), [
    ("non_residential", Decimal(80 * 40 * 6)), ("residential", Decimal(0)), ("mixed", Decimal(0)),
])
def test_business_stoppage_for_business_use(use, amount):
    assert item(calc({"actual_use": use}, r=rules(**BUSINESS)), "business").amount == amount
    mixed_too = rules(business={"rate": 40, "months": 6, "uses": ["non_residential", "mixed"]})
    assert item(calc({"actual_use": "mixed"}, r=mixed_too), "business").amount == 80 * 40 * 6


HARDSHIP = {"hardship": {"amounts": {"dibao": 5000, "tekun": 8000}}}


@pytest.mark.parametrize(("kinds", "combine", "amount"), [
    (["dibao", "tekun"], "max", 8000), (["dibao", "tekun"], "sum", 13000), (["dibao"], "max", 5000),
    (["disability"], "max", 0), ([], "max", 0),
])
def test_hardship_subsidy_by_type(kinds, combine, amount):
    r = rules(hardship={"amounts": {"dibao": 5000, "tekun": 8000}, "combine": combine})
    got = item(calc({"hardship": kinds}, r=r), "hardship")
    assert got.amount == amount
    if amount:
        assert "低保" in got.basis or "特困" in got.basis


def test_hardship_types_must_be_those_of_the_survey():
    with pytest.raises(comp.RulesError) as caught:
        rules(hardship={"amounts": {"rich": 1}})
    assert caught.value.problems[0][0].startswith("hardship.amounts")


@pytest.mark.parametrize(("area", "minimum", "expected"), [
    (40, {"area": 45}, 45 * PRICE), (45, {"area": 45}, 45 * PRICE), (50, {"area": 45}, 50 * PRICE),
    (40, {"amount": 400000}, Decimal(400000)), (50, {"amount": 400000}, 50 * PRICE),
])
def test_the_minimum_guarantee(area, minimum, expected):
    b = calc({"cert_area": area}, r=rules(minimum=minimum))
    assert item(b, "house_value").amount == expected
    assert b.area == Decimal(area)  # the recognised area itself is what it is


@pytest.mark.parametrize(("flat", "expected"), [
    # recognised 80 m²; F90: 80 at cost, 10 in the band; F110: 80 + 10 + 20 at market
    ("F90", 80 * 3000 + 10 * 5000), ("F110", 80 * 3000 + 10 * 5000 + 20 * 6800),
    ("F75", 75 * 3000),
])
def test_swap_flat_priced_by_area_tiers(flat, expected):
    r = rules(swap_tiers={"within": 3000, "band": 10, "band_price": 5000})
    b = calc(mode="swap", flat=flat, r=r)
    assert item(b, "flat_value").amount == -expected
    assert b.difference == expected - 80 * PRICE
    untiered = calc(mode="swap", flat=flat)
    assert -item(untiered, "flat_value").amount == untiered.flat["area"] * untiered.flat[
        "unit_price"]


def test_the_example_rules_are_unchanged_by_the_new_items():
    b = calc()
    assert [i.key for i in b.items] == ["house_value", "decoration", "moving", "temporary",
                                        "incentive"]
    assert Decimal(str(HOUSE["cert_area"])) * PRICE == item(b, "house_value").amount
