"""The engineered merge (issue 21) is the straightforward merge, only faster.

- `validation.partial_errors` (each field's check called directly) gives exactly the errors of
  `validate(partial=True, latest=None)` for any values, hostile ones included (hypothesis);
- the realistic data of scripts/scale_data.py merged as packs gives the digest, the change set
  and the rows of the registry the generator builds directly (the store's own fold), and the
  bulk path (indexes deferred and rebuilt, big batches) gives the same digest, change set,
  conflicts and record rows as the ordinary path, whatever the order and grouping of packs.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from anju.registry.core import deferred, search, validation
from anju.registry.core.digest import digest, knowledge
from anju.registry.core.store import Registry
from anju.registry.review import checks, incremental
from anju.registry.sync import merge
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.syncing import Project
from tests.test_merge import _central_copy, _clone, _play, op

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import scale_data  # noqa: E402

BOOKKEEPING = ("received_at",)
SIGNATURES = ("prev", "sig")  # each project enrols its laptops with keys of its own


@pytest.fixture(scope="module")
def definition(tmp_path_factory):
    reg = Registry.create(tmp_path_factory.mktemp("defn") / "r.db", project="p",
                          role="central", device_name="c")
    yield reg.definition
    reg.close()


def _values():
    texts = st.one_of(st.text(max_size=30), st.sampled_from(
        ["张伟", "欧阳娜娜", "  ", "", "11010519491231002X", "440524188001010014",
         "110105194912310021", "13800000001", "1380000000", "2026-02-30", "2026-10-01",
         "2999-01-01", "money", "swap", "head", "child", "surveyed", "signed", "brick_wood",
         "１２３", "3.14159", "1e3", "NaN", "-5", "A-0001", "Ａ-0001", "[\"disability\"]",
         "39.9,116.4", "x" * 300]))
    scalars = st.one_of(texts, st.integers(-10**13, 10**13), st.floats(allow_nan=True),
                        st.booleans(), st.none())
    return st.one_of(scalars, st.lists(scalars, max_size=3),
                     st.dictionaries(st.text(max_size=3), scalars, max_size=2))


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_partial_errors_are_validates_errors(definition, data):
    record = data.draw(st.sampled_from(sorted(definition.records)))
    names = [f.name for f in definition.record(record).columns]
    rtype = definition.record(record)
    if rtype.parent:
        names.append(f"{rtype.parent}_id")
    keys = data.draw(st.lists(st.one_of(st.sampled_from(names), st.text(max_size=8)),
                              min_size=1, max_size=6, unique=True))
    values = {k: data.draw(_values()) for k in keys}
    expected = validation.validate(definition, record, values, partial=True, latest=None)[1]
    assert validation.partial_errors(definition, record, values) == expected


def _rows(reg: Registry, skip: tuple = BOOKKEEPING) -> dict:
    """Every row of the change log and of every record table, bookkeeping of receipt aside."""
    out = {}
    for table in ("change", "conflict", *sorted(reg.definition.records)):
        cur = reg.conn.execute(f"SELECT * FROM [{table}]")
        cols = [d[0] for d in cur.description]
        keep = [i for i, c in enumerate(cols) if c not in skip]
        out[table] = sorted(tuple(row[i] for i in keep) for row in cur)
    return out


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    """Packs of 60 households from 4 laptops, and the registry built from the same data."""
    root = tmp_path_factory.mktemp("scaled")
    packs = scale_data.write_packs(root / "p", 60, laptops=4, seed=3, quiet=True)
    scale_data.build_registry(root / "built.db", 60, laptops=4, seed=3, quiet=True)
    return root, packs


def _fresh(root: Path, name: str) -> Registry:
    shutil.copy(root / "p" / "central.db", root / name)
    return Registry.open(root / name)


def test_scale_data_packs_merge_into_the_registry_built_directly(scaled, tmp_path):
    root, packs = scaled
    reg = _fresh(root, "merged-plain.db")
    results = merge.merge_packs(reg, packs)
    assert all(r.ok for r in results), [r.line() for r in results]
    built = Registry.open(root / "built.db")
    assert digest(reg) == digest(built)
    assert knowledge(reg) == knowledge(built)
    mine, theirs = (_rows(r, BOOKKEEPING + SIGNATURES) for r in (reg, built))
    for table in mine:
        assert mine[table] == theirs[table], table
    statuses = dict(reg.conn.execute("SELECT status, count(*) FROM household GROUP BY 1"))
    assert set(statuses) >= {"surveyed", "published", "valued", "signed"}
    assert reg.conn.execute("SELECT count(*) FROM agreement").fetchone()[0] == statuses["signed"]
    reg.close()
    built.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """Central + 3 laptops holding 2 households, in sync (test_merge's template)."""
    root = tmp_path_factory.mktemp("template") / "p"
    Project(root, laptops=3, households=2, capabilities=("survey", "tombstones")).close()
    return root


def _plain(monkeypatch) -> None:
    monkeypatch.setattr(merge, "_large", lambda reg, paths: False)
    monkeypatch.setattr(merge, "BATCH", 10**9)


def _bulk(monkeypatch, batch: int) -> None:
    monkeypatch.setattr(merge, "_large", lambda reg, paths: True)
    monkeypatch.setattr(merge, "BATCH", batch)


def _search_rows(reg: Registry) -> list:
    return sorted(reg.conn.execute(
        f"SELECT h.id, f.house_no, f.owner_name, f.address FROM {search.FTS} f "
        "JOIN household h ON h.rowid = f.rowid"))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=1, max_size=12), order=st.permutations([1, 2, 3]),
       batch=st.integers(1, 5))
def test_bulk_path_is_the_plain_path(template, ops, order, batch):
    """Concurrent edits (conflicts, tombstones) merged plainly in one order, and through the
    bulk path (indexes deferred, tiny batches) in another: the same registry, conflicts,
    change set, rows, indexes and search index."""
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        project = _clone(template, Path(tmp) / "a")
        _play(project, ops)
        packs = [project.pack(project.lap(n)) for n in (1, 2, 3)]
        a = project.central
        search.ensure_search_index(a.conn)
        b = _central_copy(a, Path(tmp) / "b")
        _plain(mp)
        assert all(r.ok for r in merge.merge_packs(a, [packs[n - 1] for n in order]))
        _bulk(mp, batch)
        assert all(r.ok for r in merge.merge_packs(b, [packs[n - 1] for n in reversed(order)]))
        assert (digest(a), knowledge(a)) == (digest(b), knowledge(b))
        assert _rows(a) == _rows(b)
        assert _search_rows(a) == _search_rows(b)
        assert _schema(a) == _schema(b)
        assert not deferred.pending(b.conn)
        b.close()
        project.close()


def _schema(reg: Registry) -> list:
    return sorted(reg.conn.execute("SELECT type, name, sql FROM sqlite_master"))


def test_bulk_merge_of_scale_packs_in_any_grouping(scaled, monkeypatch):
    """The generator's packs merged in two groupings on the bulk path, one more time (all
    known), give the registry built directly; indexes are back, nothing left pending."""
    root, packs = scaled
    reg = _fresh(root, "merged-bulk.db")
    before = _schema(reg)
    _bulk(monkeypatch, 7)
    assert all(r.ok for r in merge.merge_packs(reg, packs[2:]))
    assert all(r.ok for r in merge.merge_packs(reg, packs[:2] + packs[::-1]))
    built = Registry.open(root / "built.db")
    assert (digest(reg), knowledge(reg)) == (digest(built), knowledge(built))
    assert set(before) <= set(_schema(reg)) and not deferred.pending(reg.conn)
    reg.close()
    built.close()


def test_a_merge_that_died_with_indexes_deferred_is_repaired_by_the_next(scaled, monkeypatch):
    root, packs = scaled
    reg = _fresh(root, "died.db")
    search.ensure_search_index(reg.conn)
    before = _schema(reg)
    deferred.defer(reg.conn)  # as a large merge does, then the process dies
    assert deferred.pending(reg.conn) and _schema(reg) != before
    reg.close()
    reg = Registry.open(root / "died.db")
    _plain(monkeypatch)
    assert all(r.ok for r in merge.merge_packs(reg, packs[:1]))
    assert set(before) <= set(_schema(reg)) and not deferred.pending(reg.conn)
    assert len(_search_rows(reg)) == reg.conn.execute(
        "SELECT count(*) FROM household").fetchone()[0] > 0
    reg.close()


def test_a_refused_pack_in_a_bulk_merge_writes_nothing_and_indexes_come_back(scaled, tmp_path,
                                                                            monkeypatch):
    root, packs = scaled
    reg = _fresh(root, "refused.db")
    before = _schema(reg)
    bad = tmp_path / "bad.pack"
    data = bytearray(packs[1].read_bytes())
    data[len(data) // 2] ^= 1
    bad.write_bytes(bytes(data))
    _bulk(monkeypatch, 7)
    results = merge.merge_packs(reg, [packs[0], bad])
    assert [r.ok for r in results] == [True, False]
    assert set(before) <= set(_schema(reg)) and not deferred.pending(reg.conn)
    only = Registry.open(root / "p" / "central.db")  # untouched template: merge pack 0 alone
    shutil.copy(root / "p" / "central.db", tmp_path / "one.db")
    one = Registry.open(tmp_path / "one.db")
    _plain(monkeypatch)
    assert merge.merge_packs(one, [packs[0]])[0].ok
    assert digest(one) == digest(reg)
    for r in (reg, one, only):
        r.close()


def _flags(reg: Registry) -> tuple:
    flags = sorted(reg.conn.execute(
        "SELECT flag_key, kind, reason_zh, reason_en, records FROM flag"))
    links = sorted(reg.conn.execute("SELECT flag_key, household_id FROM flag_household"))
    return flags, links


ABUSES = ("area", "freeze_member", "relation", "cert_zero", "use", "built", "dup_id", "move",
          "fix_area", "delete", "status")


def _abuse(reg: Registry, kind: str, hid: str, other: str) -> None:
    """One edit made on the central registry itself (the web app), between merges."""
    h = reg.get("household", hid)
    member = reg.conn.execute("SELECT id, id_no FROM member WHERE household_id = ? AND deleted "
                              "IS NULL ORDER BY created_at DESC, id LIMIT 1", (other,)).fetchone()
    if kind == "area":
        reg.save("household", hid, {"surveyed_area": round(h["cert_area"] * 1.5, 2)}, by="a")
    elif kind == "fix_area":
        reg.save("household", hid, {"surveyed_area": h["cert_area"]}, by="a")
    elif kind == "freeze_member":
        reg.save("member", None, {"household_id": hid, "name": "新来人", "relation": "other",
                                  "id_no": "440524188001010014", "registered_on": "2026-05-01"},
                 by="a", full=True)
    elif kind == "relation":
        reg.save("member", None, {"household_id": hid, "name": "老儿子", "relation": "child",
                                  "id_no": "11010519491231002X"}, by="a", full=True)
    elif kind == "cert_zero":
        reg.save("household", hid, {"cert_area": 0}, by="a")
    elif kind == "use":
        reg.save("household", hid, {"actual_use": "non_residential"}, by="a")
    elif kind == "built":
        reg.save("household", hid, {"year_built": 2026}, by="a")
    elif kind == "dup_id" and member:
        reg.save("member", None, {"household_id": hid, "name": "张重复", "relation": "other",
                                  "id_no": member[1]}, by="a", full=True)
    elif kind == "move" and member:
        reg.save("member", member[0], {"household_id": hid}, by="a")
    elif kind == "delete":
        reg.delete("household", hid, reason="重复登记", by="a")
    elif kind == "status":
        reg.save("household", hid, {"status": "signed"}, by="a")


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(split=st.integers(2, 3), edits=st.lists(st.lists(  # a few households, hit repeatedly
    st.tuples(st.sampled_from(ABUSES), st.integers(0, 3), st.integers(0, 3)),
    max_size=8), min_size=2, max_size=2))
@example(split=2, edits=[  # flags made, then cleared, deleted and moved to another household
    [("area", 0, 0), ("freeze_member", 1, 0), ("relation", 2, 0), ("use", 3, 0),
     ("status", 1, 0)],
    [("fix_area", 0, 0), ("delete", 1, 0), ("move", 3, 2), ("cert_zero", 0, 0)]])
def test_incremental_flags_are_the_full_flags(scaled, split, edits):
    """Packs merged in three calls with edits on the central between them (making flags, then
    clearing or moving them): after each incremental merge the flags equal those of every
    check run whole on the same registry."""
    root, packs = scaled
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        shutil.copy(root / "p" / "central.db", Path(tmp) / "c.db")
        reg = Registry.open(Path(tmp) / "c.db")
        assert all(r.ok for r in merge.merge_packs(reg, packs[:1]))  # the first: whole
        calls = []
        recheck = incremental.recheck
        mp.setattr(incremental, "recheck", lambda *a: calls.append(1) or recheck(*a))
        mp.setattr(incremental, "FULL_SHARE", 1.0)
        for n, group in enumerate((packs[1:split], packs[split:])):
            ids = [r[0] for r in reg.conn.execute("SELECT id FROM household ORDER BY id")]
            for kind, a, b in edits[n]:
                _abuse(reg, kind, ids[a % len(ids)], ids[b % len(ids)])
            assert all(r.ok for r in merge.merge_packs(reg, group))
            assert len(calls) == n + 1  # the incremental path was taken
            reg.conn.execute("VACUUM INTO ?", (str(Path(tmp) / f"full{n}.db"),))
            full = Registry.open(Path(tmp) / f"full{n}.db")
            checks.run_checks(full)
            assert _flags(reg) == _flags(full)
            full.close()
        reg.close()
