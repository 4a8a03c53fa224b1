"""Attachments (附属物) by an item list: the rules' price list read strictly, the household's
counted items as records that sync, and each line of the breakdown (name × quantity × unit price)
exact to the fen. Oracles are the test's own integer arithmetic in fen."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from fractions import Fraction

import pytest
import yaml
from anju.registry.compensation import agreements as ag
from anju.registry.compensation import calculation as comp
from anju.registry.compensation import rules as rules_mod
from anju.registry.core.store import StoreError
from anju.registry.core.workflow import move
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.syncing import Project
from tests.test_compensation import calc, item, rules

LIST = [{"code": "W1", "name": "砖围墙", "unit": "m", "unit_price": "120.50"},
        {"code": "J1", "name": "水井", "unit": "well", "unit_price": 3000},
        {"code": "T1", "name": "果树", "unit": "tree", "unit_price": "85.35"}]


def text_with(attachments) -> str:
    raw = yaml.safe_load(comp.default_rules_text())
    raw["attachments"] = attachments
    return yaml.safe_dump(raw, allow_unicode=True)


def fen_of(quantity: str, price: str) -> Decimal:
    """quantity × price rounded half up to the fen, in exact fractions."""
    exact = Fraction(quantity) * Fraction(price) * 100
    whole, rest = divmod(exact.numerator, exact.denominator)
    if 2 * rest >= exact.denominator:
        whole += 1
    return Decimal(whole) / 100


def test_each_counted_item_is_one_line_of_name_quantity_and_price():
    r = rules(attachments=LIST)
    counted = [{"item_code": "W1", "quantity": "12.35"}, {"item_code": "J1", "quantity": 1},
               {"item_code": "T1", "quantity": 3}]
    b = calc(r=r, fixtures=counted)
    lines = [i for i in b.items if i.key == "attachment"]
    assert [i.amount for i in lines] == [fen_of("12.35", "120.50"), Decimal(3000),
                                         fen_of("3", "85.35")]
    assert lines[0].amount == Decimal("1488.18")  # 1,488.175 rounds half up
    assert lines[0].label == "附属物补偿·砖围墙"
    assert "12.35 米" in lines[0].basis and "120.50 元/米" in lines[0].basis
    assert lines[0].formula == "数量 × 单价 = 12.35 × 120.50"
    assert "1 口" in lines[1].basis and "3 棵" in lines[2].basis
    plain = calc(r=r)
    assert b.total - plain.total == sum(i.amount for i in lines)
    assert all(i.key != "attachment" for i in plain.items)


def test_an_item_the_list_does_not_price_leaves_the_household_unsettled():
    b = calc(r=rules(attachments=LIST), fixtures=[{"item_code": "X9", "quantity": 2}])
    assert not b.complete and "附属物单价(X9)" in b.missing
    assert "附属物单价(W1)" in calc(fixtures=[{"item_code": "W1", "quantity": 2}]).missing


@settings(max_examples=100, deadline=None)
@given(quantities=st.lists(st.decimals(min_value=Decimal("0.01"), max_value=Decimal(5000),
                                       places=2), min_size=1, max_size=5),
       price=st.decimals(min_value=Decimal(0), max_value=Decimal(99999), places=2))
def test_lines_are_exact_to_the_fen_for_any_quantity(quantities, price):
    r = rules(attachments=[{"code": "A", "name": "围墙", "unit": "m2", "unit_price": str(price)}])
    b = calc(r=r, fixtures=[{"item_code": "A", "quantity": str(x)} for x in quantities])
    lines = [i.amount for i in b.items if i.key == "attachment"]
    assert lines == [fen_of(str(x), str(price)) for x in quantities]


@pytest.mark.parametrize(("attachments", "key", "words"), [
    (LIST + [{"code": "W1", "name": "另一围墙", "unit": "m", "unit_price": 1}],
     "attachments[3].code", "重复"),
    ([{"code": "W1", "name": "砖围墙", "unit": "furlong", "unit_price": 1}],
     "attachments[0].unit", "之一"),
    ([{"code": "W1", "name": "砖围墙", "unit": "m", "unit_price": -1}],
     "attachments[0].unit_price", "负数"),
    ([{"code": "W1", "unit": "m", "unit_price": 1}], "attachments[0].name", "缺少"),
    ([{"code": "W1", "name": "砖围墙", "unit": "m", "unit_price": 1, "colour": "red"}],
     "attachments[0].colour", "不是方案中的项"),
    ({"W1": 1}, "attachments", "列表"),
])
def test_a_bad_price_list_is_refused_naming_the_key(attachments, key, words):
    with pytest.raises(rules_mod.RulesError) as err:
        rules_mod.parse_rules(text_with(attachments))
    lines = dict(err.value.lines("zh"))
    assert key in lines and words in lines[key]


def test_a_zero_or_sub_fen_price_is_warned_not_refused():
    r = rules_mod.parse_rules(text_with([
        {"code": "W1", "name": "砖围墙", "unit": "m", "unit_price": 0},
        {"code": "W2", "name": "石围墙", "unit": "m", "unit_price": "10.005"}]))
    warnings = rules_mod.rule_warnings(r)
    assert ("attachments[0].unit_price", "zero_item") in warnings
    assert ("attachments[1].unit_price", "fen") in warnings
    assert ("attachments[1].unit_price", "zero_item") not in warnings


def _signable(registry, **house):
    registry.set_meta("settings", json.dumps({"signing_start": str(dt.date.today()),
                                              "freeze_date": "2020-01-01"}))
    registry.set_meta("compensation", text_with(LIST))
    hid = registry.save("household", None, {
        "house_no": "A-0200", "zone": "东关片区A地块", "address": "东关街200号",
        "structure": "brick_concrete", "owner_name": "张伟", "decoration": "simple",
        "cert_area": 80, "surveyed_area": 80, **house}, by="tester", full=True)
    for status in ("surveyed", "published", "valued"):
        move(registry, hid, status, by="tester")
    return hid


def test_counted_items_are_records_and_an_agreement_freezes_them(registry):
    hid = _signable(registry)
    registry.save("fixture", None, {"household_id": hid, "item_code": "W1", "quantity": "20"},
                  by="office", full=True)
    ag.record_agreement(registry, hid, number="ATT-1", signed_on=str(dt.date.today()),
                        mode="money", by="boss")
    [a] = ag.agreements_of(registry, hid)
    assert [i.amount for i in a["breakdown"].items if i.key == "attachment"] == [
        Decimal(20 * 120.5)]
    # A fixture counted after signing changes the estimate, never the signed agreement.
    registry.save("fixture", None, {"household_id": hid, "item_code": "J1", "quantity": 1},
                  by="office", full=True)
    [a] = ag.agreements_of(registry, hid)
    assert len([i for i in a["breakdown"].items if i.key == "attachment"]) == 1
    now = comp.breakdown_for(registry, hid, "money", dt.date.today())
    assert len([i for i in now.items if i.key == "attachment"]) == 2


@pytest.mark.parametrize("values", [
    {"item_code": "W 1", "quantity": 1}, {"item_code": "W1", "quantity": 0},
    {"item_code": "W1", "quantity": -3}, {"item_code": "W1", "quantity": "很多"},
    {"item_code": "W1"}, {"quantity": 2},
])
def test_a_bad_count_is_refused_and_nothing_written(registry, values):
    hid = _signable(registry)
    with pytest.raises(StoreError):
        registry.save("fixture", None, {"household_id": hid, **values}, by="office", full=True)
    assert registry.children("fixture", hid) == []


def test_counted_items_sync_to_laptops_and_a_field_laptop_cannot_write_them(tmp_path):
    p = Project(tmp_path, laptops=1, households=1)
    try:
        hid = p.households[0]
        p.central.save("fixture", None, {"household_id": hid, "item_code": "T1", "quantity": 4},
                       by="office", full=True)
        p.sync_back()
        [row] = p.lap(1).children("fixture", hid)
        assert row["item_code"] == "T1" and Decimal(str(row["quantity"])) == 4
        with pytest.raises(StoreError):
            p.lap(1).save("fixture", None, {"household_id": hid, "item_code": "T1",
                                            "quantity": 9}, by="surveyor", full=True)
        assert len(p.lap(1).children("fixture", hid)) == 1
    finally:
        p.close()


def test_the_breakdown_text_shows_each_attachment_line():
    b = calc(r=rules(attachments=LIST), fixtures=[{"item_code": "J1", "quantity": 2}])
    text = comp.breakdown_text(b)
    assert "附属物补偿·水井: 6,000.00 元" in text
    assert item(b, "attachment").amount == Decimal(6000)


# -- entering counts at the desk and on the household page -------------------------------------
def test_record_and_withdraw_a_count_by_the_rules_list(registry):
    from anju.registry.compensation import fixtures as fx
    hid = _signable(registry)
    fid = fx.record_fixture(registry, hid, item_code=" W1 ", quantity="7.25", by="office")
    assert fx.priced(registry, hid)[0]["amount"] == fen_of("7.25", "120.50")
    for code, qty, words in (("W9", 1, "不在补偿方案的附属物清单中"), ("W1", "0", "大于 0"),
                             ("W1", "1.005", "两位小数"), ("W1", "abc", "数字"),
                             ("W1", "1e9", "不超过")):
        with pytest.raises(fx.FixtureError, match=words):
            fx.record_fixture(registry, hid, item_code=code, quantity=qty, by="office")
    assert len(registry.children("fixture", hid)) == 1
    with pytest.raises(fx.FixtureError, match="理由"):
        fx.withdraw_fixture(registry, hid, fid, reason=" ", by="office")
    fx.withdraw_fixture(registry, hid, fid, reason="重复清点", by="office")
    assert fx.priced(registry, hid) == []
    assert registry.get("fixture", fid)["deleted"] == "重复清点"  # a tombstone, kept


def test_the_household_page_lists_and_takes_counts(tmp_path):
    import html as html_mod

    from anju.collector import create_app
    from anju.registry.core.store import Registry
    from anju.registry.core.users import add_user

    from tests.collector_helpers import CSRF_RE
    from tests.collector_helpers import login as login_as
    reg = Registry.create(tmp_path / "r.db", project="测试项目", role="central",
                          device_name="central")
    add_user(reg, "boss", "anju-demo-pass", "supervisor", policy=False)
    hid = _signable(reg)
    reg.close()
    client = create_app(tmp_path / "r.db", {"TESTING": True, "SECRET_KEY": "t"}).test_client()
    login_as(client, "boss", "anju-demo-pass")
    page = client.get(f"/households/{hid}").text
    assert 'id="fixtures"' in page and "尚未登记附属物" in page
    token = CSRF_RE.search(page).group(1)
    url = f"/households/{hid}/fixtures"
    client.post(url, data={"csrf_token": token, "item_code": "J1", "quantity": "2"})
    bad = client.post(url, data={"csrf_token": token, "item_code": "ZZ", "quantity": "2"},
                      follow_redirects=True)
    assert "不在补偿方案的附属物清单中" in html_mod.unescape(bad.text)
    page = html_mod.unescape(client.get(f"/households/{hid}").text)
    assert "水井(J1)" in page and "6,000.00" in page
    # The estimate on the same page carries the line.
    assert "附属物补偿·水井" in page
    with Registry.open(tmp_path / "r.db") as again:
        [row] = again.children("fixture", hid)
    client.post(url, data={"csrf_token": token, "withdraw": row["id"], "reason": "误录"})
    assert "尚未登记附属物" in client.get(f"/households/{hid}").text
