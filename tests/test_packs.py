"""Packs: what a lost USB stick reveals, every kind of bad pack, enrolment, files in packs."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zlib

import pytest
from anju.registry.core.changes import new_id, now
from anju.registry.core.digest import digest
from anju.registry.core.store import SCHEMA_VERSION, Registry, StoreError
from anju.registry.sync import enrollment
from anju.registry.sync.enrollment import enroll_device, init_laptop, revoke_device
from anju.registry.sync.merge import merge_pack
from anju.registry.sync.packs import PackWriter, export_pack, open_pack
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from tests.syncing import Project, fingerprint, sealed_to


def anju(*args):
    return subprocess.run([sys.executable, "-m", "anju.registry.cli", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def project(tmp_path):
    p = Project(tmp_path / "p", laptops=2, households=1)
    p.lap(1).save("household", p.households[0], {"owner_phone": "13812345678",
                                                 "owner_id_no": "11010519491231002X"}, by="li")
    yield p
    p.close()


def test_a_pack_reveals_nothing_readable(project):
    pack = project.pack(project.lap(1), full=True).read_bytes()
    for secret in ("张伟", "A-0000", "13812345678", "11010519491231002X", "东关"):
        assert secret.encode() not in pack
    # Not merely compressed either: no part after the header inflates.
    for start in range(200, len(pack) - 100, 97):
        with pytest.raises(zlib.error):
            zlib.decompress(pack[start:])


def forge(reg: Registry, path, rows, *, schema_version: int = SCHEMA_VERSION):
    """A pack correctly signed by `reg`'s device holding the given change rows."""
    writer = PackWriter(path, project_id=reg.project_id, device_id=reg.device_id,
                        signer=enrollment.signing_key(reg), recipients=sealed_to(reg),
                        schema_version=schema_version)
    writer.frame({"t": "meta", "role": "laptop", "device_name": "x", "have": {}})
    writer.frame({"t": "changes", "c": rows})
    writer.finish({"project_id": reg.project_id, "device_id": reg.device_id,
                   "counts": {"changes": len(rows), "blobs": 0}})
    return path


def _row(reg, fields, record_type="household", record_id=None):
    return [new_id(), reg.device_id, 999, record_type, record_id or new_id(),
            json.dumps(fields, ensure_ascii=False), json.dumps(dict.fromkeys(fields)), now(),
            "li", None]


def _bad_packs(project, tmp):
    """Every kind of pack the issue lists as to be refused, with words of its reason."""
    good = project.pack(project.lap(1))
    data = good.read_bytes()
    out = {}

    def write(name, content):
        (tmp / name).write_bytes(content)
        return tmp / name

    out["empty"] = (write("empty.pack", b""), "empty")
    out["random"] = (write("random.pack", os.urandom(5000)), "not an anju pack")
    out["truncated"] = (write("truncated.pack", data[:len(data) // 2]), "truncated")
    for where in (20, len(data) // 2, len(data) - 40):
        flipped = bytearray(data)
        flipped[where] ^= 0x01
        out[f"flipped{where}"] = (write(f"flipped{where}.pack", bytes(flipped)),
                                  "damaged or altered")
    other = Project(tmp / "other", laptops=1, households=1)
    out["other project"] = (other.pack(other.lap(1)), "another project")
    # Same project id, but a laptop this registry never enrolled.
    rogue_central = Registry.create(tmp / "rogue.db", project="x", role="central",
                                    device_name="rogue", project_id=project.central.project_id)
    enroll_device(rogue_central, "stray", tmp / "rogue.enrol")
    init_laptop(tmp / "rogue-lap.db", tmp / "rogue.enrol")
    with Registry.open(tmp / "rogue-lap.db") as rogue:
        out["unknown device"] = (export_pack(rogue, tmp / "rogue.pack") and tmp / "rogue.pack",
                                 "unknown device")
    rogue_central.close()
    other.close()
    lap2 = project.lap(2)
    out["newer schema"] = (forge(lap2, tmp / "newer.pack", [], schema_version=SCHEMA_VERSION + 1),
                           "newer schema version")
    out["unknown field"] = (forge(lap2, tmp / "field.pack",
                                  [_row(lap2, {"house_no": "B-1", "secret_field": "x"})]),
                            "Unknown field")
    out["bad id"] = (forge(lap2, tmp / "id.pack", [_row(lap2, {"owner_id_no":
                                                               "110105194912310021"})]),
                     "check character")
    out["unknown record type"] = (forge(lap2, tmp / "type.pack", [_row(lap2, {"a": 1}, "pet")]),
                                  "unknown record type")
    return good, out


def test_bad_packs_are_rejected_one_line_each_and_good_ones_still_merge(project, tmp_path):
    good, bad = _bad_packs(project, tmp_path)
    central = project.root / "central.db"
    before = fingerprint(project.central)
    project.central.close()
    paths = [str(p) for p, _ in bad.values()]
    result = anju("merge", str(central), *paths[:3], str(good), *paths[3:])
    assert result.returncode == 1
    errors = result.stderr.strip().splitlines()
    assert len(errors) == len(bad)
    for (path, words), line in zip(bad.values(), errors):
        assert line.startswith(f"{path}: "), line
        assert words in line, (words, line)
    assert "Traceback" not in result.stderr
    assert f"{good}: merged from lap1: 1 new changes" in result.stdout
    project.central = Registry.open(central)
    assert fingerprint(project.central) != before
    assert project.central.get("household", project.households[0])["owner_phone"] == \
        "13812345678"
    assert project.central.conn.execute("SELECT count(*) FROM pack_received").fetchone()[0] == 1


def test_a_rejected_pack_writes_nothing(project, tmp_path):
    _, bad = _bad_packs(project, tmp_path)
    lap2 = project.lap(2)
    hid = project.households[0]
    # Valid changes first, then one bad change: the whole pack goes, the valid part too.
    rows = [_row(lap2, {"floors": 2}, record_id=hid),
            _row(lap2, {"owner_id_no": "110105194912310021"}, record_id=hid)]
    forged = forge(lap2, tmp_path / "half.pack", rows)
    before = fingerprint(project.central)
    counts = project.central.conn.execute("SELECT (SELECT count(*) FROM change), "
                                          "(SELECT count(*) FROM pack_received)").fetchone()
    for path in [forged] + [p for p, _ in bad.values()]:
        assert not merge_pack(project.central, path).ok
    assert fingerprint(project.central) == before
    assert project.central.conn.execute("SELECT (SELECT count(*) FROM change), "
                                        "(SELECT count(*) FROM pack_received)").fetchone() \
        == counts


@pytest.mark.parametrize("bad, words", [({"floors": 99}, "at most 60"),
                                         ({"floors": [2]}, "whole number"),
                                         ({"status": ["surveyed"]}, "Not one of the choices")])
def test_a_value_seen_valid_earlier_in_a_pack_does_not_pass_a_bad_one(project, tmp_path,
                                                                      bad, words):
    lap2 = project.lap(2)
    hid = project.households[0]
    rows = [_row(lap2, {"floors": 2, "status": "surveyed"}, record_id=hid) for _ in range(3)]
    rows.append(_row(lap2, bad, record_id=hid))
    result = merge_pack(project.central, forge(lap2, tmp_path / "m.pack", rows))
    assert not result.ok and words in result.reason, result.reason


def test_revoked_device_is_refused(project):
    pack = project.pack(project.lap(2))
    revoke_device(project.central, "lap2")
    result = merge_pack(project.central, pack)
    assert not result.ok and "revoked" in result.reason
    cli = anju("device", "revoke", str(project.root / "central.db"), "nobody")
    assert cli.returncode == 2 and "no device named nobody" in cli.stderr


def test_signature_is_checked_not_only_the_checksum(project, tmp_path):
    """A tamperer who recomputes the checksum is still caught by the device signature."""
    data = bytearray(project.pack(project.lap(1)).read_bytes())
    data[len(data) // 2] ^= 0x01
    data[-32:] = hashlib.sha256(bytes(data[:-32])).digest()
    (tmp_path / "t.pack").write_bytes(bytes(data))
    result = merge_pack(project.central, tmp_path / "t.pack")
    assert not result.ok and "signature check failed" in result.reason


def test_pack_made_with_another_key_is_refused(project, tmp_path):
    lap1 = project.lap(1)
    stranger = X25519PrivateKey.generate().public_key()  # not the central registry's key
    writer = PackWriter(tmp_path / "k.pack", project_id=lap1.project_id,
                        device_id=lap1.device_id, signer=enrollment.signing_key(lap1),
                        recipients=[(lap1.meta("central_device_id"), stranger)])
    writer.frame({"t": "meta", "have": {}})
    writer.finish({"project_id": lap1.project_id, "device_id": lap1.device_id,
                   "counts": {"changes": 0, "blobs": 0}})
    result = merge_pack(project.central, tmp_path / "k.pack")
    assert not result.ok and "cannot decrypt" in result.reason


def test_photos_travel_in_packs(project):
    lap1 = project.lap(1)
    photo = b"\xff\xd8\xff\xe0 a small jpeg" * 50
    sha = hashlib.sha256(photo).hexdigest()
    lap1.conn.execute("INSERT INTO blob (sha256, mime, size, data) VALUES (?, ?, ?, ?)",
                      (sha, "image/jpeg", len(photo), photo))
    lap1.save("attachment", None, {"household_id": project.households[0], "field": "photos",
                                   "mime": "image/jpeg", "size": len(photo), "sha256": sha},
              by="li", full=True)
    result = project.merge(project.central, project.pack(lap1))[0]
    assert result.blobs == 1 and "1 new files" in result.line()
    assert bytes(project.central.conn.execute("SELECT data FROM blob WHERE sha256 = ?",
                                              (sha,)).fetchone()[0]) == photo
    project.sync_back()
    assert project.lap(2).conn.execute("SELECT size FROM blob").fetchone()[0] == len(photo)
    # An incremental pack without attachment changes carries no files.
    manifest = export_pack(lap1, project.root / "again.pack")
    assert manifest["counts"]["blobs"] == 0


def test_open_pack_reads_the_manifest_only_after_all_frames(project):
    pack = open_pack(project.central, project.pack(project.lap(1)))
    frames = list(pack.frames())
    assert frames[0]["t"] == "meta" and frames[1]["t"] == "changes"
    m = pack.manifest
    assert m["schema_version"] == SCHEMA_VERSION and m["counts"]["changes"] == 1
    assert m["definition_hash"] == project.central.definition.hash
    assert m["content_hash"] == pack.content_hash


def test_enrolment_file_is_private_and_only_central_enrols(project, tmp_path):
    path = enroll_device(project.central, "lap9", tmp_path / "lap9.enrol")
    assert path.stat().st_mode & 0o077 == 0
    with pytest.raises(StoreError, match="already enrolled"):
        enroll_device(project.central, "lap9", tmp_path / "again.enrol")
    with pytest.raises(StoreError, match="only the central"):
        enroll_device(project.lap(1), "lap10", tmp_path / "x.enrol")
    (tmp_path / "junk.enrol").write_text("{}")
    with pytest.raises(StoreError, match="not an anju enrolment"):
        init_laptop(tmp_path / "junk.db", tmp_path / "junk.enrol")
    assert not (tmp_path / "junk.db").exists()


def test_command_line_round_trip(tmp_path):
    c, l1 = str(tmp_path / "c.db"), str(tmp_path / "l1.db")
    enrol, pack = str(tmp_path / "l1.enrol"), str(tmp_path / "l1.pack")
    assert anju("init", c, "--central", "--project", "示范").returncode == 0
    out = anju("device", "enroll", c, "lap1", "--out", enrol)
    assert out.returncode == 0, out.stderr
    assert anju("init", l1, "--enroll", enrol).returncode == 0
    with Registry.open(l1) as reg:
        reg.save("household", None, {"house_no": "A-1", "zone": "东关", "address": "东关街1号",
                                     "structure": "simple", "owner_name": "李娜"}, by="li",
                 full=True)
        laptop_digest = digest(reg)
    out = anju("export", l1, "--out", pack)
    assert out.returncode == 0 and "1 changes" in out.stdout
    out = anju("merge", c, pack)
    assert out.returncode == 0, out.stderr
    assert "1 new changes, 0 already known, 0 conflicts raised" in out.stdout
    assert anju("digest", c).stdout.strip() == laptop_digest
    again = anju("merge", c, pack)
    assert again.returncode == 0 and "0 new changes, 1 already known" in again.stdout
    missing = anju("merge", c, str(tmp_path / "nope.pack"))
    assert missing.returncode == 1 and "nope.pack: no such file" in missing.stderr


def test_progress_bar_on_a_terminal_only(project):
    import pty
    pack = str(project.pack(project.lap(1)))
    db = str(project.root / "central.db")
    quiet = anju("merge", db, pack)
    assert quiet.returncode == 0 and "merging" not in quiet.stderr
    leader, follower = pty.openpty()
    shown = subprocess.run([sys.executable, "-m", "anju.registry.cli", "merge", db, pack],
                           stdout=subprocess.PIPE, stderr=follower, timeout=300)
    os.close(follower)
    output = os.read(leader, 65536).decode(errors="replace")
    os.close(leader)
    assert shown.returncode == 0 and "merging" in output and "100%" in output
