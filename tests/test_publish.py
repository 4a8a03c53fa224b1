"""`anju publish`: what the public database holds, and that it is replaced whole or not at all."""

import sqlite3
import sys

import pytest
from anju.registry.cli import main
from anju.registry.core.digest import digest
from anju.registry.publication import publish as publish_mod
from anju.registry.publication.privacy import MIN_GROUP
from anju.registry.publication.publish import PublishError, publish
from click.testing import CliRunner

ZONES = ("东关片区A地块", "西门片区")


def _household(reg, n, zone, status="surveyed", **extra):
    values = {"house_no": f"T-{n:04d}", "zone": zone, "address": f"测试街{n}号",
              "structure": "brick_wood", "owner_name": "王小明", "status": status,
              "actual_use": "residential", **extra}
    return reg.save("household", None, values, by="tester", full=True)


@pytest.fixture
def small(registry):
    """Seven households in one zone and two in another, a little of everything."""
    ids = []
    for n in range(7):
        ids.append(_household(registry, n, ZONES[0], "signed" if n < 4 else "surveyed",
                              registered_count=3, resident_count=2, hardship=["dibao"],
                              compensation_mode="money" if n < 6 else "swap"))
    for n in range(7, 9):
        ids.append(_household(registry, n, ZONES[1], registered_count=4,
                              compensation_mode="money"))
    return ids


def rows(path, sql, args=()):
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, args)]
    finally:
        conn.close()


def test_household_rows_hold_public_fields_with_chinese_labels(registry, small, tmp_path):
    out = tmp_path / "public.db"
    summary = publish(registry, out)
    assert summary["households"] == 9
    first = rows(out, "SELECT * FROM household WHERE house_no = 'T-0000'")[0]
    assert first["structure"] == "砖木" and first["actual_use"] == "住宅"
    assert first["status"] == "已签约" and first["status_code"] == "signed"
    assert first["owner_name"] == "王**"
    for never in ("owner_id_no", "owner_phone", "location", "hardship", "registered_count",
                  "compensation_mode", "cadre", "comments", "id_no"):
        assert never not in first
    assert isinstance(first["id"], int)  # no registry UUIDs in public


def test_totals_are_suppressed_for_small_groups(registry, small, tmp_path):
    out = tmp_path / "public.db"
    publish(registry, out)
    progress = {(r["zone"], r["status_code"]): r for r in rows(out, "SELECT * FROM progress")}
    assert progress[(ZONES[0], "signed")]["households"] == 4
    # sensitive fields (member counts, hardship) are never totalled per zone or status
    assert "registered_count" not in progress[(ZONES[0], "signed")]
    choice = {(r["zone"], r["field"], r["choice"]): r["households"]
              for r in rows(out, "SELECT * FROM choice_total")}
    assert not [k for k in choice if k[1] == "hardship"]
    # 9 households, 7 of them 低保: too few and too alike to release even at project level
    sensitive = {r["choice"]: r["total"] for r in rows(
        out, "SELECT * FROM sensitive_total WHERE field = 'hardship'")}
    assert sensitive["dibao"] is None and sensitive["tekun"] is None
    # 6 money / 1 swap: hiding only the 1 would let 7 - 6 reveal it, so the 6 goes too
    assert choice[(ZONES[0], "compensation_mode", "swap")] is None
    assert choice[(ZONES[0], "compensation_mode", "money")] is None
    assert MIN_GROUP == 5


def test_totals_are_published_for_large_enough_groups(registry, tmp_path):
    for n in range(6):
        _household(registry, n, ZONES[0], registered_count=2, hardship=["dibao"],
                   compensation_mode="money")
    out = tmp_path / "public.db"
    publish(registry, out)
    progress = rows(out, "SELECT * FROM progress")
    assert progress[0]["households"] == 6
    choice = {(r["field"], r["choice"]): r["households"]
              for r in rows(out, "SELECT * FROM choice_total")}
    assert choice[("compensation_mode", "money")] == 6


def test_deleted_households_are_left_out(registry, small, tmp_path):
    registry.delete("household", small[0], reason="重复录入", by="tester")
    out = tmp_path / "public.db"
    summary = publish(registry, out)
    assert summary["households"] == 8 and summary["deleted"] == 1
    assert not rows(out, "SELECT 1 FROM household WHERE house_no = 'T-0000'")


def test_provenance_names_the_registry_state(registry, small, tmp_path):
    registry.conn.execute(
        "INSERT INTO pack_received (content_hash, device_id, file_name, made_at, full, changes,"
        " new, known, conflicts, blobs, first_seen_at, last_seen_at) VALUES "
        "('h1', 'd', 'a.pack', 'x', 1, 1, 1, 0, 0, 0, 'x', 'x')")
    out = tmp_path / "public.db"
    publish(registry, out)
    prov = {r["key"]: r["value"] for r in rows(out, "SELECT * FROM provenance")}
    assert prov["registry_digest"] == digest(registry)
    assert prov["survey_hash"] == registry.definition.hash
    assert prov["packs_merged"] == "1"
    assert prov["households"] == "9" and prov["as_of"].endswith("Z")
    assert prov["anju_version"]


def test_indexes_and_full_text_search(registry, small, tmp_path):
    out = tmp_path / "public.db"
    publish(registry, out)
    indexed = {r["name"] for r in rows(out, "SELECT name FROM sqlite_master WHERE type='index'")}
    for column in ("zone", "status", "structure", "actual_use", "house_no", "cert_area"):
        assert f"household_{column}" in indexed
    assert len(rows(out, "SELECT id FROM household INDEXED BY household_status "
                         "WHERE status = '已签约'")) == 4
    hits = rows(out, "SELECT h.house_no FROM household_fts JOIN household h ON h.id = "
                     "household_fts.rowid WHERE household_fts MATCH ?", ['"测试街3"'])
    assert [h["house_no"] for h in hits] == ["T-0003"]


def test_compensation_columns_when_the_module_offers_them(registry, small, tmp_path, monkeypatch):
    from anju.registry.compensation import agreements as compensation

    def public_rows(reg):
        return {small[0]: {"agreement_no": "XY-001", "compensation_total": 1234567.5,
                           "compensation_mode": "swap", "recognised_area": 80.5}}
    monkeypatch.setattr(compensation, "public_rows", public_rows)
    out = tmp_path / "public.db"
    publish(registry, out)
    row = rows(out, "SELECT * FROM household WHERE house_no = 'T-0000'")[0]
    assert row["compensation_total"] == 1234567.5 and row["agreement_no"] == "XY-001"
    assert row["compensation_mode"] == "产权调换"
    kinds = {r["column"]: r["kind"] for r in rows(out, "SELECT * FROM column_info")}
    assert kinds["compensation_total"] == "money" and kinds["recognised_area"] == "area"
    assert rows(out, "SELECT compensation_total FROM household WHERE house_no = 'T-0001'")[0] \
        == {"compensation_total": None}


def test_publication_works_without_the_compensation_module(registry, small, tmp_path,
                                                           monkeypatch):
    monkeypatch.setitem(sys.modules, "anju.registry.compensation.agreements", None)  # import fails
    out = tmp_path / "public.db"
    assert publish(registry, out)["households"] == 9
    assert "compensation_total" not in {r["name"] for r in rows(
        out, "SELECT name FROM pragma_table_info('household')")}


def test_a_failed_publication_leaves_the_old_file_and_no_temporary(registry, small, tmp_path,
                                                                   monkeypatch):
    out = tmp_path / "public.db"
    publish(registry, out)
    before = out.read_bytes()
    _household(registry, 99, ZONES[1])

    def broken(*args):
        raise sqlite3.OperationalError("disk I/O error")
    monkeypatch.setattr(publish_mod, "_indexes", broken)
    with pytest.raises(PublishError, match="cannot write"):
        publish(registry, out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["public.db", "registry.db",
                                                           "registry.db-shm", "registry.db-wal"]


def test_refuses_a_missing_directory_and_the_registry_itself(registry, tmp_path):
    with pytest.raises(PublishError, match="no such directory"):
        publish(registry, tmp_path / "nope" / "public.db")
    with pytest.raises(PublishError, match="registry itself"):
        publish(registry, registry.path)


def test_cli_publish_and_demo_writes_public_db(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["demo", str(tmp_path / "demo"), "--households", "30"])
    assert result.exit_code == 0, result.output
    public = tmp_path / "demo" / "public.db"
    assert rows(public, "SELECT count(*) AS n FROM household")[0]["n"] == 30
    result = runner.invoke(main, ["publish", str(tmp_path / "demo" / "registry.db"), "--out",
                                  str(tmp_path / "again.db")])
    assert result.exit_code == 0 and "published 30 households" in result.output
    result = runner.invoke(main, ["publish", str(tmp_path / "demo" / "registry.db"), "--out",
                                  str(tmp_path / "no" / "x.db")])
    assert result.exit_code == 2 and result.output.startswith("anju: ")


def test_digest_from_the_helper_process_matches(registry, small, tmp_path, monkeypatch):
    monkeypatch.setattr(publish_mod, "BACKGROUND_DIGEST_FROM", 1)
    calls = []
    monkeypatch.setattr(publish_mod, "digest", lambda reg: calls.append(1) or "inline")
    out = tmp_path / "public.db"
    summary = publish(registry, out)
    assert calls == []  # the second process computed it
    assert summary["registry_digest"] == digest(registry)


def test_daily_progress_ends_at_todays_figures(registry, small, tmp_path):
    registry.save("household", small[0], {"status": "handed_over"}, by="tester")
    out = tmp_path / "public.db"
    publish(registry, out)
    days = rows(out, "SELECT * FROM daily_progress ORDER BY date")
    zones = rows(out, "SELECT sum(surveyed) AS surveyed, sum(signed) AS signed, "
                      "sum(handed_over) AS handed_over FROM zone")[0]
    assert days and {k: days[-1][k] for k in zones} == zones == {
        "surveyed": 9, "signed": 4, "handed_over": 1}
    assert all(a["signed"] <= b["signed"] for a, b in zip(days, days[1:]))
