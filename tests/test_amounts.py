"""Money as a Chinese notice shows it: capital numerals (大写) checked against examples of the
payment rules and against the test's own reader; the direction of every settlement; the same
figure to the fen on the notice, the zone list, the XLSX and the public data."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from decimal import ROUND_HALF_UP, Decimal

import pytest
from anju.collector import create_app
from anju.registry.compensation import agreements as ag
from anju.registry.compensation import lists
from anju.registry.compensation.amounts import capital, settlement_words
from anju.registry.core.users import add_user
from anju.registry.core.workflow import move
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from tests.collector_helpers import login as login_as

# Examples written out in 《支付结算办法》's rules for capital amounts and in bank practice.
EXAMPLES = {
    "1409.50": "壹仟肆佰零玖元伍角",
    "6007.14": "陆仟零柒元壹角肆分",
    "1680.32": "壹仟陆佰捌拾元零叁角贰分",
    "107000.53": "壹拾万柒仟元零伍角叁分",
    "325.04": "叁佰贰拾伍元零肆分",
    "1380258.00": "壹佰叁拾捌万零贰佰伍拾捌元整",
    "561097.20": "伍拾陆万壹仟零玖拾柒元贰角",
    "10": "壹拾元整",
    "100000000": "壹亿元整",
    "100010000": "壹亿零壹万元整",
    "0.05": "伍分",
    "0": "零元整",
    "30000.005": "叁万元零壹分",   # half up to the fen first
}
DIGIT = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
UNIT = {"拾": 10, "佰": 100, "仟": 1000}


@pytest.mark.parametrize(("amount", "words"), sorted(EXAMPLES.items()))
def test_capital_numerals_of_known_amounts(amount, words):
    assert capital(amount) == words


def read_capital(text: str) -> int:
    """The test's own reader of capital numerals: the amount in fen."""
    sign = -1 if text.startswith("负") else 1
    text = text.removeprefix("负").removesuffix("整")
    whole, _, rest = text.rpartition("元") if "元" in text else ("", "", text)

    def below_wan(part: str) -> int:
        total, digit = 0, 0
        for ch in part:
            if ch in DIGIT:
                digit = DIGIT[ch]
            elif ch in UNIT:
                total, digit = total + digit * UNIT[ch], 0
        return total + digit

    def number(part: str) -> int:
        if "亿" in part:
            high, _, low = part.partition("亿")
            return number(high) * 10 ** 8 + number(low)
        if "万" in part:
            high, _, low = part.partition("万")
            return below_wan(high) * 10 ** 4 + below_wan(low)
        return below_wan(part)

    jiao = fen = 0
    rest = rest.lstrip("零")
    if "角" in rest:
        d, _, rest = rest.partition("角")
        jiao = DIGIT[d]
    if "分" in rest:
        fen = DIGIT[rest.lstrip("零")[0]]
    return sign * (number(whole) * 100 + jiao * 10 + fen)


@given(fen=st.integers(-10 ** 13, 10 ** 13), extra=st.sampled_from(["", "4", "5", "49"]))
def test_capital_numerals_read_back_to_the_amount_rounded_half_up(fen, extra):
    text = f"{Decimal(fen) / 100:.2f}{extra}"  # digits below the fen to round away
    expected = int(Decimal(text).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) * 100)
    words = capital(text)
    assert read_capital(words) == expected
    body = words.removeprefix("负")
    assert "零零" not in body
    assert body == "零元整" or not body.startswith("零")
    assert body.endswith("整") == (expected % 100 == 0)
    assert "零元" not in body or body == "零元整"


# -- the direction and one rounding on every page ---------------------------------------------
def today() -> dt.date:
    """Today, read when a test runs (a run may cross midnight)."""
    return dt.date.today()


@pytest.fixture
def swapped(registry):
    """A small house swapped for a big flat: the household pays the office (a negative net)."""
    registry.set_meta("settings", json.dumps({
        "signing_start": str(today() - dt.timedelta(days=5)),
        "zones": [{"name": "东关片区A地块", "code": "A", "target": 1}]}, ensure_ascii=False))
    add_user(registry, "boss", "secret-pass-1", "supervisor")
    hid = registry.save("household", None, {
        "house_no": "A-0028", "zone": "东关片区A地块", "address": "东关街28号",
        "structure": "simple", "owner_name": "王芳", "decoration": "none", "cert_area": 30.25,
        "surveyed_area": 30.25}, by="t", full=True)
    for status in ("surveyed", "published", "valued"):
        move(registry, hid, status, by="t")
    ag.record_agreement(registry, hid, number="LAP-001", signed_on=str(today()), mode="swap",
                        flat="F110", by="boss")
    return hid


def test_a_swap_household_that_pays_is_shown_paying_everywhere(registry, swapped):
    [a] = ag.agreements_of(registry, swapped)
    b = a["breakdown"]
    # The test's own figures: house 30.25 × 5,600; flat 110 × 6,800; the other items as listed.
    house = Decimal("30.25") * 5600
    flat = Decimal(110) * 6800
    others = sum(i.amount for i in b.items if i.key not in ("house_value", "flat_value"))
    net = house - flat + others
    assert net < 0 and b.total == net
    due = f"{-net:,.2f}"
    assert settlement_words(b) == f"被征收人应补缴 {due} 元"
    assert b.difference_text == f"被征收人应补缴差价 {flat - house:,.2f} 元"
    row = ag.public_rows(registry)[swapped]
    assert row["compensation_total"] == float(-net)
    assert row["settlement"].startswith("被征收人应补缴")
    assert row["price_difference"] == float(flat - house) and row["compensation_total"] > 0
    [listed] = lists.zone_list(registry, "东关片区A地块").rows
    assert listed["direction"] == "被征收人应补缴" and listed["total"] == -net
    book = load_workbook(io.BytesIO(lists.xlsx_bytes(registry)))
    cells = [c.value for row in book.active.iter_rows() for c in row]
    assert "被征收人应补缴" in cells and float(-net) in cells
    assert not any(isinstance(v, int | float) and v < 0 for v in cells)
    client = create_app(registry.path, {"TESTING": True, "SECRET_KEY": "t"}).test_client()
    login_as(client, "boss", "secret-pass-1")
    notice = client.get(f"/compensation/households/{swapped}/notice").text
    assert f"被征收人应补缴 {due} 元" in notice
    assert f"被征收人应补缴 人民币{capital(-net)}" in notice
    # The only minus is the flat's price, a line labelled as deducted; no negative total.
    assert re.findall(r">-([\d,]+\.\d\d)<", notice) == [f"{flat:,.2f}"] and "抵扣" in notice
    page = client.get("/compensation/zones/东关片区A地块/list").text
    assert "被征收人应补缴" in page and due in page
