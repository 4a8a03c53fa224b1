"""Trust at the merge: every forgery a laptop's holder can make is refused, nothing is written,
and the genuine laptop's next pack still merges (registry/sync/authority.py)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import shutil
import subprocess
import sys

import pytest
from anju.registry.compensation.agreements import record_agreement
from anju.registry.core.changes import Change, new_id, now
from anju.registry.core.digest import digest
from anju.registry.core.signing import own_key, sign_with
from anju.registry.core.store import Registry, StoreError
from anju.registry.core.users import add_user
from anju.registry.field.backup import backup_now
from anju.registry.review.decisions import decide
from anju.registry.sync import enrollment
from anju.registry.sync.authority import ALL, set_capabilities
from anju.registry.sync.conflicts import open_conflicts, resolve
from anju.registry.sync.merge import merge_pack
from anju.registry.sync.packs import PackWriter
from anju.registry.sync.recover import recover_backup
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.syncing import Project, sealed_to

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
HTML = b"<html><script>fetch('/devices')</script></html>"


@pytest.fixture
def project(tmp_path):
    """A central registry, two survey-only laptops, one household everyone holds."""
    p = Project(tmp_path / "p", laptops=2, households=1)
    yield p
    p.close()


def state(reg: Registry) -> tuple:
    """What a refused pack must leave as it was: the digest and the change log's size."""
    return digest(reg), reg.conn.execute("SELECT count(*) FROM change").fetchone()[0], \
        reg.conn.execute("SELECT count(*) FROM blob").fetchone()[0]


def refused(project: Project, pack, *words: str) -> str:
    """Merge `pack` into the central registry: it must be refused and change nothing."""
    before = state(project.central)
    result = merge_pack(project.central, pack)
    assert not result.ok, result.line()
    assert "\n" not in result.reason and result.line().startswith(f"{pack}: ")
    for w in words:
        assert w in result.reason, (w, result.reason)
    assert state(project.central) == before
    return result.reason


def still_merges(project: Project, n: int) -> None:
    """Laptop n's genuine next pack merges, with its new work."""
    lap = project.lap(n)
    hid = lap.save("household", None, {"house_no": f"G-{new_id()[:4]}", "zone": "东关片区A地块",
                                       "address": "东关街1号", "structure": "simple",
                                       "owner_name": "王芳"}, by="li", full=True)
    result = merge_pack(project.central, project.pack(lap))
    assert result.ok, result.reason
    assert project.central.get("household", hid)["owner_name"] == "王芳"


def raw_row(change: Change) -> list:
    return [change.change_id, change.device_id, change.seq, change.record_type,
            change.record_id, json.dumps(change.fields, ensure_ascii=False),
            json.dumps(change.base), change.at, change.by, change.note, change.clock, change.prev,
            change.sig]


def forged_pack(project: Project, signer: Registry, rows: list, *, blobs=None):
    """A pack correctly signed (as a file) by `signer`'s genuine key, carrying `rows`."""
    path = project.root / "packs" / f"forged-{new_id()[:8]}.pack"
    writer = PackWriter(path, project_id=signer.project_id, device_id=signer.device_id,
                        signer=enrollment.signing_key(signer), recipients=sealed_to(signer))
    writer.frame({"t": "meta", "role": "laptop", "device_name": "x", "have": {}})
    if rows:
        writer.frame({"t": "changes", "c": rows})
    if blobs:
        writer.frame({"t": "blobs", "b": blobs})
    writer.finish({"project_id": signer.project_id, "device_id": signer.device_id,
                   "counts": {"changes": len(rows), "blobs": len(blobs or ())}})
    return path


def claim(project: Project, holder: Registry, device_id: str, seq: int, fields: dict,
          record_type="household", record_id=None, by="admin") -> list:
    """A change claiming `device_id` as origin, signed with the key `holder` really has."""
    c = Change(change_id=new_id(), device_id=device_id, seq=seq, record_type=record_type,
               record_id=record_id or project.households[0], fields=fields,
               base={k: None for k in fields}, at=now(), by=by)
    key = own_key(holder.conn, holder.device_id, "laptop")
    return raw_row(sign_with(key, holder.project_id, c, None))


# -- authenticity ----------------------------------------------------------------------------
def test_a_change_claiming_the_central_registry_is_refused(project):
    central = project.central
    row = claim(project, project.lap(1), central.device_id, 9999,
                {"owner_name": "假户主"})
    refused(project, forged_pack(project, project.lap(1), [row]), "signature", "central",
            row[0][:8])
    still_merges(project, 1)


def test_a_change_claiming_another_laptop_is_refused(project):
    lap2 = project.lap(2)
    row = claim(project, project.lap(1), lap2.device_id, 500, {"owner_phone": "13900000000"})
    refused(project, forged_pack(project, project.lap(1), [row]), "signature", "lap2")
    still_merges(project, 1)
    still_merges(project, 2)


def test_an_unsigned_change_and_an_unknown_origin_are_refused(project):
    lap1 = project.lap(1)
    unsigned = claim(project, lap1, lap1.device_id, lap1.next_seq(), {"floors": 2})
    unsigned[-1] = None
    refused(project, forged_pack(project, lap1, [unsigned]), "signature")
    stranger = claim(project, lap1, new_id(), 1, {"floors": 3})
    refused(project, forged_pack(project, lap1, [stranger]), "unknown device")
    still_merges(project, 1)


def test_sequence_hijack_cannot_block_the_genuine_laptop(project):
    """A forged change at lap2's next seq fails authenticity, so lap2's own change with that
    seq merges afterwards: no UNIQUE constraint, no silenced laptop."""
    lap2 = project.lap(2)
    seq = lap2.next_seq()
    row = claim(project, project.lap(1), lap2.device_id, seq, {"comments": "占位"})
    reason = refused(project, forged_pack(project, project.lap(1), [row]), "signature")
    assert "UNIQUE" not in reason
    still_merges(project, 2)
    assert project.central.conn.execute(
        "SELECT count(*) FROM change WHERE device_id = ? AND seq = ?",
        (lap2.device_id, seq)).fetchone()[0] == 1


def test_a_fork_is_one_line_naming_both_changes(project, tmp_path):
    """A laptop restored from an old copy signs a second, different change with a seq it had
    used: the merge names both changes instead of crashing on the UNIQUE constraint."""
    lap2 = project.lap(2)
    copy_path = tmp_path / "lap2-copy.db"
    lap2.conn.execute("PRAGMA wal_checkpoint(FULL)")
    shutil.copy(lap2.path, copy_path)
    hid = project.households[0]
    lap2.save("household", hid, {"floors": 2}, by="li")
    mine = "SELECT change_id FROM change WHERE device_id = ? ORDER BY seq DESC"
    first = lap2.conn.execute(mine, (lap2.device_id,)).fetchone()[0]
    project.send(lap2)
    with Registry.open(copy_path) as old:
        old.save("household", hid, {"floors": 3}, by="li")
        second = old.conn.execute(mine, (lap2.device_id,)).fetchone()[0]
        pack = project.pack(old)
    reason = refused(project, pack, "fork", first, second)
    assert "UNIQUE" not in reason
    still_merges(project, 2)


def test_an_altered_relayed_change_is_refused(project):
    """lap1 holds lap2's changes (from the central pack) and relays one with a changed value:
    lap2's signature no longer verifies, even though the change id is known."""
    lap2 = project.lap(2)
    lap2.save("household", project.households[0], {"owner_phone": "13912345678"}, by="li")
    project.send(lap2)
    project.merge(project.lap(1), project.pack(project.central))
    row = list(project.lap(1).conn.execute(
        "SELECT change_id, device_id, seq, record_type, record_id, fields, base, at, by, note, "
        "hlc, prev, sig FROM change WHERE device_id = ? ORDER BY seq DESC", (lap2.device_id,)
    ).fetchone())
    row[5] = row[5].replace("13912345678", "13800000000")
    refused(project, forged_pack(project, project.lap(1), [row]), "signature", "lap2")
    still_merges(project, 1)


def test_a_change_in_the_middle_of_a_run_cannot_be_swapped(project):
    """Three of lap1's changes in a row, the middle one's signature replaced: the chain link
    from the next change breaks, so the middle one must verify alone, and it does not."""
    lap1 = project.lap(1)
    for n in (1, 2, 3):
        lap1.save("household", project.households[0], {"floors": n}, by="li")
    rows = [list(r) for r in lap1.conn.execute(
        "SELECT change_id, device_id, seq, record_type, record_id, fields, base, at, by, note, "
        "hlc, prev, sig FROM change WHERE device_id = ? ORDER BY seq DESC LIMIT 3",
        (lap1.device_id,))]
    other = Ed25519PrivateKey.generate().sign(b"x")
    rows[1][12] = base64.b64encode(other).decode()
    refused(project, forged_pack(project, lap1, rows[::-1]), "signature")


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(column=st.sampled_from([0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), data=st.data())
def test_any_altered_column_of_a_signed_change_is_refused(project, column, data):
    """Whatever column of a genuine change a relay alters, the change is refused: the hybrid
    logical clock (column 10) too, which would otherwise let a relay win every conflict."""
    lap1 = project.lap(1)
    row = list(lap1.conn.execute(
        "SELECT change_id, device_id, seq, record_type, record_id, fields, base, at, by, note, "
        "hlc, prev, sig FROM change WHERE device_id = ? ORDER BY seq DESC",
        (project.central.device_id,)).fetchone())
    replacement = {
        0: new_id(), 2: row[2] + data.draw(st.integers(1, 50)), 3: "member", 4: new_id(),
        5: json.dumps({**json.loads(row[5]), "floors": data.draw(st.integers(4, 9))}),
        6: json.dumps(dict.fromkeys(json.loads(row[6]), new_id())),
        7: "2026-01-01T00:00:00.000000Z", 8: data.draw(st.sampled_from(["supervisor", "x", ""])),
        9: data.draw(st.sampled_from(["伪造", ""])),
        10: data.draw(st.sampled_from(["2099-12-31T23:59:59.999999Z",
                                       "2000-01-01T00:00:00.000000Z"])),
        11: hashlib.sha256(b"x").hexdigest(),
    }[column]
    row[column] = replacement
    before = state(project.central)
    result = merge_pack(project.central, forged_pack(project, lap1, [row]))
    assert not result.ok and state(project.central) == before


# -- capabilities ----------------------------------------------------------------------------
def attacker_copy(project: Project, tmp_path) -> Registry:
    """What whoever holds laptop 1 can do: a copy of its database, with its genuine key."""
    lap1 = project.lap(1)
    lap1.conn.execute("PRAGMA wal_checkpoint(FULL)")
    path = tmp_path / f"stolen-{new_id()[:6]}.db"
    shutil.copy(lap1.path, path)
    stolen = Registry.open(path)
    # Its holder grants itself everything in its own database: that must gain nothing.
    stolen.conn.execute("UPDATE device SET capabilities = ? WHERE device_id = ?",
                        (json.dumps(sorted(ALL)), stolen.device_id))
    return stolen


@pytest.mark.parametrize("record_type, values, capability", [
    ("valuation", {"firm": "某评估公司", "report_no": "估-001", "value_date": "2026-05-01",
                   "unit_price": "99999.00", "total": "9999999.00", "appraiser": "张三",
                   "reported_on": "2026-05-02", "basis": "original"}, "legal"),
    ("publication_round", {"number": 1, "kind": "valuation", "title": "伪造公示",
                           "start_on": "2026-05-01", "end_on": "2026-05-02",
                           "households": "[]"}, "legal"),
    ("payment", {"agreement": "a" * 36, "amount": "9999999.00", "paid_on": "2026-05-01",
                 "method": "cash", "voucher_no": "付-001"}, "completion"),
])
def test_a_survey_laptop_cannot_forge_lawful_path_or_payment_records(project, tmp_path,
                                                                     record_type, values,
                                                                     capability):
    """Whoever holds a survey-only laptop writes a valuation, a publication round or a payment
    in its own database (granting itself everything there): the central refuses the pack."""
    with attacker_copy(project, tmp_path) as stolen:
        if record_type != "publication_round":
            values = {**values, "household_id": project.households[0]}
        rid = stolen.save(record_type, None, values, by="admin", full=True)
        pack = project.pack(stolen)
    refused(project, pack, f"lacks the capability {capability}", "grants nothing")
    assert project.central.get(record_type, rid) is None
    still_merges(project, 1)


def test_a_system_record_with_no_named_capability_needs_the_central():
    """Deny by default: a system record type the capability table does not name needs a
    capability that only the central registry holds, whatever a laptop was granted."""
    from anju.registry.core import capabilities as caps
    listed = dict(caps.SYSTEM_RECORDS)
    try:
        del caps.SYSTEM_RECORDS["valuation"]
        caps._SYSTEM = None
        c = Change(change_id=new_id(), device_id="d", seq=1, record_type="valuation",
                   record_id=new_id(), fields={"firm": "x"})
        assert caps.needed(c) == [caps.CENTRAL]
        assert not caps.permits(ALL, c)
        assert caps.permits(caps.capabilities_of({"role": "central"}), c)
    finally:
        caps.SYSTEM_RECORDS.clear()
        caps.SYSTEM_RECORDS.update(listed)
        caps._SYSTEM = None
    from anju.registry.core.contract import SYSTEM_RECORDS
    assert set(SYSTEM_RECORDS) <= set(caps.system_records())


@pytest.mark.parametrize("forgery, capability", [
    ("agreement", "agreements"), ("decision", "decisions"), ("tombstone", "tombstones"),
    ("late status", "status"), ("signed status", "agreements"),
    ("handed over status", "completion"), ("local admin agreement", "agreements")])
def test_a_survey_laptop_cannot_write_what_it_was_not_granted(project, tmp_path, forgery,
                                                              capability):
    hid = project.households[0]
    with attacker_copy(project, tmp_path) as stolen:
        if forgery in ("agreement", "local admin agreement"):
            by = "admin"
            if forgery == "local admin agreement":  # `anju user add laptop1.db x --role admin`
                add_user(stolen, "x", "pw-of-the-thief", "admin")
                by = "x"
            stolen.save("agreement", None, {
                "household_id": hid, "number": "2026-99999", "signed_on": "2026-09-01",
                "mode": "money", "breakdown": "{}", "total": "9999999.00"}, by=by, full=True)
        elif forgery == "decision":
            stolen.save("decision", new_id(), {"flag_key": "k" * 16, "kind": "duplicate_id",
                                               "decision": "dismissed", "reason": "无"},
                        by="supervisor")
        elif forgery == "tombstone":
            stolen.delete("household", hid, reason="重复登记", by="admin")
        elif forgery == "late status":
            stolen.save("household", hid, {"status": "valued"}, by="admin")
        elif forgery == "signed status":
            stolen.save("household", hid, {"status": "signed"}, by="admin")
        elif forgery == "handed over status":
            stolen.save("household", hid, {"status": "handed_over"}, by="admin")
        pack = project.pack(stolen)
    refused(project, pack, f"lacks the capability {capability}", "grants nothing")
    assert project.central.get("household", hid)["deleted"] is None
    still_merges(project, 1)


def test_an_agreement_signed_in_the_laptops_web_app_by_a_local_admin_gains_nothing(project,
                                                                                   tmp_path):
    """The laptop's own web app (the same registry function) with a local admin account."""
    hid = project.households[0]
    with attacker_copy(project, tmp_path) as stolen:
        add_user(stolen, "x", "pw-of-the-thief", "admin")
        today = dt.date.today()
        stolen.set_meta("settings", json.dumps({"signing_start": str(today - dt.timedelta(9)),
                                                "freeze_date": "2020-01-01"}))
        stolen.save("household", hid, {"decoration": "medium", "cert_area": 80.5,
                                        "surveyed_area": 81}, by="x")
        # The thief's own database may say anything: skip the workflow to 已评估.
        stolen.conn.execute("UPDATE household SET status = 'valued' WHERE id = ?", (hid,))
        record_agreement(stolen, hid, number="2026-00001", signed_on=str(today), mode="money",
                         by="x")
        assert stolen.conn.execute("SELECT count(*) FROM agreement").fetchone()[0] == 1
        pack = project.pack(stolen)
    reason = refused(project, pack, "lacks the capability", "'x' grants nothing")
    assert "agreements" in reason or "status" in reason
    assert project.central.conn.execute("SELECT count(*) FROM agreement").fetchone()[0] == 0
    still_merges(project, 1)


def test_granted_capabilities_let_a_laptop_write_and_travel_to_the_laptops(project):
    central = project.central
    set_capabilities(central, "lap1", ["survey", "tombstones"])
    project.sync_back()  # the laptops learn the grant from the central pack
    assert project.lap(2).conn.execute("SELECT capabilities FROM device WHERE name = 'lap1'"
                                       ).fetchone()[0] == '["survey", "tombstones"]'
    lap1 = project.lap(1)
    lap1.delete("household", project.households[0], reason="重复登记", by="li")
    project.send(lap1)
    assert central.get("household", project.households[0])["deleted"] == "重复登记"
    project.sync_back()  # relayed by the central registry: accepted by lap2, judged there once
    assert project.lap(2).get("household", project.households[0])["deleted"] == "重复登记"


def test_central_work_is_relayed_to_laptops(project):
    """The central registry's own agreement-class work (a decision) reaches every laptop."""
    central = project.central
    central.conn.execute("INSERT INTO flag (flag_key, kind, reason_zh, reason_en, records, "
                         "found_at) VALUES ('f1', 'duplicate_id', '重复', 'dup', '[]', ?)",
                         (now(),))
    decide(central, "f1", "dismissed", "核实无误", by="boss")
    project.sync_back()
    assert project.lap(1).conn.execute("SELECT count(*) FROM decision").fetchone()[0] == 1


def test_a_forged_conflict_resolution_from_a_laptop_is_refused(project, tmp_path):
    """A real conflict, resolved on a survey-only laptop: refused at the centre."""
    hid = project.households[0]
    project.lap(1).save("household", hid, {"owner_phone": "13800000001"}, by="a")
    project.lap(2).save("household", hid, {"owner_phone": "13900000002"}, by="b")
    project.send(project.lap(1))
    project.send(project.lap(2))
    project.merge(project.lap(1), project.pack(project.central))
    lap1 = project.lap(1)
    (c,) = open_conflicts(lap1)
    args = (c["record_type"], c["record_id"], c["field"], "13800000001", "核实")
    with pytest.raises(StoreError, match="resolutions"):  # the laptop itself refuses first
        resolve(lap1, *args, by="admin")
    with attacker_copy(project, tmp_path) as stolen:
        resolve(stolen, *args, by="admin")
        pack = project.pack(stolen)
    refused(project, pack, "lacks the capability resolutions")
    assert len(open_conflicts(project.central)) == 1
    still_merges(project, 1)


def test_a_laptop_refuses_to_make_what_the_centre_would_refuse(project):
    """So that no genuine laptop holds work that would block all its later packs."""
    lap1 = project.lap(1)
    hid = project.households[0]
    for attempt in (lambda: lap1.delete("household", hid, reason="重复", by="admin"),
                    lambda: lap1.save("household", hid, {"status": "signed"}, by="admin"),
                    lambda: lap1.save("agreement", None, {
                        "household_id": hid, "number": "1", "signed_on": "2026-09-01",
                        "mode": "money", "breakdown": "{}", "total": "1.00"}, by="admin",
                        full=True)):
        before = state(lap1)
        with pytest.raises(StoreError, match="本设备无权写入"):
            attempt()
        assert state(lap1) == before
    lap1.save("household", hid, {"status": "surveyed"}, by="li")  # up to 已登记: its own
    still_merges(project, 1)


# -- revocation and recovery -----------------------------------------------------------------
def test_a_revoked_laptops_changes_relayed_by_another_laptop_are_refused(project, tmp_path):
    lap2 = project.lap(2)
    hid = lap2.save("household", None, {"house_no": "R-0001", "zone": "东关片区A地块",
                                        "address": "东关街9号", "structure": "simple",
                                        "owner_name": "赵六"}, by="li", full=True)
    # lap1 comes to hold lap2's changes the central never received (laptops no longer read
    # each other's packs, tests/test_recipients.py; a thief holding both databases copies the
    # rows across), then lap2 is lost.
    lap1 = project.lap(1)
    cols = ("change_id, device_id, seq, record_type, record_id, fields, base, at, by, note, hlc, "
            "received_at, prev, sig")
    lap1.conn.executemany(f"INSERT INTO change ({cols}) VALUES ({', '.join('?' * 14)})",
                          lap2.conn.execute(f"SELECT {cols} FROM change WHERE record_id = ?",
                                            (hid,)).fetchall())
    enrollment.revoke_device(project.central, "lap2")
    refused(project, project.pack(project.lap(1), full=True), "revoked", "lap2")
    assert project.central.get("household", hid) is None
    # lap2's work comes back only by the explicit recovery of its backup, attested by an admin.
    backup = backup_now(lap2, tmp_path)
    result = recover_backup(project.central, backup, attested_by="王主任")
    assert result.attested >= 1
    assert project.central.get("household", hid)["owner_name"] == "赵六"
    assert project.central.conn.execute(
        "SELECT attested_by FROM attestation WHERE device_id = ?", (lap2.device_id,)
    ).fetchone()[0] == "王主任"
    project.merge(project.lap(1), project.pack(project.central))  # relayed: accepted
    still_merges(project, 1)


def test_recovery_keeps_the_capability_rules(project, tmp_path):
    with attacker_copy(project, tmp_path) as stolen:
        stolen.save("household", project.households[0], {"status": "valued"}, by="admin")
        backup = backup_now(stolen, tmp_path)
    before = state(project.central)
    with pytest.raises(Exception, match="lacks the capability status"):
        recover_backup(project.central, backup)
    assert state(project.central) == before


# -- files -----------------------------------------------------------------------------------
def test_a_file_lying_about_its_type_is_refused(project):
    lap1 = project.lap(1)
    sha = hashlib.sha256(HTML).hexdigest()
    blob = [sha, "image/png", len(HTML), base64.b64encode(HTML).decode()]
    refused(project, forged_pack(project, lap1, [], blobs=[blob]), "claims type", "image/png")
    honest = [hashlib.sha256(PNG).hexdigest(), "image/png", len(PNG),
              base64.b64encode(PNG).decode()]
    assert merge_pack(project.central, forged_pack(project, lap1, [], blobs=[honest])).ok
    still_merges(project, 1)


def test_files_are_served_by_their_content_only_images_inline(registry, household):
    from tests.collector_helpers import login, make_app
    app = make_app(registry)
    for body, inline in ((PNG, True), (HTML, False), (b"%PDF-1.4\n%%EOF\n", False)):
        sha = hashlib.sha256(body).hexdigest()
        # A stored record and file claiming image/png whatever the bytes (an old database).
        registry.conn.execute("INSERT OR IGNORE INTO blob (sha256, mime, size, data) VALUES "
                              "(?, 'image/png', ?, ?)", (sha, len(body), body))
        aid = new_id()
        registry.save("attachment", aid, {"household_id": household, "field": "photos",
                                          "filename": "a.png", "mime": "image/png",
                                          "size": len(body), "sha256": sha}, by="li", full=True)
        client = app.test_client()
        login(client)
        r = client.get(f"/attachments/{aid}/file")
        assert r.status_code == 200 and r.data == body
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        disposition = r.headers["Content-Disposition"]
        if inline:
            assert disposition == "inline" and r.mimetype == "image/png"
        else:
            assert disposition.startswith("attachment") and r.mimetype != "text/html"


# -- the command line --------------------------------------------------------------------------
def test_cli_enrols_with_capabilities_and_grants(tmp_path):
    db = tmp_path / "c.db"
    Registry.create(db, project="p", role="central", device_name="central").close()

    def anju(*args):
        return subprocess.run([sys.executable, "-m", "anju.registry.cli", *args],
                              capture_output=True, text=True, timeout=120)
    out = anju("device", "enroll", str(db), "lap-a", "--out", str(tmp_path / "a.enrol"))
    assert out.returncode == 0 and "may write: survey" in out.stdout
    out = anju("device", "enroll", str(db), "lap-b", "--out", str(tmp_path / "b.enrol"),
               "--capability", "survey,agreements")
    assert out.returncode == 0 and "agreements, survey" in out.stdout
    out = anju("device", "grant", str(db), "lap-a", "--capability", "status")
    assert out.returncode == 0 and "may write: status" in out.stdout
    bad = anju("device", "grant", str(db), "lap-a", "--capability", "admin")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "unknown capability" in bad.stderr and "Traceback" not in bad.stderr
    with Registry.open(db) as reg:
        caps = dict(reg.conn.execute("SELECT name, capabilities FROM device"))
    assert caps == {"central": None, "lap-a": '["status"]', "lap-b": '["agreements", "survey"]'}


def test_devices_page_shows_and_sets_capabilities(tmp_path):
    from werkzeug.security import generate_password_hash

    from tests.collector_helpers import CSRF_RE, PASSWORD, login, make_app
    central = Registry.create(tmp_path / "c.db", project="p", role="central",
                              device_name="central")
    enrollment.enroll_device(central, "lap-a", tmp_path / "a.enrol")
    app = make_app(central)
    central.conn.execute("INSERT INTO user (name, password_hash, role, created_at) VALUES "
                         "('root', ?, 'admin', ?)",
                         (generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"), now()))
    boss = app.test_client()
    login(boss, "boss")
    page = boss.get("/devices").text
    assert "可写内容" in page and 'data-capability="survey"' in page
    token = CSRF_RE.search(page).group(1) if CSRF_RE.search(page) else ""
    denied = boss.post("/devices/lap-a/capabilities", data={"csrf_token": token,
                                                            "capability": "agreements"})
    assert denied.status_code in (302, 403)
    assert central.conn.execute("SELECT capabilities FROM device WHERE name = 'lap-a'"
                                ).fetchone()[0] is None  # a supervisor cannot grant
    root = app.test_client()
    login(root, "root")
    page = root.get("/devices").text
    token = CSRF_RE.search(page).group(1)
    r = root.post("/devices/lap-a/capabilities",
                  data={"csrf_token": token, "capability": ["survey", "agreements", "bogus"]})
    assert r.status_code == 302
    assert central.conn.execute("SELECT capabilities FROM device WHERE name = 'lap-a'"
                                ).fetchone()[0] == '["agreements", "survey"]'
    page = root.get("/devices").text
    assert "可写内容已改为" in page
    r = root.post("/devices/enroll", data={"csrf_token": token, "name": "lap-b",
                                           "capability": ["survey", "tombstones"]})
    assert r.status_code == 200 and r.headers["Content-Disposition"].startswith("attachment")
    assert central.conn.execute("SELECT capabilities FROM device WHERE name = 'lap-b'"
                                ).fetchone()[0] == '["survey", "tombstones"]'
    central.close()


def test_work_accepted_before_a_revocation_still_reaches_the_other_laptops(project):
    """The central registry received lap2's change before revoking lap2: its pack relays the
    change, and lap1, which learns of the revocation in that same pack, accepts it."""
    lap2 = project.lap(2)
    lap2.save("household", project.households[0], {"comments": "门前有台阶"}, by="li")
    project.send(lap2)
    enrollment.revoke_device(project.central, "lap2")
    project.merge(project.lap(1), project.pack(project.central))
    lap1 = project.lap(1)
    assert lap1.get("household", project.households[0])["comments"] == "门前有台阶"
    assert lap1.conn.execute("SELECT revoked_at FROM device WHERE name = 'lap2'"
                             ).fetchone()[0] is not None
    refused(project, project.pack(lap2), "revoked")


@given(texts=st.lists(st.text(), min_size=7, max_size=7), seq=st.integers(1, 2**53),
       note=st.one_of(st.none(), st.text()), prev=st.one_of(st.none(), st.text()),
       fields=st.dictionaries(st.text(), st.one_of(st.none(), st.text(), st.integers(),
                                                   st.booleans())))
def test_the_signed_encoding_is_canonical_json_of_the_change(texts, seq, note, prev, fields):
    """The bytes a signature covers are the canonical JSON list of the change, whether fields
    come as values or as their canonical text (as packs carry them)."""
    from anju.registry.core.changes import dumps
    from anju.registry.core.signing import message, prefix, row_message
    pid, cid, dev, rtype, rid, at, by = texts
    base = dict.fromkeys(fields)
    hlc = at + "h"
    expected = dumps(["anju-change-v2", pid, cid, dev, seq, rtype, rid, fields, base, at, by,
                      note, hlc, prev]).encode()
    assert message(pid, cid, dev, seq, rtype, rid, fields, base, at, by, note, hlc,
                   prev) == expected
    assert message(pid, cid, dev, seq, rtype, rid, dumps(fields), dumps(base), at, by, note,
                   hlc, prev) == expected
    row = [cid, dev, seq, rtype, rid, dumps(fields), dumps(base), at, by, note, hlc, prev, None]
    assert row_message(prefix(pid), row, hlc, prev) == expected


@given(record_type=st.sampled_from(["household", "member", "visit", "agreement", "decision",
                                    "payment", "handover", "publication_round", "objection",
                                    "valuation", "compensation_decision"]),
       fields=st.dictionaries(st.sampled_from(["status", "_deleted", "floors", "name"]),
                              st.sampled_from([None, "unsurveyed", "surveyed", "valued",
                                               "signed", "handed_over", "demolished",
                                               "disputed", "重复"])),
       heads=st.integers(0, 3),
       caps=st.sets(st.sampled_from(sorted(ALL))))
def test_the_merges_fast_capability_rule_agrees_with_the_stated_one(record_type, fields, heads,
                                                                    caps):
    from anju.registry.core.capabilities import needed, permits
    base = {k: [new_id() for _ in range(heads)] if heads != 1 else new_id() for k in fields}
    c = Change(change_id=new_id(), device_id="d", seq=1, record_type=record_type,
               record_id=new_id(), fields=fields, base=base)
    assert permits(frozenset(caps), c) == set(needed(c)).issubset(caps)


# -- generations (a restored database, registry/core/origin.py) -------------------------------
def test_a_restored_laptops_generation_signs_with_its_device_key_and_nobody_elses(project):
    """After a restore lap1 writes as `<lap1>~<generation>`, seq from 1, its own chain, signed
    with lap1's key and judged by lap1's capabilities; lap2 cannot write as that generation,
    and a rewritten clock on it is refused."""
    from anju.registry.core.origin import device_of
    from anju.registry.field import backup

    hid = project.households[0]
    lap1 = project.lap(1)
    lap1.save("household", hid, {"floors": 2}, by="li")
    saved = backup.backup_now(lap1, project.root, reason="manual")
    lap1.save("household", hid, {"floors": 3}, by="li")
    project.send(lap1)
    path = lap1.path
    lap1.close()
    backup.restore(saved, path, force=True)
    project.laptops["lap1"] = lap1 = Registry.open(path)
    assert lap1.origin_id != lap1.device_id and device_of(lap1.origin_id) == lap1.device_id
    lap1.save("household", hid, {"floors": 4}, by="li")
    row = list(lap1.conn.execute(
        "SELECT change_id, device_id, seq, record_type, record_id, fields, base, at, by, note, "
        "hlc, prev, sig FROM change WHERE device_id = ?", (lap1.origin_id,)).fetchone())
    assert row[2] == 1 and row[11] is None and row[12]  # a fresh chain, signed
    # A relay rewriting the generation's clock to win conflicts is refused.
    late = list(row)
    late[10] = "2099-12-31T23:59:59.999999Z"
    refused(project, forged_pack(project, project.lap(2), [late]), "signature", "lap1")
    # lap2's key cannot write as lap1's generation.
    forged = claim(project, project.lap(2), lap1.origin_id, 2, {"floors": 9})
    refused(project, forged_pack(project, project.lap(2), [forged]), "signature", "lap1")
    # The genuine generation merges, and stays within lap1's (survey) capabilities.
    result = merge_pack(project.central, project.pack(lap1))
    assert result.ok, result.reason
    assert project.central.get("household", hid)["floors"] == 4
    lap1.conn.execute("UPDATE device SET capabilities = ? WHERE device_id = ?",
                      (json.dumps(sorted(ALL)), lap1.device_id))
    lap1.save("household", hid, {"status": "valued"}, by="admin")
    refused(project, project.pack(lap1), "lacks the capability status")


def test_an_unsigned_change_from_before_signing_merges_only_as_the_exact_copy_held(project):
    """A change made before migration 006 has no signature. Where it is already held (both
    databases have it), a pack carrying it unchanged still merges, as a row of 10 (before the
    hlc), 11 or 13 columns; an altered copy of it (its value, its clock), or an unsigned change
    new to the central, is refused."""
    from anju.registry.core.changes import dumps
    from anju.registry.core.store import transaction
    lap1 = project.lap(1)
    old = Change(change_id=new_id(), device_id=lap1.device_id, seq=lap1.next_seq(),
                 record_type="household", record_id=project.households[0],
                 fields={"comments": "迁移前"}, base={"comments": None}, at=now(), by="li")
    for reg in (project.central, lap1):
        with transaction(reg.conn):
            reg.apply([old])
    still_merges(project, 1)
    assert merge_pack(project.central, project.pack(lap1, full=True)).ok
    row = raw_row(old)
    row[5], row[6] = dumps(old.fields), dumps(old.base)  # as a pack carries them: canonical
    assert row[-2:] == [None, None] and len(row) == 13
    for altered in ({5: json.dumps({"comments": "改过"}, ensure_ascii=False)},
                    {10: "2099-12-31T23:59:59.999999Z"}):
        bad = list(row)
        for k, v in altered.items():
            bad[k] = v
        refused(project, forged_pack(project, lap1, [bad]), "signature")
    for short in (row[:10], row[:11]):  # before the hlc; the hlc, unsigned
        assert merge_pack(project.central, forged_pack(project, lap1, [short])).ok
    fresh = raw_row(Change(**{**old.__dict__, "change_id": new_id(), "seq": old.seq + 50}))
    refused(project, forged_pack(project, lap1, [fresh]), "signature")
