"""The demo and the pages show the second part of the money: counted attachments, the on-time
handover reward (conditional before the handover, settled after it), and a two-flat swap. The
figures are recomputed here from the rules' numbers and the stored counts."""

from __future__ import annotations

import datetime as dt
import html
from decimal import ROUND_HALF_UP, Decimal

import pytest
from anju.collector import create_app
from anju.registry.compensation import agreements as ag
from anju.registry.compensation import calculation as comp
from anju.registry.completion import rewards
from anju.registry.core.store import Registry
from anju.registry.field.demo import build_demo

from tests.collector_helpers import CSRF_RE
from tests.collector_helpers import login as login_as


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return build_demo(tmp_path_factory.mktemp("demo"), households=120, seed=7)


@pytest.fixture
def client(demo):
    c = create_app(demo, {"TESTING": True, "SECRET_KEY": "test"}).test_client()
    login_as(c, "supervisor", "anju-demo")
    return c


def fen(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def in_force(demo) -> list[dict]:
    with Registry.open(demo) as reg:
        return [a for a in ag.all_agreements(reg) if a["in_force"]]


def test_the_demo_signs_attachments_by_the_item_list(demo):
    with Registry.open(demo) as reg:
        prices = {e["code"]: e for e in comp.rules_of(reg).data["attachments"]}
        counted: dict[str, list] = {}
        for hid, code, qty in reg.conn.execute(
                "SELECT household_id, item_code, quantity FROM fixture WHERE deleted IS NULL"):
            counted.setdefault(hid, []).append((code, Decimal(str(qty))))
    with_items = [a for a in in_force(demo) if a["household_id"] in counted]
    assert with_items, "the demo signs some houses with counted attachments"
    for a in with_items:
        lines = sorted((i.label, i.amount) for i in a["breakdown"].items
                       if i.key == "attachment")
        expected = sorted((f"附属物补偿·{prices[c]['name']}", fen(q * prices[c]["unit_price"]))
                          for c, q in counted[a["household_id"]])
        assert lines == expected
        assert a["total"] == sum(i.amount for i in a["breakdown"].items)


def test_the_demo_has_two_flat_swaps_priced_flat_by_flat(demo):
    two = [a for a in in_force(demo) if len(a["breakdown"].flats) == 2]
    assert two
    for a in two:
        b = a["breakdown"]
        assert [f["code"] for f in b.flats] == ["F60", "F75"]
        flats_value = Decimal(60 * 6200 + 75 * 6200)  # no swap_tiers in the example rules
        house = next(i.amount for i in b.items if i.key == "house_value")
        assert b.difference == flats_value - house
        assert b.difference_text.startswith("应向被征收人支付差价" if b.difference < 0
                                            else "被征收人应补缴差价")


def test_handed_over_households_earn_the_reward_of_their_frozen_rules(demo):
    with Registry.open(demo) as reg:
        handed = {hid: day for hid, day in reg.conn.execute(
            "SELECT household_id, handed_over_on FROM handover WHERE deleted IS NULL")}
        checked = 0
        for a in (x for x in ag.all_agreements(reg) if x["in_force"]):
            after = rewards.after_handover(reg, a)
            if a["household_id"] not in handed:
                assert after.lines == [] and after.conditional
                continue
            days = (dt.date.fromisoformat(handed[a["household_id"]])
                    - dt.date.fromisoformat(a["breakdown"].on)).days
            expected = 10000 if days <= 15 else 5000 if days <= 30 else 0
            reward = next(i for i in after.lines if i.key == "handover_reward")
            assert reward.amount == expected
            checked += 1
    assert checked


def test_the_household_page_shows_the_reward_conditional_then_settled(client, demo):
    agreements = in_force(demo)
    with Registry.open(demo) as reg:
        handed = {hid for (hid,) in reg.conn.execute(
            "SELECT household_id FROM handover WHERE deleted IS NULL")}
    done = next(a for a in agreements if a["household_id"] in handed)
    page = html.unescape(client.get(f"/households/{done['household_id']}").text)
    assert "交房后核定" in page and "按期交房奖励" in page and "10,000.00" in page
    assert "协议合计 + 交房后核定" in page
    waiting = next(a for a in agreements if a["household_id"] not in handed)
    page = html.unescape(client.get(f"/households/{waiting['household_id']}").text)
    assert "按期交房可得" in page and "交房后核定(" not in page
    two = next(a for a in agreements if len(a["breakdown"].flats) == 2)
    page = html.unescape(client.get(f"/households/{two['household_id']}").text)
    assert "安置房价款(抵扣)·60㎡两室一厅(现房)" in page
    assert "安置房价款(抵扣)·75㎡两室两厅(现房)" in page
    notice = html.unescape(client.get(
        f"/compensation/households/{two['household_id']}/notice").text)
    assert "60㎡两室一厅(现房)、75㎡两室两厅(现房)" in notice


def test_sign_two_flats_from_the_web(client, demo):
    with Registry.open(demo) as reg:
        hid = next(h for (h,) in reg.conn.execute(
            "SELECT id FROM household WHERE status = 'valued' AND deleted IS NULL "
            "ORDER BY house_no"))
    url = f"/compensation/households/{hid}/agreement"
    form = CSRF_RE.search(client.get(url).text).group(1)
    data = {"csrf_token": form, "number": "TWO-WEB", "signed_on": dt.date.today().isoformat(),
            "mode": "swap", "flat": "F60", "flat2": "F90"}
    lacking = client.post(url, data={**data, "flat": "", "action": "sign"})
    assert lacking.status_code == 400 and "请先选定第一套" in html.unescape(lacking.text)
    preview = client.post(url, data={**data, "action": "preview"})
    text = html.unescape(preview.text)
    assert preview.status_code == 200 and "安置房价款(抵扣)·90㎡三室两厅(期房)" in text
    assert client.post(url, data={**data, "action": "sign"}).status_code == 302
    with Registry.open(demo) as reg:
        [a] = [x for x in ag.agreements_of(reg, hid) if x["in_force"]]
    assert [f["code"] for f in a["breakdown"].flats] == ["F60", "F90"]
    assert "搬迁两次" in next(i.basis for i in a["breakdown"].items if i.key == "moving")


def test_the_command_line_prints_what_the_handover_settled(demo):
    import subprocess
    import sys
    with Registry.open(demo) as reg:
        house_no = next(n for (n,) in reg.conn.execute(
            "SELECT h.house_no FROM handover o JOIN household h ON h.id = o.household_id "
            "WHERE o.deleted IS NULL ORDER BY h.house_no"))
    out = subprocess.run([sys.executable, "-m", "anju.registry.cli", "compensation", str(demo),
                          "calc", house_no, "--mode", "money"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert "交房后核定 按期交房奖励" in out.stdout and "协议合计 + 交房后核定" in out.stdout
    assert "按期交房可得,不计入合计" in out.stdout
