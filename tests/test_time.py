"""Time, restores and survey changes never lose or block anyone's work (issue 13).

Real projects on real files (tests/syncing.py): a central registry and enrolled laptops that
exchange packs. A wrong clock is played by shifting this process's wall clock
(registry/core/clock.py OFFSET) while one database writes.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import subprocess
import sys
import time

import pytest
import yaml
from anju.registry.core import clock
from anju.registry.core.changes import Change
from anju.registry.core.definition import DEFAULT_PATH
from anju.registry.core.digest import digest, knowledge
from anju.registry.core.signing import sign_change
from anju.registry.core.store import Registry, transaction
from anju.registry.core.validation import latest_day
from anju.registry.field import backup
from anju.registry.sync import conflicts as conflicts_mod
from anju.registry.sync.merge import adopt_definition, merge_pack, merge_packs

from tests.conftest import HOUSEHOLD
from tests.syncing import Project, fingerprint

DAY = dt.timedelta(days=1)


def anju(*args):
    return subprocess.run([sys.executable, "-m", "anju.registry.cli", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def project(tmp_path):
    p = Project(tmp_path / "p", laptops=2, households=1)
    yield p
    p.close()


@pytest.fixture
def skew(monkeypatch):
    """Set this process's clock error for the writes that follow."""
    def set_offset(delta: dt.timedelta) -> None:
        monkeypatch.setattr(clock, "OFFSET", delta)
    return set_offset


def sync_all(p: Project, rounds: int = 2) -> None:
    """Every laptop to the central registry and back, until nothing moves."""
    for _ in range(rounds):
        for lap in p.laptops.values():
            p.send(lap)
        p.sync_back()


def agree(p: Project) -> None:
    first = fingerprint(p.central)
    for lap in p.laptops.values():
        assert fingerprint(lap) == first
    assert {knowledge(r) for r in (p.central, *p.laptops.values())} == {knowledge(p.central)}


# -- the calendar -----------------------------------------------------------------------------

def test_a_laptop_a_day_ahead_merges_everywhere(project, skew):
    hid = project.households[0]
    # "today" on the fast laptop: the day after the latest day anyone here calls today (this
    # computer's, UTC's or the project's: Beijing is a day ahead of UTC for 8 hours a day)
    tomorrow = (latest_day() + DAY).isoformat()
    skew(DAY)
    project.lap(1).save("household", hid, {"survey_date": tomorrow}, by="surveyor")
    skew(dt.timedelta(0))
    pack = project.pack(project.lap(1))
    for _ in range(2):  # resent: still accepted, never blocks the laptop's later packs
        assert merge_pack(project.central, pack).ok
    project.sync_back()
    assert project.lap(2).get("household", hid)["survey_date"] == tomorrow
    # The receiver's own new edits are still checked against its own calendar.
    with pytest.raises(Exception, match="survey_date"):
        project.central.save("household", hid, {"survey_date": tomorrow}, by="admin")


def test_a_laptop_a_month_behind_merges_todays_central_pack(project, skew):
    hid = project.households[0]
    today = dt.date.today().isoformat()
    project.central.save("household", hid, {"survey_date": today}, by="admin")
    pack = project.pack(project.central)
    skew(-30 * DAY)
    assert merge_pack(project.lap(1), pack).ok
    project.lap(1).save("household", hid, {"address": "东关街13号"}, by="surveyor")
    skew(dt.timedelta(0))
    sync_all(project)
    agree(project)
    # The slow laptop's edit was made after it saw today's value: it wins, though its wall
    # clock says a month ago.
    assert project.central.get("household", hid)["address"] == "东关街13号"


def test_a_laptop_years_ahead_is_merged_and_flagged_not_refused(project, skew):
    hid = project.households[0]
    skew(dt.timedelta(days=3650))
    project.lap(1).save("household", hid, {"address": "未来街1号"}, by="surveyor")
    skew(dt.timedelta(0))
    results = merge_packs(project.central, [project.pack(project.lap(1))])
    assert results[0].ok
    kinds = [k for (k,) in project.central.conn.execute("SELECT kind FROM flag")]
    assert "clock_ahead" in kinds
    project.sync_back()
    # An edit made after seeing the far-future value supersedes it, on every database.
    project.lap(2).save("household", hid, {"address": "东关街14号"}, by="surveyor")
    sync_all(project)
    agree(project)
    assert project.central.get("household", hid)["address"] == "东关街14号"
    assert project.central.conn.execute("SELECT count(*) FROM conflict").fetchone()[0] == 0


def test_a_central_clock_at_2035_does_not_freeze_laptop_settings(project, skew):
    skew(dt.timedelta(days=9 * 365))
    project.central.set_meta("settings", '{"freeze_date": "2024-01-01"}')
    project.sync_back()
    skew(dt.timedelta(0))
    project.central.set_meta("settings", '{"freeze_date": "2024-06-01"}')
    project.sync_back()
    assert project.lap(1).settings["freeze_date"] == "2024-06-01"


# -- causality ------------------------------------------------------------------------------

@pytest.mark.parametrize("capabilities, left_open", [(("survey", "resolutions"), 0),
                                                      (None, 1)])
def test_an_edit_after_a_conflict_supersedes_every_head_it_was_shown(tmp_path, skew,
                                                                     capabilities, left_open):
    """A laptop granted `resolutions` closes the conflict by editing the field it was shown;
    a survey-only laptop's edit supersedes the winner only (closing a conflict is a
    resolution, registry/core/capabilities.py): its value wins, the conflict stays for review."""
    project = Project(tmp_path / "p", laptops=2, households=1, capabilities=capabilities)
    try:
        _edit_after_conflict(project, skew, left_open)
    finally:
        project.close()


def _edit_after_conflict(project, skew, left_open: int) -> None:
    hid = project.households[0]
    project.lap(1).save("household", hid, {"address": "甲"}, by="a")
    project.lap(2).save("household", hid, {"address": "乙"}, by="b")
    sync_all(project, rounds=1)
    assert project.lap(1).conn.execute("SELECT count(*) FROM conflict").fetchone()[0] == 1
    skew(dt.timedelta(minutes=-10))  # a laptop 10 minutes slow
    project.lap(1).save("household", hid, {"address": "丙"}, by="a")
    assert project.lap(1).get("household", hid)["address"] == "丙"  # its own screen
    skew(dt.timedelta(0))
    sync_all(project)
    agree(project)
    assert project.central.get("household", hid)["address"] == "丙"
    assert project.central.conn.execute("SELECT count(*) FROM conflict").fetchone()[0] \
        == left_open


def test_a_resolution_supersedes_only_the_candidates_the_supervisor_saw(project):
    hid = project.households[0]
    project.lap(1).save("household", hid, {"address": "甲"}, by="a")
    project.lap(2).save("household", hid, {"address": "乙"}, by="b")
    for lap in project.laptops.values():
        project.send(lap)
    shown = [c["change_id"] for c in conflicts_mod.get_conflict(
        project.central, "household", hid, "address")["candidates"]]
    # After the page was shown, lap2 changes its value again (it never saw 甲): it arrives.
    project.lap(2).save("household", hid, {"address": "戊"}, by="b")
    project.send(project.lap(2))
    resolution = conflicts_mod.resolve(project.central, "household", hid, "address", "乙",
                                       "核实", by="sup", seen=shown)
    heads = {h.change_id: h.fields["address"] for h in
             project.central.state(hid).heads["address"]}
    assert resolution.change_id in heads and not heads.keys() & set(shown)
    assert sorted(heads.values()) == sorted(["乙", "戊"])  # the later arrival stays open
    assert conflicts_mod.get_conflict(project.central, "household", hid, "address")
    sync_all(project)
    agree(project)


def test_two_deletions_with_different_reasons_do_not_conflict(tmp_path):
    # Tombstones need their capability (registry/core/capabilities.py): both laptops hold it.
    project = Project(tmp_path / "p", laptops=2, households=1,
                      capabilities=("survey", "tombstones"))
    try:
        hid = project.households[0]
        project.lap(1).delete("household", hid, reason="重复登记", by="a")
        project.lap(2).delete("household", hid, reason="录错了", by="b")
        sync_all(project)
        agree(project)
        assert project.central.get("household", hid)["deleted"]
        assert project.central.conn.execute("SELECT count(*) FROM conflict").fetchone()[0] == 0
    finally:
        project.close()


# -- text ---------------------------------------------------------------------------------------

def test_full_width_and_decomposed_input_is_stored_canonical(project):
    hid = project.households[0]
    project.lap(1).save("household", hid, {"owner_phone": "１３８ ００１３ ８０００",
                                           "house_no": "Ａ－０００１"}, by="a")
    row = project.lap(1).get("household", hid)
    assert (row["owner_phone"], row["house_no"]) == ("13800138000", "A-0001")
    nfd = "东关街12号 Cafe\u0301"
    project.lap(1).save("household", hid, {"address": nfd}, by="a")
    assert project.lap(1).get("household", hid)["address"] == "东关街12号 Caf\u00e9"


def test_canonically_equal_text_is_no_conflict(project):
    hid = project.households[0]
    project.lap(1).save("household", hid, {"address": "Caf\u00e9"}, by="a")
    # An older anju on lap2 stored the same word decomposed: its change is written as it was.
    lap2 = project.lap(2)
    made = lap2.make_change("household", hid, {"address": "Cafe"}, by="b")
    # ... and signed as written (the signature covers the stored text).
    older = sign_change(lap2, Change(**{**made.__dict__, "fields": {"address": "Cafe\u0301"}}))
    with transaction(lap2.conn):
        lap2.apply([older])
    sync_all(project)
    assert project.central.conn.execute("SELECT count(*) FROM conflict").fetchone()[0] == 0


# -- restores ---------------------------------------------------------------------------------

def _restore(p: Project, name: str, backup_file) -> None:
    """Put a backup back in place of a database of the project, as `anju restore` does."""
    path = p.root / f"{name}.db"
    reg = p.central if name == "central" else p.laptops[name]
    reg.close()
    backup.restore(backup_file, path, force=True)
    if name == "central":
        p.central = Registry.open(path)
    else:
        p.laptops[name] = Registry.open(path)


def test_a_laptop_restored_from_backup_loses_nothing_and_syncs_on(project):
    hid = project.households[0]
    lap = project.lap(1)
    lap.save("household", hid, {"address": "备份前"}, by="a")
    saved = backup.backup_now(lap, project.root, reason="manual")
    lap.save("household", hid, {"comments": "备份后一"}, by="a")
    member = lap.save("member", None, {"household_id": hid, "name": "李娜",
                                       "id_no": "11010519491231002X", "relation": "spouse"},
                      by="a")
    project.send(lap)  # the central holds the work made after the backup
    _restore(project, "lap1", saved)
    lap = project.lap(1)
    assert lap.get("member", member) is None  # lost locally ...
    lap.save("household", hid, {"address": "恢复后"}, by="a")
    manifest_pack = project.pack(lap)
    assert merge_pack(project.central, manifest_pack).new >= 1  # the new edit travels
    sync_all(project)
    agree(project)
    lap = project.lap(1)
    assert lap.get("member", member)["name"] == "李娜"  # ... and back through sync
    assert lap.get("household", hid)["comments"] == "备份后一"
    assert project.central.get("household", hid)["address"] == "恢复后"
    # A full pack of the restored laptop merges too (no reused (device, seq)).
    assert merge_pack(project.central, project.pack(lap, full=True)).ok


def test_the_central_restored_from_backup_gets_back_what_it_lost(project):
    hid = project.households[0]
    saved = backup.backup_now(project.central, project.root, reason="manual")
    project.lap(1).save("household", hid, {"comments": "笔记本改"}, by="a")
    project.send(project.lap(1))
    project.central.save("household", hid, {"address": "中心改"}, by="admin")
    project.sync_back()
    _restore(project, "central", saved)
    assert project.central.get("household", hid)["address"] != "中心改"
    project.central.save("household", hid, {"owner_name": "王芳"}, by="admin")
    sync_all(project, rounds=3)
    agree(project)
    row = project.central.get("household", hid)
    assert (row["comments"], row["address"], row["owner_name"]) == ("笔记本改", "中心改", "王芳")
    assert project.lap(2).get("household", hid)["owner_name"] == "王芳"


def test_anju_restore_says_what_it_did(tmp_path):
    db = tmp_path / "lap.db"
    Registry.create(db, project="p", role="laptop", device_name="lap").close()
    with Registry.open(db) as reg:
        reg.save("household", None, dict(HOUSEHOLD), by="a", full=True)
        saved = backup.backup_now(reg, tmp_path)
    out = anju("restore", str(saved), str(db), "--force")
    assert out.returncode == 0, out.stderr
    assert "new generation" in out.stdout and "next sync" in out.stdout
    with Registry.open(db) as reg:
        assert reg.origin_id != reg.device_id and reg.origin_id.startswith(reg.device_id)
        assert reg.next_seq() == 1


def test_stale_part_files_are_removed_at_the_next_backup(tmp_path):
    db = tmp_path / "lap.db"
    Registry.create(db, project="p", role="laptop", device_name="lap").close()
    (tmp_path / "b").mkdir()
    first = backup.backup_now(db, tmp_path / "b")
    stale = first.with_name(first.name.replace("manual", "import") + ".part")
    fresh = first.with_name(first.name.replace("manual", "scheduled") + ".part")
    stale.write_bytes(b"half")
    fresh.write_bytes(b"being written")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    backup.backup_now(db, tmp_path / "b")
    assert not stale.exists() and fresh.exists()


# -- survey changes -----------------------------------------------------------------------------

def tightened(version: int = 2) -> str:
    """The default survey without the 'simple' structure: a dropped choice."""
    raw = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    raw["version"] = version
    for f in raw["records"]["household"]["fields"]:
        if f["name"] == "structure":
            f["choices"] = [c for c in f["choices"] if c["value"] != "simple"]
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)


def test_tightening_then_old_and_new_laptops_merge(project, tmp_path):
    hid = project.households[0]
    project.lap(1).save("household", hid, {"structure": "simple"}, by="a")  # still allowed
    old_pack = project.pack(project.lap(1))
    adopt_definition(project.central, tightened())
    results = merge_packs(project.central, [old_pack])  # the older laptop's pack
    assert results[0].ok, results[0].reason
    assert project.central.get("household", hid)["structure"] == "simple"
    kinds = [k for (k,) in project.central.conn.execute("SELECT kind FROM flag")]
    assert "survey_outdated" in kinds
    # New edits follow the tightened definition.
    with pytest.raises(Exception, match="structure"):
        project.central.save("household", hid, {"structure": "simple"}, by="admin")
    # A laptop enrolled after the tightening merges its first central pack.
    from anju.registry.sync.enrollment import enroll_device, init_laptop
    enroll_device(project.central, "lap3", tmp_path / "lap3.enrol")
    init_laptop(tmp_path / "lap3.db", tmp_path / "lap3.enrol")
    with Registry.open(tmp_path / "lap3.db") as lap3:
        result = merge_pack(lap3, project.pack(project.central))
        assert result.ok, result.reason
        assert digest(lap3) == digest(project.central)
    project.sync_back()  # and the older laptops take the new definition with it
    assert project.lap(2).definition.version == 2
    assert project.lap(2).get("household", hid)["structure"] == "simple"


def test_a_database_copied_back_by_hand_notices_at_its_next_merge(project):
    hid = project.households[0]
    lap = project.lap(1)
    path = lap.path
    lap.save("household", hid, {"address": "备份前"}, by="a")
    lap.close()
    copy = path.with_name("copy.db")
    src = sqlite3.connect(path)
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    project.laptops["lap1"] = lap = Registry.open(path)
    lap.save("household", hid, {"comments": "备份后"}, by="a")
    project.send(lap)
    lap.close()
    for extra in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        extra.unlink(missing_ok=True)
    copy.rename(path)  # put back by hand, without `anju restore`
    project.laptops["lap1"] = lap = Registry.open(path)
    result = merge_pack(lap, project.pack(project.central))
    assert result.ok and "new generation" in result.line()
    lap.save("household", hid, {"address": "恢复后"}, by="a")
    sync_all(project)
    agree(project)
    assert project.central.get("household", hid)["address"] == "恢复后"
    assert project.lap(1).get("household", hid)["comments"] == "备份后"


def test_anju_merge_rebuilds_flags_and_digest_all_adds_a_knowledge_line(project, skew):
    hid = project.households[0]
    skew(dt.timedelta(days=3650))
    project.lap(1).save("household", hid, {"address": "未来街1号"}, by="surveyor")
    skew(dt.timedelta(0))
    pack = project.pack(project.lap(1))
    central = str(project.central.path)
    before = anju("digest", central, "--all").stdout.splitlines()
    out = anju("merge", central, str(pack))
    assert out.returncode == 0, out.stderr
    kinds = [k for (k,) in project.central.conn.execute("SELECT kind FROM flag")]
    assert "clock_ahead" in kinds
    after = anju("digest", central, "--all").stdout.splitlines()
    assert len(before) == len(after) == 2 and before != after
    assert after[1].startswith("changes ") and " conflicts 0 " in after[1]
    assert anju("digest", central).stdout.splitlines() == after[:1]


def test_the_resolve_page_settles_only_what_it_showed(project):
    from tests.collector_helpers import login, make_app
    hid = project.households[0]
    project.lap(1).save("household", hid, {"address": "甲"}, by="a")
    project.lap(2).save("household", hid, {"address": "乙"}, by="b")
    for lap in project.laptops.values():
        project.send(lap)
    client = make_app(project.central).test_client()
    login(client, "boss")
    url = f"/conflicts/household/{hid}/address"
    page = client.get(url).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    seen = re.findall(r'name="seen" value="([^"]+)"', page)
    assert len(seen) == 2
    project.lap(2).save("household", hid, {"address": "戊"}, by="b")  # arrives meanwhile
    project.send(project.lap(2))
    keep = next(c for c in seen if project.central.conn.execute(
        "SELECT fields FROM change WHERE change_id = ?", (c,)).fetchone()[0] == '{"address":"甲"}')
    done = client.post(url, data={"csrf_token": token, "choice": keep, "reason": "核实",
                                  "seen": seen})
    assert done.status_code == 302
    [open_] = conflicts_mod.open_conflicts(project.central)
    assert sorted(c["value"] for c in open_["candidates"]) == ["戊", "甲"]
