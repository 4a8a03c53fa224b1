"""The 日报: per zone, for the day and cumulative, recomputed by the test its own way from the raw
tables; and one definition of "signed" that every page, report and list agrees on."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import sqlite3
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest
from anju.collector import create_app
from anju.registry.compensation import lists
from anju.registry.core.store import Registry
from anju.registry.field.demo import build_demo
from anju.registry.publication.publish import publish
from anju.registry.review import daily, progress, report
from openpyxl import load_workbook

from tests.collector_helpers import login as login_as

TODAY = dt.date(2026, 11, 20)
SIGNED = {"signed", "handed_over", "demolished"}   # the test's own reading of DOMAIN.md
FEN = Decimal("0.01")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return build_demo(tmp_path_factory.mktemp("demo"), households=240, seed=5, today=TODAY)


@pytest.fixture
def reg(demo):
    with Registry.open(demo) as r:
        yield r


def mine(reg, day: str) -> dict[str, dict]:
    """The figures per zone, computed here from the tables without the code under test."""
    out: dict[str, dict] = defaultdict(lambda: defaultdict(Decimal))
    agreements = {}
    for hid, breakdown, total, on, amends in reg.conn.execute(
            "SELECT household_id, breakdown, total, signed_on, amends FROM agreement"):
        assert amends is None  # the demo makes no amendments: each one is in force
        agreements[hid] = (json.loads(breakdown), Decimal(str(total)).quantize(FEN), on)
    first: dict[tuple[str, str], str] = {}
    for hid, at, fields in reg.conn.execute(
            "SELECT record_id, at, fields FROM change WHERE record_type = 'household'"):
        status = json.loads(fields).get("status")
        for stage, members in (("signed", SIGNED), ("handed_over", {"handed_over", "demolished"}),
                               ("demolished", {"demolished"})):
            if status in members and at[:10] < first.get((hid, stage), "9999"):
                first[(hid, stage)] = at[:10]
    for h in reg.conn.execute("SELECT id, zone, status, cert_area, unregistered_area "
                              "FROM household WHERE deleted IS NULL"):
        hid, zone, status, cert, unregistered = h
        z = out[zone]
        z["households"] += 1
        z["disputed"] += status == "disputed"
        if hid in agreements:
            b, total, on = agreements[hid]
            area = Decimal(b["area"])
        else:
            area = None
            if status != "unsurveyed" and cert is not None:
                extra = min(Decimal(str(unregistered or 0)) * Decimal("0.5"), Decimal(30))
                area = (Decimal(str(cert)) + extra).quantize(FEN, ROUND_HALF_UP)
        if area is not None:
            z["area"] += area
        for stage, members in (("signed", SIGNED), ("handed_over", {"handed_over", "demolished"}),
                               ("demolished", {"demolished"})):
            if status in members:
                z[stage] += 1
                z[f"{stage}_day"] += first.get((hid, stage)) == day
        if status in SIGNED:
            b, total, on = agreements[hid]
            z["agreed"] += total
            z["area_signed"] += Decimal(b["area"])
            z[f"{b['mode']}_households"] += 1
            z[f"{b['mode']}_amount"] += total
            if on == day:
                z["agreed_day"] += total
                z["area_signed_day"] += Decimal(b["area"])
            if status == "demolished":
                z["area_demolished"] += Decimal(b["area"])
            if b["mode"] == "swap":  # each flat of a two-flat swap is a flat demanded
                for flat in b.get("flats") or [b["flat"]]:
                    z.setdefault("flats", Counter())[flat["code"]] += 1
    zone_of = dict(reg.conn.execute("SELECT id, zone FROM household WHERE deleted IS NULL"))
    for hid, amount, on in reg.conn.execute(
            "SELECT household_id, amount, paid_on FROM payment WHERE deleted IS NULL"):
        out[zone_of[hid]]["paid"] += Decimal(str(amount)).quantize(FEN)
        if on == day:
            out[zone_of[hid]]["paid_day"] += Decimal(str(amount)).quantize(FEN)
    return out


def busiest_day(reg) -> str:
    return reg.conn.execute("SELECT signed_on FROM agreement GROUP BY signed_on "
                            "ORDER BY count(*) DESC, signed_on LIMIT 1").fetchone()[0]


def test_the_report_figures_match_the_tests_own_count(reg):
    day = busiest_day(reg)
    rows, total = daily.zone_rows(reg, dt.date.fromisoformat(day))
    expected = mine(reg, day)
    assert {r["zone"] for r in rows} == set(expected)
    keys = ("households", "signed", "signed_day", "handed_over", "handed_over_day",
            "demolished", "demolished_day", "disputed", "area", "area_signed", "area_signed_day",
            "area_demolished", "agreed", "agreed_day", "money_households", "money_amount",
            "swap_households", "swap_amount", "paid", "paid_day")
    for r in rows:
        e = expected[r["zone"]]
        for k in keys:
            assert r[k] == e.get(k, 0), (r["zone"], k)
        assert r["flats"] == dict(e.get("flats", {}))
        assert r["rate"] == round(100 * e["signed"] / e["households"], 1)
    assert sum(r["signed_day"] for r in rows) > 0  # the day chosen has signings to count
    assert total["paid"] > 0  # the demo pays some agreements: the ledger is counted
    for k in keys:
        assert total[k] == sum(expected[z].get(k, 0) for z in expected)


def test_the_workbook_carries_the_report_with_chinese_labels(reg):
    day = dt.date.fromisoformat(busiest_day(reg))
    book = load_workbook(io.BytesIO(report.xlsx_bytes(reg, day)))
    sheet = book["日报"]
    values = list(sheet.iter_rows(values_only=True))
    head = [str(v).split("\n")[0] for v in values[1]]
    assert {"当日签约", "累计签约", "征收面积㎡", "累计协议金额(元)", "产权调换户数"} <= set(head)
    assert any(h.startswith("需求") and "㎡" in h for h in head)  # flats demanded by type
    last = dict(zip(head, values[-1], strict=True))
    rows, total = daily.zone_rows(reg, day)
    assert last["片区"] == "合计" and last["累计签约"] == total["signed"]
    assert Decimal(str(last["累计协议金额(元)"])) == total["agreed"]
    hardship = " ".join(str(c) for row in book["困难群体"].iter_rows(values_only=True)
                        for c in row)
    codes = ("dibao", "tekun", "elderly_alone", "serious_illness", "disability")
    assert not any(code in hardship for code in codes) and "低保" in hardship


def test_one_definition_of_signed_everywhere(demo, reg, tmp_path):
    own = Counter(z for z, s in reg.conn.execute(
        "SELECT zone, status FROM household WHERE deleted IS NULL") if s in SIGNED)
    total = sum(own.values())
    assert total > 0
    snap = progress.snapshot(reg, TODAY)
    assert snap["totals"]["signed"] == total
    assert {z["zone"]: z["signed"] for z in snap["zones"] if z["signed"]} == dict(own)
    assert {z: lists.zone_list(reg, z).signed for z in own} == dict(own)
    rows, all_zones = daily.zone_rows(reg, TODAY)
    assert all_zones["signed"] == total and {r["zone"]: r["signed"] for r in rows if r["signed"]} \
        == dict(own)
    assert f"signed {total} of target" in report.text_summary(reg, TODAY)
    out = tmp_path / "public.db"
    publish(reg, out)
    public = dict(sqlite3.connect(out).execute("SELECT zone, signed FROM zone"))
    assert {z: n for z, n in public.items() if n} == dict(own)
    client = create_app(demo, {"TESTING": True, "SECRET_KEY": "t"}).test_client()
    login_as(client, "supervisor", "anju-demo")
    page = client.get("/compensation").text
    shown = [int(n) for n in re.findall(r'<td class="num signed">(\d+)</td>', page)]
    assert sum(shown) == total
