"""A swap with several flats (two smaller flats for a large house): each flat's price by the
area bands of 扩面 pricing, the difference with its direction. The oracle splits the flats'
areas by intervals on one line (the test's own method), not by the code's running remainders."""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal

import pytest
from anju.registry.compensation import agreements as ag
from anju.registry.compensation import calculation as comp
from anju.registry.core.workflow import move
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_compensation import calc, item, rules

TIERS = {"within": Decimal(3000), "band": Decimal(10), "band_price": Decimal(5000)}


def fen(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def oracle(flats, area, tiers):
    """Each flat covers the interval [start, end) of the flats laid end to end; its price is
    the overlap with [0, area) at `within`, with [area, area+band) at `band_price`, the rest at
    its own price."""
    prices, start = [], Decimal(0)
    for f in flats:
        end = start + f["area"]
        if tiers is None:
            prices.append(fen(f["area"] * f["unit_price"]))
        else:
            def overlap(lo, hi, start=start, end=end):
                return max(Decimal(0), min(end, hi) - max(start, lo))
            cost = overlap(Decimal(0), area)
            band = overlap(area, area + tiers["band"])
            rest = f["area"] - cost - band
            prices.append(fen(cost * tiers["within"] + band * tiers["band_price"]
                              + rest * f["unit_price"]))
        start = end
    return prices


def test_two_small_flats_for_a_large_house_share_the_old_area_once():
    flats = [{"code": "F60", "area": 60, "unit_price": 6200},
             {"code": "F75", "area": 75, "unit_price": 6200}]
    s = comp.swap_settlement(flats, area="120", house_value="1000000", tiers=TIERS)
    # 60 at cost; 60 at cost + 10 band + 5 market: not 75 at cost again.
    assert [line.amount for line in s.lines] == [Decimal(180000),
                                                  Decimal(60 * 3000 + 10 * 5000 + 5 * 6200)]
    assert [(line.within, line.band, line.beyond) for line in s.lines] == [
        (60, 0, 0), (60, 10, 5)]
    assert s.flats_value == Decimal(180000 + 261000)
    assert s.difference == Decimal(441000 - 1000000)
    assert s.direction == "应支付被征收人" and s.text == "应向被征收人支付差价 559,000.00 元"


def test_the_direction_of_the_difference_at_zero_and_either_side():
    flats = [{"area": 100, "unit_price": 5000}]
    assert comp.swap_settlement(flats, area=100, house_value="500000").text == "无差价"
    more = comp.swap_settlement(flats, area=100, house_value="499999.99")
    assert more.difference == Decimal("0.01") and more.direction == "被征收人应补缴"
    less = comp.swap_settlement(flats, area=100, house_value="500000.01")
    assert less.difference == Decimal("-0.01") and less.direction == "应支付被征收人"


@pytest.mark.parametrize("flats", [
    [], None, "F60", [{"area": 0, "unit_price": 6000}], [{"area": -5, "unit_price": 6000}],
    [{"area": "六十", "unit_price": 6000}], [{"area": 60}], [{"area": 60, "unit_price": -1}],
    [{"area": "NaN", "unit_price": 1}], [{"area": True, "unit_price": 1}], ["F60"],
    [{"area": "1e12", "unit_price": 1}],
])
def test_bad_flats_are_refused_in_words(flats):
    with pytest.raises(comp.SwapError) as err:
        comp.swap_settlement(flats, area=80, house_value=500000, tiers=TIERS)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(err.value))


AREA = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(300), places=2)
PRICE = st.decimals(min_value=Decimal(0), max_value=Decimal(20000), places=2)


@settings(max_examples=150, deadline=None)
@given(flats=st.lists(st.fixed_dictionaries({"area": AREA, "unit_price": PRICE}), min_size=1,
                      max_size=4),
       area=st.decimals(min_value=Decimal(0), max_value=Decimal(400), places=2),
       value=st.decimals(min_value=Decimal(0), max_value=Decimal(5000000), places=2),
       tiered=st.booleans())
def test_settlement_matches_the_interval_oracle(flats, area, value, tiered):
    tiers = TIERS if tiered else None
    s = comp.swap_settlement(flats, area=area, house_value=value, tiers=tiers)
    expected = oracle(flats, area, tiers)
    assert [line.amount for line in s.lines] == expected
    assert s.flats_value == sum(expected)
    assert s.difference == sum(expected) - value
    assert s.flats_area == sum(f["area"] for f in flats)


def test_calculate_with_two_flats_lists_each_and_settles_them_together():
    r = rules(swap_tiers={"within": 3000, "band": 10, "band_price": 5000})
    b = calc(mode="swap", r=r, flats=["F60", "F75"])  # recognised area 80 m²
    assert b.complete
    lines = [i for i in b.items if i.key == "flat_value"]
    expected = oracle([{"area": Decimal(60), "unit_price": Decimal(6200)},
                       {"area": Decimal(75), "unit_price": Decimal(6200)}], Decimal(80), TIERS)
    assert [-i.amount for i in lines] == expected
    assert "60㎡两室一厅" in lines[0].label and "75㎡两室两厅" in lines[1].label
    house = item(b, "house_value").amount
    assert b.difference == sum(expected) - house
    assert [f["code"] for f in b.flats] == ["F60", "F75"] and b.flat["code"] == "F60"
    # Both ready: one move, the ready-flat transition months.
    assert "搬迁一次" in item(b, "moving").basis
    assert b.total == sum(i.amount for i in b.items)
    # A future flat among them: two moves.
    assert "搬迁两次" in item(calc(mode="swap", r=r, flats=["F60", "F90"]), "moving").basis
    # An unknown flat code is a missing input, not a guess.
    assert "安置房型(F999)" in calc(mode="swap", r=r, flats=["F60", "F999"]).missing


def test_breakdown_with_flats_survives_its_frozen_json():
    b = calc(mode="swap", flats=["F60", "F75"])
    again = comp.Breakdown.from_json(b.to_json())
    assert again.flats == b.flats and again.total == b.total and again.items == b.items
    single = calc(mode="swap", flat="F75")
    assert "flats" not in json.loads(single.to_json())  # old breakdowns freeze as before


def test_an_agreement_for_two_flats_is_recorded_and_frozen(registry):
    registry.set_meta("settings", json.dumps({"signing_start": str(dt.date.today()),
                                              "freeze_date": "2020-01-01"}))
    hid = registry.save("household", None, {
        "house_no": "A-0100", "zone": "东关片区A地块", "address": "东关街100号",
        "structure": "brick_concrete", "owner_name": "张伟", "decoration": "simple",
        "cert_area": 150, "surveyed_area": 150}, by="tester", full=True)
    for status in ("surveyed", "published", "valued"):
        move(registry, hid, status, by="tester")
    ag.record_agreement(registry, hid, number="TWO-1", signed_on=str(dt.date.today()),
                        mode="swap", by="boss", flats=["F60", "F75"])
    [a] = ag.agreements_of(registry, hid)
    assert [f["code"] for f in a["breakdown"].flats] == ["F60", "F75"]
    # No tiers in the example rules: every m² at its flat's price.
    assert sum(f["value"] for f in a["breakdown"].flats) == 60 * 6200 + 75 * 6200
    assert "安置房价款(抵扣)·75㎡两室两厅(现房)" in comp.breakdown_text(a["breakdown"])


def test_a_flat_with_a_bad_delivery_date_is_a_missing_input_not_a_crash():
    bad = {"code": "X1", "label": "期房X", "area": 80, "unit_price": 6000, "ready": False,
           "delivery_on": "2029-02-30"}
    b = calc(mode="swap", flats=[bad])
    assert not b.complete and "安置房交付日期" in b.missing[0]
