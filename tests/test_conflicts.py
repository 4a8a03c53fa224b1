"""Conflicts: a deterministic winner, both values kept, resolution that syncs and stays."""

from __future__ import annotations

import pytest
from anju.registry.core.store import InvalidChange, StoreError
from anju.registry.sync.conflicts import get_conflict, open_conflicts, resolve
from anju.registry.sync.merge import merge_pack

from tests.syncing import Project, fingerprint


@pytest.fixture
def project(tmp_path):
    """Two laptops that set one household's phone to different values while offline."""
    p = Project(tmp_path / "p", laptops=2, households=1)
    hid = p.households[0]
    p.lap(1).save("household", hid, {"owner_phone": "13800000001"}, by="li")
    p.lap(2).save("household", hid, {"owner_phone": "13900000002"}, by="wang")
    p.old_packs = [p.pack(p.lap(1)), p.pack(p.lap(2))]
    p.merge(p.central, *p.old_packs)
    yield p
    p.close()


def test_same_field_edits_make_a_conflict_with_both_values(project):
    hid = project.households[0]
    results = [r for r in (merge_pack(project.central, p) for p in project.old_packs)]
    assert all(r.ok and r.new == 0 for r in results)
    [c] = open_conflicts(project.central)
    assert (c["record_type"], c["record_id"], c["field"]) == ("household", hid, "owner_phone")
    cands = c["candidates"]
    assert {x["value"] for x in cands} == {"13800000001", "13900000002"}
    assert {x["by"] for x in cands} == {"li", "wang"}
    assert {x["device_id"] for x in cands} == {project.lap(1).device_id,
                                               project.lap(2).device_id}
    assert all(x["at"].endswith("Z") for x in cands)
    # The winner is the latest edit (lap2 saved last), shown on the record meanwhile.
    assert cands[0]["value"] == "13900000002" and c["winner"] == cands[0]["change_id"]
    assert project.central.get("household", hid)["owner_phone"] == "13900000002"


def test_conflict_raised_counts_in_the_summary(tmp_path):
    p = Project(tmp_path / "q", laptops=2, households=1)
    hid = p.households[0]
    p.lap(1).save("household", hid, {"floors": 1}, by="li")
    p.lap(2).save("household", hid, {"floors": 2}, by="wang")
    first, second = p.merge(p.central, p.pack(p.lap(1)), p.pack(p.lap(2)))
    assert first.conflicts == 0 and second.conflicts == 1
    assert "1 conflicts raised" in second.line()
    p.close()


def test_resolution_keeps_one_value_syncs_and_stays_resolved(project):
    hid = project.households[0]
    change = resolve(project.central, "household", hid, "owner_phone", "13800000001",
                     "户主本人确认", by="supervisor")
    assert change.note == "户主本人确认" and len(change.bases("owner_phone")) == 2
    assert open_conflicts(project.central) == []
    assert project.central.get("household", hid)["owner_phone"] == "13800000001"
    project.sync_back()
    for n in (1, 2):
        assert open_conflicts(project.lap(n)) == []
        assert project.lap(n).get("household", hid)["owner_phone"] == "13800000001"
        assert fingerprint(project.lap(n)) == fingerprint(project.central)
    # Any later merge of the old packs, anywhere, leaves it resolved (a laptop's pack opens at
    # the central registry only: a laptop refuses it, as not sealed to it).
    for reg in (project.central, project.lap(1), project.lap(2)):
        for pack in project.old_packs:
            result = merge_pack(reg, pack)
            assert result.ok if reg is project.central else result.code == "not_recipient"
        assert open_conflicts(reg) == []
    project.send(project.lap(2))
    assert open_conflicts(project.central) == []


def test_resolution_with_another_value_and_its_history(project):
    hid = project.households[0]
    resolve(project.central, "household", hid, "owner_phone", "137 0000 0003", "电话已更换",
            by="supervisor")
    assert project.central.get("household", hid)["owner_phone"] == "13700000003"
    last = project.central.history(hid)[-1]
    assert last["note"] == "电话已更换" and last["by"] == "supervisor"


def test_resolution_needs_a_reason_a_conflict_and_a_valid_value(project):
    hid = project.households[0]
    with pytest.raises(StoreError, match="reason"):
        resolve(project.central, "household", hid, "owner_phone", "13800000001", " ",
                by="supervisor")
    with pytest.raises(StoreError, match="no open conflict"):
        resolve(project.central, "household", hid, "floors", 2, "x", by="supervisor")
    with pytest.raises(InvalidChange):
        resolve(project.central, "household", hid, "owner_phone", "12345", "x",
                by="supervisor")
    assert get_conflict(project.central, "household", hid, "owner_phone") is not None


def test_an_edit_made_without_seeing_the_resolution_is_a_new_conflict(project):
    hid = project.households[0]
    resolve(project.central, "household", hid, "owner_phone", "13800000001", "确认",
            by="supervisor")
    project.lap(1).save("household", hid, {"owner_phone": "13600000004"}, by="li")
    project.send(project.lap(1))
    [c] = open_conflicts(project.central)
    assert {x["value"] for x in c["candidates"]} == {"13800000001", "13600000004"}
