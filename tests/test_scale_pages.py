"""The central office's pages at scale (issue 21) give the figures of the straightforward path.

The SQL paths (compensation.zone_figures: agreements in force, zone sums, paged and streamed
rows; core.stages: the days each stage was reached, folded from the log's new changes;
progress counts from one index scan; the streamed 日报; the review queue read along an index)
are held to the simple paths that decode every agreement and scan the change log
(lists.zone_list, progress.trend_from_log, daily.zone_rows_straightforward), on the demo and on
random small registries built straight into the tables, with the cases a hostile or unlucky
project brings: amendments across households, double agreements and their settlements,
tampered agreements (a second change), deleted records, totals off the fen, areas stored as
numbers. Paging: the pages of a zone, read one after another, are its whole list in order, no
row lost or doubled.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sqlite3
import uuid
from decimal import Decimal

import pytest
from anju.collector import create_app
from anju.registry.compensation import lists, zone_figures
from anju.registry.core import stages
from anju.registry.core.store import Registry
from anju.registry.field.demo import build_demo
from anju.registry.legal import decisions
from anju.registry.review import daily, progress, report
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.collector_helpers import login as login_as

TODAY = dt.date(2026, 11, 20)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return build_demo(tmp_path_factory.mktemp("demo"), households=240, seed=5, today=TODAY)


@pytest.fixture
def reg(demo):
    with Registry.open(demo) as r:
        yield r


def same_as_straightforward(reg: Registry, day: dt.date, page_size: int = 7) -> None:
    """Every figure and row of the SQL paths equals the simple path's, on this registry."""
    zones = lists.zones(reg)
    summaries = {s.zone: s for s in zone_figures.summaries(reg, zones)}
    for zone in zones:
        zl = lists.zone_list(reg, zone)
        s = summaries[zone]
        assert (s.households, s.signed, s.disputed, s.total) == (
            len(zl.rows), zl.signed, zl.disputed, zl.total), zone
        assert zone_figures.summaries(reg, zones, only=zone) == [s]
        assert list(zone_figures.iter_rows(reg, zone)) == zl.rows
        paged, number = [], 1
        while True:
            p = zone_figures.page(reg, zone, number, page_size)
            assert p.summary == s
            if not p.rows:
                break
            assert p.rows[0]["no"] == (number - 1) * page_size + 1
            paged += p.rows
            number += 1
        assert paged == zl.rows  # page after page: the whole list, in order, once
        assert number - 1 == (p.pages if zl.rows else 0)
    assert stages.day_counts(reg, progress.TREND) == {
        d: c for d, c in progress.trend_from_log(reg).items() if any(c.values())}
    assert daily.zone_rows(reg, day) == daily.zone_rows_straightforward(reg, day)
    counts = progress.status_counts(reg)
    for group in progress.GROUPS:
        # SQL's sum() over no matching row is NULL where the index path counts 0 (a group whose
        # statuses are all unset: the simple path's None would break the percentages)
        simple = {k: {f: v or 0 for f, v in row.items()}
                  for k, row in progress._rows(reg, group).items()}
        assert progress._summed(counts, group) == simple, group


def test_the_demo_gives_the_same_figures_both_ways(reg):
    days = [d for (d,) in reg.conn.execute("SELECT DISTINCT signed_on FROM agreement")]
    assert len(days) > 3
    for day in [*days[:4], TODAY.isoformat()]:
        same_as_straightforward(reg, dt.date.fromisoformat(day))
    assert sum(s.in_force for s in zone_figures.summaries(reg, lists.zones(reg))) > 0
    for later in (0, 40, 400):  # before and after the zones' signing deadlines
        on = TODAY + dt.timedelta(days=later)
        assert decisions.eligible_count(reg, on) == len(decisions.eligible(reg, on))
    assert decisions.eligible_count(reg, TODAY + dt.timedelta(days=400)) > 0


def test_the_stage_days_are_derived_and_rebuild_the_same(reg, demo, tmp_path):
    copy = tmp_path / "copy.db"
    shutil.copy(demo, copy)
    with Registry.open(copy) as r:
        assert stages.catch_up(r)
        before = r.conn.execute("SELECT * FROM household_stage ORDER BY 1, 2").fetchall()
        days = r.conn.execute("SELECT * FROM stage_day WHERE n != 0 ORDER BY 1, 2").fetchall()
        assert before and days
        stages.rebuild(r)
        assert r.conn.execute("SELECT * FROM household_stage ORDER BY 1, 2").fetchall() == before
        assert r.conn.execute("SELECT * FROM stage_day WHERE n != 0 ORDER BY 1, 2").fetchall() \
            == days


def test_a_status_saved_now_is_counted_at_the_next_read(reg, demo, tmp_path):
    copy = tmp_path / "copy.db"
    shutil.copy(demo, copy)
    with Registry.open(copy) as r:
        hid = r.conn.execute("SELECT id FROM household WHERE status = 'unsurveyed' AND deleted "
                             "IS NULL LIMIT 1").fetchone()[0]
        r.save("household", hid, {"status": "surveyed"}, by="test")
        other = sqlite3.connect(copy, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # someone else is writing: the tables cannot catch up
        r.conn.execute("PRAGMA busy_timeout = 50")
        assert not stages.catch_up(r)
        assert stages.day_counts(r, progress.TREND) == {  # so the log is read whole instead
            d: c for d, c in progress.trend_from_log(r).items() if any(c.values())}
        today = dt.date.fromisoformat(at[:10]) if (at := r.conn.execute(
            "SELECT max(at) FROM change").fetchone()[0]) else TODAY
        assert daily.zone_rows(r, today) == daily.zone_rows_straightforward(r, today)
        other.execute("ROLLBACK")
        assert stages.catch_up(r)
        day = r.conn.execute("SELECT day FROM household_stage WHERE household_id = ? AND "
                             "status = 'surveyed'", (hid,)).fetchone()[0]
        at = r.conn.execute("SELECT max(at) FROM change WHERE record_id = ?", (hid,)).fetchone()[0]
        assert day == at[:10]
        assert progress.trend(r)[-1]["day"] >= day
        assert stages.day_counts(r, progress.TREND) == {
            d: c for d, c in progress.trend_from_log(r).items() if any(c.values())}


def test_the_report_is_computed_once_and_says_the_same(reg, monkeypatch):
    calls = []
    real = progress.snapshot
    monkeypatch.setattr(progress, "snapshot", lambda *a, **k: calls.append(1) or real(*a, **k))
    computed = report.figures(reg, TODAY)
    report.workbook(reg, TODAY, computed)
    text = report.text_summary(reg, TODAY, computed)
    assert len(calls) == 1
    assert text == report.text_summary(reg, TODAY)


# ---------------------------------------------------------------- the web pages

@pytest.fixture
def client(demo, monkeypatch):
    monkeypatch.setattr(zone_figures, "PAGE_SIZE", 10)  # the demo's zones fill a few pages
    c = create_app(demo, {"TESTING": True, "SECRET_KEY": "t"}).test_client()
    login_as(c, "supervisor", "anju-demo")
    return c


def _house_numbers(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<td class="nowrap">([^<]+)</td><td>', body)


def test_the_overview_shows_the_zone_figures(client, reg):
    page = client.get("/compensation").text
    for s in zone_figures.summaries(reg, lists.zones(reg)):
        zl = lists.zone_list(reg, s.zone)
        assert f'<td>{s.zone}</td><td class="num">{len(zl.rows)}</td>' \
               f'<td class="num signed">{zl.signed}</td>' in page


def test_page_two_holds_the_next_rows(client, reg):
    zone = max(lists.zones(reg), key=lambda z: len(lists.zone_list(reg, z).rows))
    rows = lists.zone_list(reg, zone).rows
    assert len(rows) > 20
    url = f"/compensation/zones/{zone}/list"
    seen = []
    for number in range(1, (len(rows) + 9) // 10 + 1):
        html = client.get(url, query_string={"page": number}).text
        got = _house_numbers(html)
        assert got == [r["house_no"] for r in rows[(number - 1) * 10:number * 10]], number
        assert f"第 {number} / {(len(rows) + 9) // 10} 页" in html
        seen += got
    assert seen == [r["house_no"] for r in rows]  # no row lost or doubled
    first = client.get(url).text
    assert "下一页" in first and "上一页" not in first
    assert f"共 {len(rows)} 户" in first  # the zone's figures, not the page's
    beyond = client.get(url, query_string={"page": 999})
    assert beyond.status_code == 302 and f"page={(len(rows) + 9) // 10}" in beyond.location
    assert client.get(url, query_string={"page": "x"}).status_code == 200
    huge = client.get(url, query_string={"page": str(10**30)})
    assert huge.status_code == 302 and f"page={(len(rows) + 9) // 10}" in huge.location
    assert client.get(url, query_string={"page": "-3"}).status_code == 302
    assert client.get("/compensation/zones/没有这个片区/list").status_code == 404


def test_the_whole_zone_is_one_xlsx_sheet(client, reg):
    import io

    from openpyxl import load_workbook
    zone = lists.zones(reg)[0]
    book = load_workbook(io.BytesIO(client.get("/compensation/lists.xlsx",
                                               query_string={"zone": zone}).data))
    values = list(book.worksheets[0].iter_rows(values_only=True))
    zl = lists.zone_list(reg, zone)
    assert [v[1] for v in values[2:2 + len(zl.rows)]] == [r["house_no"] for r in zl.rows]
    assert values[-1][1] == f"{len(zl.rows)} 户" and values[-1][2] == f"已签约 {zl.signed} 户"


# ---------------------------------------------------------------- random small registries

ZONES = ["甲片区", "乙片区", "丙片区"]
STATUSES = ["unsurveyed", "surveyed", "published", "valued", "signed", "handed_over",
            "demolished", "disputed", "decision", None]
TOTALS = [350000.0, -1234.5, 0.0, 1.005, 0.125, 12.3456, 1e9 + 0.01, 99.99]


@pytest.fixture(scope="module")
def empty(tmp_path_factory):
    path = tmp_path_factory.mktemp("empty") / "registry.db"
    Registry.create(path, project="测试", role="central", device_name="central").close()
    return path


household_st = st.fixed_dictionaries({
    "zone": st.sampled_from(ZONES + [None]), "status": st.sampled_from(STATUSES),
    "deleted": st.booleans().map(lambda b: "拆分" if b else None),
    "cert_area": st.one_of(st.none(), st.decimals("10", "200", places=2).map(float)),
    "stages": st.lists(st.tuples(st.sampled_from(STATUSES[:-1]), st.integers(0, 5)),
                       max_size=4),
    "agreements": st.lists(st.fixed_dictionaries({
        "total": st.sampled_from(TOTALS), "mode": st.sampled_from(["money", "swap"]),
        "deleted": st.booleans().map(lambda b: "作废" if b else None),
        "amends": st.one_of(st.none(), st.integers(0, 20)),
        "tampered": st.booleans(), "area": st.sampled_from(["52.30", 61.5, None]),
        "flat": st.booleans(), "day": st.integers(0, 5),
        "paid": st.one_of(st.none(), st.sampled_from([100.0, 0.5, 350000.0])),
    }), max_size=3),
})


def _breakdown(a: dict) -> str:
    b = {"area": a["area"], "area_basis": "", "difference": None, "flat": None, "house": {},
         "items": [{"amount": "1.00", "basis": "", "formula": "", "key": "house_value",
                    "label": "房屋价值"}], "missing": [], "mode": a["mode"], "on": "2026-11-01",
         "options": {}, "rules": {}, "total": "1.00"}
    if a["flat"]:
        b["flat"] = {"area": "90", "code": "F90", "label": "90㎡", "ready": False,
                     "unit_price": "6500", "value": "585000.00"}
    return json.dumps(b, ensure_ascii=False)


def build(path, houses: list[dict], settle: bool) -> None:
    """Write the households, their status changes, agreements (with their changes) and
    payments straight into the tables, the way a merge leaves them."""
    reg = Registry.open(path)
    conn, device = reg.conn, reg.device_id
    seq = [conn.execute("SELECT coalesce(max(seq), 0) FROM change").fetchone()[0]]
    n = iter(range(10**6))

    def change(rtype, rid, fields, day):
        seq[0] += 1
        conn.execute("INSERT INTO change (change_id, device_id, seq, record_type, record_id, "
                     "fields, base, at, by, note, received_at) VALUES (?, ?, ?, ?, ?, ?, '{}', "
                     "?, 'test', NULL, ?)", (str(uuid.uuid4()), device, seq[0], rtype, rid,
                                             json.dumps(fields, ensure_ascii=False),
                                             f"2026-11-{day + 1:02d}T08:00:{next(n) % 60:02d}Z",
                                             "2026-11-30T00:00:00Z"))
    ids: list[str] = []
    stamp = "2026-11-01T00:00:00Z"
    conn.execute("BEGIN")
    for i, h in enumerate(houses):
        hid = str(uuid.UUID(int=i + 1))
        conn.execute("INSERT INTO household (id, house_no, zone, status, deleted, cert_area, "
                     "created_at, created_by, updated_at, updated_by) VALUES "
                     "(?, ?, ?, ?, ?, ?, ?, 't', ?, 't')",
                     (hid, f"H-{i % 7:02d}", h["zone"], h["status"], h["deleted"],
                      h["cert_area"], stamp, stamp))
        for status, day in h["stages"]:
            change("household", hid, {"status": status}, day)
        for k, a in enumerate(h["agreements"]):
            aid = str(uuid.UUID(int=10**6 + len(ids)))
            amends = ids[a["amends"]] if a["amends"] is not None and a["amends"] < len(ids) \
                else None
            values = {"household_id": hid, "number": f"AG-{len(ids)}",
                      "signed_on": f"2026-11-{a['day'] + 1:02d}", "mode": a["mode"],
                      "breakdown": _breakdown(a), "total": a["total"], "amends": amends,
                      "reason": "更正" if amends else None}
            ids.append(aid)
            conn.execute("INSERT INTO agreement (id, household_id, number, signed_on, mode, "
                         "breakdown, total, amends, reason, deleted, created_at, created_by, "
                         "updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 't', "
                         "?, 't')", (aid, hid, values["number"], values["signed_on"],
                                     values["mode"], values["breakdown"], values["total"],
                                     amends, values["reason"], a["deleted"], stamp, stamp))
            change("agreement", aid, {k2: v for k2, v in values.items() if k2 != "household_id"},
                   0)
            if a["tampered"]:  # a later change someone slipped in: the row shows its values
                change("agreement", aid, {"total": a["total"] + 1000, "amends": None}, 5)
                conn.execute("UPDATE agreement SET total = ?, amends = NULL WHERE id = ?",
                             (a["total"] + 1000, aid))
            if a["paid"] is not None:
                conn.execute("INSERT INTO payment (id, household_id, agreement, amount, paid_on, "
                             "method, voucher_no, created_at, created_by, updated_at, "
                             "updated_by) VALUES (?, ?, ?, ?, ?, 'cash', ?, ?, 't', ?, 't')",
                             (str(uuid.uuid4()), hid, aid, a["paid"], values["signed_on"],
                              f"V{k}", stamp, stamp))
    if settle:  # a supervisor kept one agreement of each household that has two or more
        for hid, kept, aside in conn.execute(
                "SELECT household_id, min(id), group_concat(id) FROM agreement "
                "WHERE deleted IS NULL GROUP BY household_id HAVING count(*) > 1").fetchall():
            conn.execute("INSERT INTO decision (id, flag_key, kind, decision, reason, household, "
                         "kept, set_aside, created_at, created_by, updated_at, updated_by) "
                         "VALUES (?, ?, 'double_agreement', 'confirmed', '核定', ?, ?, ?, ?, 't',"
                         " ?, 't')", (str(uuid.uuid4()), f"k{hid[-6:]}", hid, kept, aside,
                                      stamp, stamp))
    conn.execute("COMMIT")
    reg.close()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(houses=st.lists(household_st, min_size=1, max_size=12), settle=st.booleans(),
       day=st.integers(0, 6))
def test_random_registries_give_the_same_figures_both_ways(empty, tmp_path_factory, houses,
                                                           settle, day):
    path = tmp_path_factory.mktemp("random") / "registry.db"
    shutil.copy(empty, path)
    build(path, houses, settle)
    with Registry.open(path) as reg:
        same_as_straightforward(reg, dt.date(2026, 11, day + 1), page_size=3)
        if any(a["total"] in (1.005, 0.125, 12.3456) for h in houses for a in h["agreements"]):
            assert all(isinstance(s.total, Decimal)
                       for s in zone_figures.summaries(reg, lists.zones(reg)))


def test_the_open_queue_is_the_sorted_queue_a_page_at_a_time(demo, tmp_path):
    from anju.registry.review import checks
    from anju.registry.review import decisions as queue

    copy = tmp_path / "copy.db"
    shutil.copy(demo, copy)
    with Registry.open(copy) as r:
        checks.run_checks(r)
        keys = [k for (k,) in r.conn.execute("SELECT flag_key FROM flag ORDER BY flag_key")]
        assert len(keys) > 10
        for key in keys[:3]:  # closed ones leave the open queue
            queue.decide(r, key, "dismissed", "核实无误", by="test")
        queue.decide(r, keys[3], "reopened", "再查", by="test")  # reopened: still open
        sql, args = queue._items_sql(r)
        everything = r.conn.execute(
            f"SELECT * FROM ({sql}) ORDER BY item = 'flag', substr(at, 1, 10) DESC, "
            f"{queue._priority()}, key", args).fetchall()
        for limit, offset in ((50, 0), (7, 0), (7, 7), (5, len(everything) - 3),
                              (5, len(everything) + 5)):
            total, items = queue.queue(r, limit=limit, offset=offset)
            assert total == len(everything)
            assert [i["key"] for i in items] == [row[1] for row in
                                                 everything[offset:offset + limit]]
