"""Progress figures on a demo registry, checked against figures computed here another way:
in Python, from the folded change sets (Registry.changes_of), not from SQL over the records."""

import datetime as dt
from collections import Counter, defaultdict

import pytest
from anju.registry.cli import main
from anju.registry.core.store import Registry
from anju.registry.field.demo import build_demo
from anju.registry.publication import charts
from anju.registry.review import progress, report
from click.testing import CliRunner
from openpyxl import load_workbook

TODAY = dt.date(2026, 6, 1)
SIGNED = {"signed", "handed_over", "demolished"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = build_demo(tmp_path_factory.mktemp("demo"), households=180, devices=2, seed=7,
                      today=TODAY)
    reg = Registry.open(path)
    # One tombstoned household must vanish from every figure.
    hid = reg.conn.execute("SELECT id FROM household WHERE status = 'demolished' "
                           "LIMIT 1").fetchone()[0]
    reg.delete("household", hid, reason="重复登记", by="admin")
    yield reg
    reg.close()


def households(reg):
    """Every live household as its changes fold, with its change list (oldest first)."""
    ids = [r[0] for r in reg.conn.execute("SELECT DISTINCT record_id FROM change "
                                          "WHERE record_type = 'household'")]
    out = []
    for hid in ids:
        state = reg.state(hid)
        if not state.deleted:
            out.append((state.values, reg.changes_of(hid)))
    return out


def test_zone_figures(demo):
    mine = defaultdict(Counter)
    for values, _ in households(demo):
        mine[values["zone"]]["households"] += 1
        mine[values["zone"]]["signed"] += values.get("status") in SIGNED
    rows = {z["zone"]: z for z in progress.zones(demo, TODAY)}
    settings = demo.settings
    for zone in settings["zones"]:
        row = rows[zone["name"]]
        assert row["households"] == mine[zone["name"]]["households"]
        assert row["signed"] == mine[zone["name"]]["signed"]
        assert row["target"] == zone["target"]
        days = (dt.date.fromisoformat(zone["deadline"]) - TODAY).days
        assert row["days_left"] == days
        assert row["remaining"] == max(zone["target"] - row["signed"], 0)
    assert progress.totals(demo)["households"] == sum(c["households"] for c in mine.values())


def test_daily_trend_from_the_change_log(demo):
    firsts = defaultdict(Counter)
    for _, changes in households(demo):
        seen = set()
        for c in sorted(changes, key=lambda c: c.at):
            status = c.fields.get("status")
            if status in progress.TREND and status not in seen:
                seen.add(status)
                firsts[status][c.at[:10]] += 1
    rows = progress.trend(demo)
    assert rows, "the demo has a history"
    for stage in progress.TREND:
        got = {r["day"]: r[stage] for r in rows if r[stage]}
        assert got == dict(firsts[stage]), stage
        assert rows[-1][f"cum_{stage}"] == sum(firsts[stage].values())
    days = [r["day"] for r in rows]
    assert days == sorted(days) and len(days) == len(set(days))
    gaps = {(dt.date.fromisoformat(b) - dt.date.fromisoformat(a)).days
            for a, b in zip(days, days[1:])}
    assert gaps == {1}   # one row per calendar day, quiet days included


def test_cadres_furthest_behind_first(demo):
    mine = defaultdict(Counter)
    for values, _ in households(demo):
        mine[values.get("cadre")]["households"] += 1
        mine[values.get("cadre")]["signed"] += values.get("status") in SIGNED
    rows = progress.cadres(demo)
    for r in rows:
        assert r["households"] == mine[r["name"]]["households"]
        assert r["signed"] == mine[r["name"]]["signed"]
    shares = [r["signed"] / r["households"] if r["households"] else 0 for r in rows]
    assert shares == sorted(shares)
    teams = progress.teams(demo)
    assert sum(t["households"] for t in teams) == sum(
        c["households"] for name, c in mine.items() if name)
    assert [t["percent"] for t in teams] == sorted(t["percent"] for t in teams)


def test_hardship_progress(demo):
    total, signed, types = 0, 0, Counter()
    for values, _ in households(demo):
        kinds = values.get("hardship") or []
        if kinds:
            total += 1
            signed += values.get("status") in SIGNED
            types.update(kinds)
    got = progress.hardship(demo)
    assert got["total"]["households"] == total and got["total"]["signed"] == signed
    assert {t["type"]: t["households"] for t in got["types"]} == dict(types)


def test_daily_report_xlsx_and_cli(demo, tmp_path):
    out = report.write_xlsx(demo, tmp_path / "daily.xlsx", TODAY)
    wb = load_workbook(out)
    assert wb.sheetnames == ["概况", "日报", "片区进度", "每日趋势", "工作组", "包户干部",
                             "困难群体", "疑点"]
    zones = {r[0]: r for r in wb["片区进度"].iter_rows(min_row=2, values_only=True)}
    for z in progress.zones(demo, TODAY):
        assert zones[z["zone"]][1] == z["households"] and zones[z["zone"]][3] == z["signed"]
    result = CliRunner().invoke(main, ["report", str(demo.path), "--out",
                                       str(tmp_path / "cli.xlsx")])
    assert result.exit_code == 0, result.output
    assert f"households {progress.totals(demo)['households']}" in result.output
    assert (tmp_path / "cli.xlsx").stat().st_size > 5000
    bad = CliRunner().invoke(main, ["report", str(demo.path), "--out", "/no/such/dir/x.xlsx"])
    assert bad.exit_code == 2 and "cannot write" in bad.output


def test_charts_escape_text_and_draw_every_series():
    svg = charts.lines(["2026-05-01", "2026-05-02"], {"<b>": [1, 2], "签约": [0, 3]},
                            title="a & b")
    assert "&lt;b&gt;" in svg and "<b>" not in svg
    assert svg.count("<polyline") == 2 and "a &amp; b" in svg
    bars = charts.progress_bars([("东关", 5, 10), ("西门", 12, 10), ("新区", 3, None)])
    assert "5 / 10 (50%)" in bars and "12 / 10 (120%)" in bars and bars.count("<rect") == 6


def test_expected_pace():
    day = dt.date.fromisoformat
    assert progress.expected(100, "2026-01-01", "2026-01-11", day("2026-01-06")) == 50
    assert progress.expected(100, "2026-01-01", "2026-01-11", day("2025-12-01")) == 0
    assert progress.expected(100, "2026-01-01", "2026-01-11", day("2026-02-01")) == 100
    assert progress.expected(100, None, "2026-01-11", day("2026-01-06")) is None
