"""Merging packs: the merge laws (property-based), no lost update, atomicity, settings and
definitions from the central registry."""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from anju.registry.core.digest import digest
from anju.registry.core.store import Registry, StoreError
from anju.registry.field.demo import build_demo
from anju.registry.sync.merge import adopt_definition, merge_pack
from anju.registry.sync.packs import export_pack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.syncing import Project, conflicts, fingerprint

PHONES = ("13800000001", "13900000002")
EDITS = {"floors": (1, 2, 3), "owner_phone": PHONES, "comments": ("甲", "乙"),
         "structure": ("simple", "brick_wood")}

op = st.one_of(
    st.tuples(st.just("set"), st.integers(1, 3), st.integers(0, 1),
              st.sampled_from(sorted(EDITS)), st.integers(0, 2)),
    st.tuples(st.just("member"), st.integers(1, 3), st.integers(0, 1), st.just(""),
              st.integers(0, 2)),
    st.tuples(st.just("delete"), st.integers(1, 3), st.integers(0, 1), st.just(""),
              st.just(0)),
    st.tuples(st.just("sync"), st.integers(1, 3), st.just(0), st.just(""), st.just(0)),
)
MEMBER_IDS = ("11010519491231002X", "440524188001010014", "110105198001010016")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """Central + 3 laptops holding 2 households, everyone in sync: copied for each example."""
    root = tmp_path_factory.mktemp("template") / "p"
    # The laptops tombstone households, so they are enrolled with that capability.
    project = Project(root, laptops=3, households=2, capabilities=("survey", "tombstones"))
    project.close()
    return root


def _play(project: Project, ops) -> None:
    """Run random edits on the laptops, with occasional round trips through the centre."""
    for kind, lap, h, field, v in ops:
        reg = project.lap(lap)
        hid = project.households[h]
        if kind == "set":
            values = EDITS[field]
            reg.save("household", hid, {field: values[v % len(values)]}, by=f"user{lap}")
        elif kind == "member":
            reg.save("member", None, {"household_id": hid, "name": ("张伟", "王芳", "李娜")[v],
                                      "id_no": MEMBER_IDS[v], "relation": "child"},
                     by=f"user{lap}", full=True)
        elif kind == "delete" and reg.get("household", hid)["deleted"] is None:
            reg.delete("household", hid, reason=f"重复{lap}", by=f"user{lap}")
        elif kind == "sync":
            project.send(reg)
            project.merge(reg, project.pack(project.central))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=1, max_size=14), order=st.permutations([1, 2, 3]))
def test_merge_is_idempotent_commutative_associative_and_syncs_back(template, ops, order):
    with tempfile.TemporaryDirectory() as tmp:
        shared = Path(tmp)
        project = _clone(template, shared / "a")
        _play(project, ops)
        packs = {n: project.pack(project.lap(n)) for n in (1, 2, 3)}
        a = project.central
        b, c, d = (_central_copy(a, shared / n) for n in "bcd")
        # Commutative: two orders.
        project.merge(a, *(packs[n] for n in order))
        project.merge(b, *(packs[n] for n in reversed(order)))
        # Idempotent: everything again, in yet another order, changes nothing.
        before = fingerprint(b)
        results = project.merge(b, *(packs[n] for n in sorted(order)))
        assert all(r.new == 0 and r.conflicts == 0 for r in results)
        assert fingerprint(b) == before
        # Associative: (x + y) + z, with laptop x holding y's changes first. Laptops read no
        # pack but the central registry's, so y's changes reach x relayed by a central copy d.
        x, y, z = order
        project.merge(d, packs[y])
        project.merge(project.lap(x), project.pack(d))
        project.merge(c, project.pack(project.lap(x), full=True), packs[z])
        assert fingerprint(a) == fingerprint(b) == fingerprint(c)
        # Sync back: every laptop ends with the central registry's records and conflicts.
        project.sync_back()
        for n in (1, 2, 3):
            assert fingerprint(project.lap(n)) == fingerprint(a)
        for reg in (b, c, d):
            reg.close()
        project.close()


def _clone(template: Path, root: Path) -> Project:
    import shutil
    shutil.copytree(template, root)
    project = Project.__new__(Project)
    project.root = root
    project.central = Registry.open(root / "central.db")
    project.laptops = {n: Registry.open(root / f"{n}.db") for n in ("lap1", "lap2", "lap3")}
    project.households = [r[0] for r in project.central.conn.execute(
        "SELECT id FROM household ORDER BY house_no")]
    return project


def _central_copy(central: Registry, root: Path) -> Registry:
    """Another copy of the central registry as it is now."""
    root.mkdir()
    central.conn.execute("VACUUM INTO ?", (str(root / "central.db"),))
    return Registry.open(root / "central.db")


@pytest.fixture
def project(tmp_path):
    p = Project(tmp_path / "p", laptops=2, households=1)
    yield p
    p.close()


def test_concurrent_edits_of_different_fields_both_survive(project):
    hid = project.households[0]
    project.lap(1).save("household", hid, {"floors": 2}, by="li")
    project.lap(2).save("household", hid, {"owner_phone": "13800000001"}, by="wang")
    project.send(project.lap(1))
    project.send(project.lap(2))
    row = project.central.get("household", hid)
    assert (row["floors"], row["owner_phone"]) == (2, "13800000001")
    assert conflicts(project.central) == []


def test_members_added_on_two_laptops_both_appear(project):
    hid = project.households[0]
    m1 = project.lap(1).save("member", None, {"household_id": hid, "name": "张伟",
                                              "id_no": "11010519491231002X",
                                              "relation": "head"}, by="li", full=True)
    m2 = project.lap(2).save("member", None, {"household_id": hid, "name": "王芳",
                                              "id_no": "440524188001010014",
                                              "relation": "spouse"}, by="wang", full=True)
    project.send(project.lap(1))
    project.send(project.lap(2))
    project.sync_back()
    for reg in (project.central, project.lap(1), project.lap(2)):
        assert {m["id"] for m in reg.children("member", hid)} == {m1, m2}


def test_edit_of_a_received_household_updates_that_household(project):
    hid = project.households[0]  # made on the central registry, received by the laptops
    project.lap(1).save("household", hid, {"floors": 3}, by="li")
    project.send(project.lap(1))
    assert project.central.conn.execute("SELECT count(*) FROM household").fetchone()[0] == 1
    assert project.central.get("household", hid)["floors"] == 3
    assert project.central.get("household", hid)["house_no"] == "A-0000"


def test_incremental_export_sends_only_what_the_receiver_lacks(project):
    hid = project.households[0]
    project.lap(1).save("household", hid, {"floors": 2}, by="li")
    first = project.pack(project.lap(1))
    project.merge(project.central, first)
    project.merge(project.lap(1), project.pack(project.central))  # the centre says it has it
    second = export_pack(project.lap(1), project.root / "again.pack")
    assert second["counts"]["changes"] == 0
    full = export_pack(project.lap(1), project.root / "full.pack", full=True)
    assert full["counts"]["changes"] == project.lap(1).conn.execute(
        "SELECT count(*) FROM change").fetchone()[0]
    # An old pack merged again is harmless.
    before = fingerprint(project.central)
    again = merge_pack(project.central, first)
    assert again.ok and again.new == 0 and again.known == 1
    assert fingerprint(project.central) == before
    assert project.central.conn.execute("SELECT times FROM pack_received WHERE file_name = ?",
                                        (first.name,)).fetchone()[0] == 2


def test_a_lost_pack_is_sent_again_until_the_centre_confirms(project):
    hid = project.households[0]
    project.lap(1).save("household", hid, {"floors": 2}, by="li")
    project.pack(project.lap(1))  # lost on the way
    project.lap(1).save("household", hid, {"comments": "二次走访"}, by="li")
    project.send(project.lap(1))
    row = project.central.get("household", hid)
    assert (row["floors"], row["comments"]) == (2, "二次走访")


def test_laptop_takes_central_settings_and_device_list(project):
    project.central.set_meta("settings", '{"freeze_date": "2024-01-01"}')
    from anju.registry.sync.enrollment import enroll_device, revoke_device
    enroll_device(project.central, "lap3", project.root / "lap3.enrol")
    revoke_device(project.central, "lap2")
    project.merge(project.lap(1), project.pack(project.central))
    assert project.lap(1).settings == {"freeze_date": "2024-01-01"}
    names = dict(project.lap(1).conn.execute("SELECT name, revoked_at FROM device"))
    assert "lap3" in names and names["lap2"] is not None
    # A laptop now refuses a pack from the revoked laptop too.
    result = merge_pack(project.lap(1), project.pack(project.lap(2)))
    assert not result.ok and "revoked" in result.reason


def test_laptop_takes_the_project_compensation_rules(project):
    from anju.registry.compensation.calculation import (
        default_rules_text,
        rules_are_stored,
        set_rules,
    )
    assert not rules_are_stored(project.lap(1))
    set_rules(project.central, default_rules_text().replace("rate: 12 ", "rate: 13 "))
    project.merge(project.lap(1), project.pack(project.central))
    assert project.lap(1).meta("compensation") == project.central.meta("compensation")
    assert "rate: 13 " in project.lap(1).meta("compensation")


def test_an_old_central_pack_merged_again_does_not_bring_back_old_settings(project):
    project.central.set_meta("settings", '{"freeze_date": "2024-01-01"}')
    old = project.pack(project.central)
    project.central.set_meta("settings", '{"freeze_date": "2024-02-01"}')
    project.merge(project.lap(1), project.pack(project.central))
    project.merge(project.lap(1), old)
    assert project.lap(1).settings == {"freeze_date": "2024-02-01"}


def _with_field(text: str, field_yaml: str) -> str:
    return text.replace("      - name: comments\n", field_yaml + "      - name: comments\n", 1)


def test_laptop_adopts_a_newer_central_definition(project):
    text = project.central.meta("survey")
    newer = _with_field(text.replace("version: 1", "version: 2", 1),
                        "      - name: balcony_area\n        type: decimal\n"
                        "        label: {zh: 阳台面积}\n")
    assert adopt_definition(project.central, newer)
    hid = project.households[0]
    project.central.save("household", hid, {"balcony_area": "4.5"}, by="admin")
    result = project.merge(project.lap(1), project.pack(project.central))[0]
    assert "adopted survey definition version 2" in result.line()
    assert project.lap(1).get("household", hid)["balcony_area"] == 4.5
    assert fingerprint(project.lap(1)) == fingerprint(project.central)


def test_adopt_definition_refuses_to_drop_or_retype_a_field_holding_data(project):
    reg = project.central
    text = reg.meta("survey")
    reg.save("household", project.households[0], {"comments": "有意见"}, by="admin")
    dropped = text.replace("      - name: comments\n        type: text\n", "      - name: "
                           "comments_gone\n        type: text\n", 1)
    with pytest.raises(StoreError, match="drops household.comments"):
        adopt_definition(reg, dropped)
    retyped = text.replace("      - name: comments\n        type: text\n",
                           "      - name: comments\n        type: integer\n", 1)
    with pytest.raises(StoreError, match="retypes"):
        adopt_definition(reg, retyped)
    assert reg.meta("survey") == text
    # An empty field may change type (one the code does not read: see registry/core/contract.py).
    empty = text.replace("      - name: land_cert_no\n        type: text\n",
                         "      - name: land_cert_no\n        type: integer\n", 1)
    assert adopt_definition(reg, empty)
    assert reg.definition.record("household").field("land_cert_no").type == "integer"


def test_a_refused_central_definition_rejects_the_pack_and_writes_nothing(project):
    hid = project.households[0]
    project.lap(1).save("household", hid, {"comments": "只在笔记本上"}, by="li")
    text = project.central.meta("survey")
    project.central.set_meta("survey", text.replace(
        "      - name: comments\n        type: text\n",
        "      - name: comments\n        type: integer\n", 1).replace("version: 1",
                                                                     "version: 3", 1))
    before = fingerprint(project.lap(1))
    result = merge_pack(project.lap(1), project.pack(project.central))
    assert not result.ok and "retypes" in result.reason
    assert fingerprint(project.lap(1)) == before
    assert project.lap(1).meta("survey") == text
    assert project.lap(1).definition.version == 1


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    build_demo(root, households=400, devices=2, seed=3)
    with Registry.open(root / "registry.db") as reg:
        export_pack(reg, root / "central.pack", full=True)
    return root


def test_merge_killed_at_any_moment_leaves_the_target_unchanged(demo_dir, tmp_path):
    import shutil
    target = tmp_path / "laptop1.db"
    shutil.copy(demo_dir / "devices" / "laptop1.db", target)
    with Registry.open(target) as reg:
        before = digest(reg)
    cmd = [sys.executable, "-m", "anju.registry.cli", "merge", str(target),
           str(demo_dir / "central.pack")]
    outcomes = set()
    for delay in (0.3, 0.6, 0.9, 1.2, 1.6, 2.2):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        conn = sqlite3.connect(target)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        with Registry.open(target) as reg:
            now = digest(reg)
        assert now in (before, _merged_digest(demo_dir))
        outcomes.add(now == before)
    assert True in outcomes  # at least one kill landed mid-merge
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with Registry.open(target) as reg:
        assert digest(reg) == _merged_digest(demo_dir)


def _merged_digest(demo_dir: Path) -> str:
    with Registry.open(demo_dir / "registry.db") as reg:
        return digest(reg)


def test_demo_lays_out_a_merged_project_with_laptops_packs_and_conflicts(demo_dir):
    with Registry.open(demo_dir / "registry.db") as central:
        assert central.conn.execute("SELECT count(*) FROM conflict").fetchone()[0] >= 1
        assert central.conn.execute("SELECT count(*) FROM pack_received").fetchone()[0] == 2
        names = [r[0] for r in central.conn.execute(
            "SELECT name FROM device WHERE role = 'laptop' ORDER BY name")]
    assert names == ["laptop1", "laptop2"]
    assert sorted(p.name for p in (demo_dir / "packs").iterdir()) == ["laptop1.pack",
                                                                       "laptop2.pack"]
    assert not (demo_dir / "enrolment").exists()
    for name in names:
        with Registry.open(demo_dir / "devices" / f"{name}.db") as laptop:
            assert laptop.meta("role") == "laptop"
            assert laptop.conn.execute("SELECT count(*) FROM household").fetchone()[0] > 100


def test_every_grouping_of_three_packs_gives_one_digest(project, tmp_path):
    """Associativity on the command-line path too: all orders of three packs agree (merged
    where packs are sealed to: copies of the central registry; the third pack overlaps the
    first)."""
    hid = project.households[0]
    project.lap(1).save("household", hid, {"floors": 1}, by="a")
    first = project.pack(project.lap(1))
    project.lap(2).save("household", hid, {"floors": 2}, by="b")
    project.lap(1).save("household", hid, {"comments": "再访"}, by="a")
    packs = [first, project.pack(project.lap(2)), project.pack(project.lap(1), full=True)]
    digests = set()
    project.central.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for i, perm in enumerate(itertools.permutations(packs)):
        import shutil
        target = tmp_path / f"t{i}.db"
        shutil.copy(project.root / "central.db", target)
        with Registry.open(target) as reg:
            project.merge(reg, *perm)
            digests.add(fingerprint(reg))
    assert len(digests) == 1
