"""The store: round trips, change rows, tombstones, history, migrations, transactions."""

import json
import sqlite3

import pytest
from anju.registry.core.definition import DEFAULT_PATH
from anju.registry.core.store import InvalidChange, Registry, StoreError, migrate

from tests.conftest import HOUSEHOLD


def test_round_trip_through_a_real_file(registry, household):
    registry.save("household", household, {"cert_area": "65.5", "hardship": ["dibao"]},
                  by="tester")
    path = registry.path
    registry.close()
    reg = Registry.open(path)
    row = reg.get("household", household)
    assert row["house_no"] == "A-0001" and row["cert_area"] == 65.5
    assert row["hardship"] == ["dibao"] and row["status"] == "unsurveyed"
    assert reg.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert reg.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    reg.close()


def test_every_save_is_one_change_row_with_the_log_columns(registry, household):
    registry.save("household", household, {"floors": 2}, by="li")
    rows = registry.conn.execute("SELECT device_id, seq, record_type, record_id, fields, base, "
                                 "at, by FROM change ORDER BY seq").fetchall()
    assert len(rows) == 2
    first, second = rows
    assert [r[1] for r in rows] == [1, 2]
    assert second[2:4] == ("household", household)
    assert json.loads(second[4]) == {"floors": 2}
    assert json.loads(second[5]) == {"floors": None}
    assert second[7] == "li" and second[6].endswith("Z")
    registry.save("household", household, {"floors": 3}, by="li")
    third = registry.changes_of(household)[-1]
    assert third.base == {"floors": registry.changes_of(household)[1].change_id}


def test_saving_unchanged_values_writes_nothing(registry, household):
    registry.save("household", household, {"zone": HOUSEHOLD["zone"]}, by="x")
    assert registry.conn.execute("SELECT count(*) FROM change").fetchone()[0] == 1


def test_invalid_save_writes_nothing(registry, household):
    before = registry.conn.execute("SELECT count(*) FROM change").fetchone()[0]
    with pytest.raises(InvalidChange) as err:
        registry.save_many([("household", household, {**HOUSEHOLD, "floors": 2}),
                            ("member", None, {"household_id": household, "name": "王芳",
                                              "id_no": "110105194912310021",
                                              "relation": "spouse"})], by="x")
    assert err.value.errors == {"id_no": ["id_check"]}
    assert registry.conn.execute("SELECT count(*) FROM change").fetchone()[0] == before
    assert registry.get("household", household)["floors"] is None


def test_tombstone_keeps_the_record_and_its_reason(registry, household):
    with pytest.raises(StoreError):
        registry.delete("household", household, reason=" ", by="boss")
    registry.delete("household", household, reason="重复登记", by="boss")
    row = registry.get("household", household)
    assert row["deleted"] == "重复登记" and row["house_no"] == "A-0001"
    assert registry.changes_of(household)[-1].note == "重复登记"


def test_history_reads_back_old_and_new_values(registry, household):
    registry.save("household", household, {"owner_name": "张伟伟"}, by="li")
    history = registry.history(household)
    assert [h["by"] for h in history] == ["tester", "li"]
    assert history[1]["diffs"] == [{"field": "owner_name", "old": "张伟", "new": "张伟伟"}]


def test_members_belong_to_their_household(registry, household):
    mid = registry.save("member", None, {"household_id": household, "name": "张伟",
                                         "id_no": "11010519491231002X", "relation": "head"},
                        by="li")
    assert [m["id"] for m in registry.children("member", household)] == [mid]


def test_field_added_to_definition_is_migrated_in_with_data_kept(tmp_path):
    old_text = DEFAULT_PATH.read_text(encoding="utf-8")
    reg = Registry.create(tmp_path / "r.db", project="p", role="central", device_name="c",
                          survey_text=old_text)
    hid = reg.save("household", None, dict(HOUSEHOLD), by="x", full=True)
    new_text = old_text.replace("  member:\n", "  member:\n", 1).replace(
        "      - name: comments\n",
        "      - name: balcony_area\n        type: decimal\n        label: {zh: 阳台面积}\n"
        "      - name: comments\n", 1)
    reg.set_meta("survey", new_text)
    reg.close()
    reg = Registry.open(tmp_path / "r.db")
    assert reg.get("household", hid)["house_no"] == "A-0001"
    reg.save("household", hid, {"balcony_area": "4.5"}, by="x")
    assert reg.get("household", hid)["balcony_area"] == 4.5
    reg.close()


def test_older_schema_version_database_is_migrated(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript((DEFAULT_PATH.parent / "migrations" / "001_base.sql").read_text())
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO meta VALUES ('survey', ?)", (DEFAULT_PATH.read_text(),))
    conn.execute("INSERT INTO meta VALUES ('device_id', 'd1')")
    conn.commit()
    conn.close()
    reg = Registry.open(path)
    hid = reg.save("household", None, dict(HOUSEHOLD), by="x", full=True)
    assert reg.get("household", hid)["zone"] == HOUSEHOLD["zone"]
    reg.close()


def test_newer_schema_is_refused(tmp_path, registry):
    registry.conn.execute("PRAGMA user_version = 999")
    with pytest.raises(StoreError, match="newer"):
        migrate(registry.conn)


def test_open_refuses_what_is_not_a_registry(tmp_path):
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError):
        Registry.open(tmp_path / "junk.db")
    with pytest.raises(StoreError, match="no such"):
        Registry.open(tmp_path / "missing.db")
    with pytest.raises(StoreError, match="already exists"):
        Registry.create(tmp_path / "junk.db", project="p", role="central", device_name="c")


def test_opening_does_not_wait_for_a_writer(registry, household):
    """A web request opens the registry; it must not queue behind a long merge's write lock."""
    import threading
    writer = sqlite3.connect(registry.path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    opened = []
    thread = threading.Thread(target=lambda: opened.append(Registry.open(registry.path)),
                              daemon=True)
    thread.start()
    thread.join(timeout=5)
    waited = thread.is_alive()
    writer.execute("ROLLBACK")
    writer.close()
    thread.join()
    assert not waited and opened[0].get("household", household)["house_no"] == "A-0001"
    opened[0].close()


def test_house_numbers_are_unique_in_the_store(registry):
    from anju.registry.core.store import InvalidChange
    first = registry.save("household", None, dict(HOUSEHOLD), by="li", full=True)
    with pytest.raises(InvalidChange) as err:
        registry.save("household", None, {**HOUSEHOLD, "address": "别处1号"}, by="li", full=True)
    assert err.value.errors == {"house_no": ["duplicate_house_no"]}
    # The same household keeps its own number; a deleted household frees it.
    registry.save("household", first, {"address": "东关街13号"}, by="li")
    registry.delete("household", first, reason="录重", by="li")
    assert registry.save("household", None, dict(HOUSEHOLD), by="li", full=True)
    assert registry.household_by_number(HOUSEHOLD["house_no"])["id"] != first


def test_save_many_reports_every_failing_record_and_writes_nothing(registry):
    from anju.registry.core.store import InvalidEdits
    hid = "h-" + "1" * 8
    before = registry.conn.execute("SELECT count(*) FROM change").fetchone()[0]
    edits = [("household", hid, {**HOUSEHOLD, "year_built": "not a year"}),
             ("member", "m1", {"household_id": hid, "name": "张伟", "id_no": "123"}),
             ("member", "m2", {"household_id": hid, "name": "李娜", "relation": "spouse",
                               "id_no": "11010519491231002X"})]
    with pytest.raises(InvalidEdits) as err:
        registry.save_many(edits, by="li")
    assert set(err.value.by_record) == {hid, "m1"}
    assert "year_built" in err.value.by_record[hid][1]
    assert "id_no" in err.value.by_record["m1"][1]
    assert registry.conn.execute("SELECT count(*) FROM change").fetchone()[0] == before


def test_one_form_save_validates_each_record_once(registry, monkeypatch):
    # A spy around the real validator: the store validates; nobody validates again around it.
    from anju.registry.core import store as store_mod
    calls = []
    real = store_mod.validate

    def spy(definition, record_type, *args, **kwargs):
        calls.append(record_type)
        return real(definition, record_type, *args, **kwargs)
    monkeypatch.setattr(store_mod, "validate", spy)
    hid = "h-" + "2" * 8
    registry.save_many([("household", hid, dict(HOUSEHOLD)),
                        ("member", "m3", {"household_id": hid, "name": "张伟", "relation": "head",
                                          "id_no": "11010519491231002X"})], by="li")
    assert calls == ["household", "member"]
