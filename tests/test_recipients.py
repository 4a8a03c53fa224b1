"""Packs sealed per recipient (issue 14, item 2): every attack of the issue as a test.

A laptop's pack opens only with the central registry's X25519 key; a central pack only with the
keys of the laptops enrolled and not revoked when it was made; no key a stolen laptop holds
(signing key, encryption key, an old project key) opens anything else. The oracle is the
`cryptography` primitives themselves, applied to the raw bytes of the pack.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import subprocess
import sys
import zlib

import pytest
from anju.registry.core.store import Registry
from anju.registry.sync import enrollment, sealing
from anju.registry.sync.enrollment import enroll_device, init_laptop, revoke_device
from anju.registry.sync.merge import merge_pack
from anju.registry.sync.packs import PackError, export_pack, open_pack
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.syncing import Project, fingerprint


def anju(*args, stdin: str | None = None):
    return subprocess.run([sys.executable, "-m", "anju.registry.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300, input=stdin)


@pytest.fixture
def project(tmp_path):
    p = Project(tmp_path / "p", laptops=2, households=1)
    yield p
    p.close()


def header_of(path) -> dict:
    data = path.read_bytes()
    (hlen,) = struct.unpack(">I", data[9:13])
    return json.loads(data[13:13 + hlen])


def first_frame(path) -> bytes:
    data = path.read_bytes()
    (hlen,) = struct.unpack(">I", data[9:13])
    (length,) = struct.unpack(">I", data[13 + hlen:17 + hlen])
    return data[17 + hlen:17 + hlen + length]


def secrets_of(reg: Registry) -> list[bytes]:
    """Every secret a stolen database holds (the keyring, old project keys included)."""
    return [bytes(r[0]) for r in reg.conn.execute("SELECT value FROM keyring")]


def opens(path, secrets: list[bytes]) -> bool:
    """Whether any of `secrets` opens the pack: as an X25519 key unwrapping any recipient entry,
    or as an AES key decrypting its first frame directly (the old project-key way)."""
    header = header_of(path)
    from anju.registry.sync.packs import wrap_context
    frame = first_frame(path)
    nonce = base64.b64decode(header["nonce"]) + struct.pack(">I", 0)
    for secret in secrets:
        for entry in header["recipients"]:
            if len(secret) == 32 and sealing.unwrap(entry, secret, wrap_context(header)):
                return True
        if len(secret) in (16, 24, 32):
            try:
                AESGCM(secret).decrypt(nonce, frame, None)
                return True
            except InvalidTag:
                pass
    return False


def names_in(reg: Registry, path) -> list[str]:
    ids = [e["device_id"] for e in header_of(path)["recipients"]]
    return sorted(reg.conn.execute("SELECT name FROM device WHERE device_id = ?", (i,)
                                   ).fetchone()[0] for i in ids)


def test_each_device_has_its_own_encryption_key_registered_at_the_central(project, tmp_path):
    keys = {n: enrollment.box_public(r) for n, r in
            {"central": project.central, **project.laptops}.items()}
    assert len(set(keys.values())) == 3
    for name, key in keys.items():
        assert project.central.conn.execute("SELECT box_key FROM device WHERE name = ?",
                                            (name,)).fetchone()[0] == key
    # The enrolment file carries the laptop's own keys, and no project key any more.
    enroll_device(project.central, "lap9", tmp_path / "lap9.enrol")
    data = json.loads((tmp_path / "lap9.enrol").read_text())
    assert "project_key" not in data and data["box_key"]
    assert sealing.public_of(base64.b64decode(data["box_key"])) == project.central.conn.execute(
        "SELECT box_key FROM device WHERE name = 'lap9'").fetchone()[0]


def test_a_laptops_pack_opens_only_with_the_central_key(project):
    lap1, lap2 = project.lap(1), project.lap(2)
    lap1.save("household", project.households[0], {"owner_phone": "13812345678"}, by="li")
    pack = project.pack(lap1)
    assert names_in(project.central, pack) == ["central"]
    # lap2's every secret (its keys, its copy of the old project key if any) opens nothing.
    assert not opens(pack, secrets_of(lap2))
    assert not opens(pack, secrets_of(lap1))  # not even the sender's own keys
    assert opens(pack, [enrollment.box_private(project.central)])
    # Read another laptop's pack with its key: refused, one line, nothing written.
    before = fingerprint(lap2)
    result = merge_pack(lap2, pack)
    assert not result.ok and result.code == "not_recipient"
    assert "not sealed to this device (made for central)" in result.reason
    assert fingerprint(lap2) == before
    assert merge_pack(project.central, pack).ok


def test_a_revoked_laptop_cannot_read_a_later_central_pack(project):
    lap2 = project.lap(2)
    before_revocation = project.pack(project.central)
    revoke_device(project.central, "lap2")
    project.central.save("household", project.households[0], {"owner_phone": "13900000000"},
                         by="admin")
    after = project.pack(project.central)
    assert names_in(project.central, after) == ["lap1"]
    assert not opens(after, secrets_of(lap2))
    state = fingerprint(lap2)
    result = merge_pack(lap2, after)
    assert not result.ok and result.code == "not_recipient"
    assert fingerprint(lap2) == state
    assert "13900000000" not in json.dumps(lap2.get("household", project.households[0]))
    # A pack made while it was enrolled still opens (it was a recipient then).
    assert merge_pack(lap2, before_revocation).ok
    project.merge(project.lap(1), after)


def test_a_new_laptop_does_not_read_packs_made_before_it_was_enrolled(project, tmp_path):
    old = project.pack(project.central)
    enroll_device(project.central, "lap3", tmp_path / "lap3.enrol")
    init_laptop(tmp_path / "lap3.db", tmp_path / "lap3.enrol")
    with Registry.open(tmp_path / "lap3.db") as lap3:
        assert merge_pack(lap3, old).code == "not_recipient"
        assert merge_pack(lap3, project.pack(project.central)).ok


def _rewrite_header(path, out, change) -> None:
    """The pack with its header changed by `change`, checksum recomputed (the signature is
    not: only the device key could make it)."""
    data = path.read_bytes()
    (hlen,) = struct.unpack(">I", data[9:13])
    header = json.loads(data[13:13 + hlen])
    change(header)
    from anju.registry.core.changes import dumps
    raw = dumps(header).encode()
    body = data[:9] + struct.pack(">I", len(raw)) + raw + data[13 + hlen:-32]
    out.write_bytes(body + hashlib.sha256(body).digest())


def test_a_tampered_recipient_list_is_refused(project, tmp_path):
    pack = project.pack(project.lap(1))
    central_id = project.central.device_id
    lap2_id = project.lap(2).device_id

    def add_lap2(h):  # a copy of the central's entry, claimed for lap2
        h["recipients"].append({**h["recipients"][0], "device_id": lap2_id})

    def swap(h):
        h["recipients"][0]["device_id"] = lap2_id

    def drop(h):
        h["recipients"] = []
    before = fingerprint(project.central)
    for name, change in (("add", add_lap2), ("swap", swap), ("drop", drop)):
        _rewrite_header(pack, tmp_path / f"{name}.pack", change)
        result = merge_pack(project.central, tmp_path / f"{name}.pack")
        assert not result.ok and "signature check failed" in result.reason, name
        result = merge_pack(project.lap(2), tmp_path / f"{name}.pack")
        assert not result.ok, name
    assert fingerprint(project.central) == before
    assert central_id in json.dumps(header_of(pack))


def test_a_wrapped_key_copied_into_another_pack_does_not_open_there(project):
    """An entry is bound to its pack's header: the central's entry of one pack grafted into a
    pack signed by the same laptop (the laptop's thief holds its signing key) opens nothing."""
    a = project.pack(project.lap(1))
    entry = header_of(a)["recipients"][0]
    b = project.pack(project.lap(1), full=True)
    from anju.registry.sync.packs import wrap_context
    key = sealing.unwrap(entry, enrollment.box_private(project.central), wrap_context(header_of(b)))
    assert key is None
    assert sealing.unwrap(entry, enrollment.box_private(project.central),
                          wrap_context(header_of(a))) is not None


@pytest.mark.parametrize("fmt, words", [(1, "older anju"), (3, "newer anju")])
def test_a_pack_of_another_format_is_refused(project, tmp_path, fmt, words):
    data = bytearray(project.pack(project.lap(1)).read_bytes())
    data[8] = fmt
    data[-32:] = hashlib.sha256(bytes(data[:-32])).digest()
    (tmp_path / "v.pack").write_bytes(bytes(data))
    before = fingerprint(project.central)
    project.central.close()
    out = anju("merge", project.root / "central.db", tmp_path / "v.pack")
    project.central = Registry.open(project.root / "central.db")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip().count("\n") == 0 and words in out.stderr, out.stderr
    assert fingerprint(project.central) == before


def test_a_truncated_or_foreign_pack_is_refused_and_nothing_is_written(project, tmp_path):
    lap1 = project.lap(1)
    lap1.save("household", project.households[0], {"owner_phone": "13812345678"}, by="li")
    data = project.pack(lap1).read_bytes()
    (tmp_path / "cut.pack").write_bytes(data[: len(data) // 2])
    before = fingerprint(project.central)
    for name in ("cut.pack",):
        result = merge_pack(project.central, tmp_path / name)
        assert not result.ok and "truncated" in result.reason
    assert fingerprint(project.central) == before


def test_replaying_a_central_pack_changes_nothing(project):
    pack = project.pack(project.central)
    lap1 = project.lap(1)
    project.merge(lap1, pack)
    state = fingerprint(lap1)
    again = project.merge(lap1, pack)[0]
    assert again.new == 0 and fingerprint(lap1) == state


def test_revoked_devices_stay_revoked_through_a_replayed_directory(project):
    old = project.pack(project.central)
    revoke_device(project.central, "lap2")
    lap1 = project.lap(1)
    project.merge(lap1, project.pack(project.central))
    project.merge(lap1, old)  # an older directory, without the revocation
    assert lap1.conn.execute("SELECT revoked_at FROM device WHERE name = 'lap2'"
                             ).fetchone()[0] is not None


def test_export_refusals_are_one_line_exit_2(project, tmp_path):
    revoke_device(project.central, "lap2")
    project.central.close()
    db = project.root / "central.db"
    for args, words in ((("--for", "lap2"), "lap2 was revoked"),
                        (("--for", "nobody"), "no laptop named nobody")):
        out = anju("export", db, "--out", tmp_path / "x.pack", *args)
        assert out.returncode == 2 and words in out.stderr and "Traceback" not in out.stderr
        assert out.stderr.count("\n") == 1
        assert not (tmp_path / "x.pack").exists() and not (tmp_path / "x.pack.part").exists()
    out = anju("export", db, "--out", tmp_path / "ok.pack")
    assert out.returncode == 0 and "sealed to lap1" in out.stdout, out.stdout + out.stderr
    project.central = Registry.open(db)


def _make_old(reg: Registry, central: Registry) -> None:
    """Turn an enrolled laptop into one enrolled before this change: no encryption key of its
    own, and none known for the central registry (and the central knows none for it)."""
    reg.conn.execute("DELETE FROM keyring WHERE name = 'box_key'")
    reg.conn.execute("UPDATE device SET box_key = NULL")
    central.conn.execute("UPDATE device SET box_key = NULL WHERE device_id = ?",
                         (reg.device_id,))


def test_a_laptop_enrolled_before_the_upgrade_gets_keys_on_its_first_sync(project):
    lap1 = project.lap(1)
    _make_old(lap1, project.central)
    lap1.save("household", project.households[0], {"owner_phone": "13812345678"}, by="li")
    # It cannot seal to the central yet, and says what to do.
    with pytest.raises(PackError, match="merge a recent central pack first"):
        export_pack(lap1, project.root / "x.pack")
    # The central leaves it out of its packs until it knows the laptop's key, and says so.
    out = project.root / "c1.pack"
    manifest = export_pack(project.central, out)
    assert ("lap1", "no encryption key registered yet") in manifest["left_out"]
    # The laptop learns the central's key from the signed header, though it cannot read it.
    result = merge_pack(lap1, out)
    assert not result.ok and result.code == "not_recipient"
    assert lap1.conn.execute("SELECT box_key FROM device WHERE device_id = ?",
                             (project.central.device_id,)).fetchone()[0]
    # Now it seals to the central, announcing its own new key; the central registers it.
    project.send(lap1)
    assert project.central.conn.execute("SELECT box_key FROM device WHERE name = 'lap1'"
                                        ).fetchone()[0] == enrollment.box_public(lap1)
    back = project.pack(project.central)
    assert "lap1" in names_in(project.central, back)
    project.merge(lap1, back)
    assert fingerprint(lap1) == fingerprint(project.central)


def test_a_known_key_is_never_replaced_by_a_header(project):
    lap1 = project.lap(1)
    genuine = enrollment.box_public(lap1)
    other = sealing.public_of(sealing.new_private())
    assert not enrollment.learn_box_key(project.central, lap1.device_id, other)
    assert project.central.conn.execute("SELECT box_key FROM device WHERE name = 'lap1'"
                                        ).fetchone()[0] == genuine


def test_pack_content_is_not_readable_without_a_recipient_key(project):
    lap1 = project.lap(1)
    lap1.save("household", project.households[0], {"owner_phone": "13812345678"}, by="li")
    data = project.pack(lap1).read_bytes()
    assert b"13812345678" not in data
    for start in range(300, len(data) - 100, 89):
        with pytest.raises(zlib.error):
            zlib.decompress(data[start:])
    pack = open_pack(project.central, project.pack(lap1, full=True))
    assert "13812345678" in "".join(json.dumps(f, ensure_ascii=False) for f in pack.frames())


@pytest.fixture(scope="module")
def sealed(tmp_path_factory):
    """A laptop's pack and the central registry it is sealed to (shared by the variants)."""
    p = Project(tmp_path_factory.mktemp("sealed") / "p", laptops=1, households=1)
    p.lap(1).save("household", p.households[0], {"owner_phone": "13812345678"}, by="li")
    pack = p.pack(p.lap(1))
    yield p, pack, fingerprint(p.central)
    p.close()


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(where=st.floats(0, 1, exclude_max=True), flip=st.integers(1, 255),
       cut=st.booleans(), fix_checksum=st.booleans())
def test_any_altered_or_cut_pack_is_refused_and_writes_nothing(sealed, tmp_path_factory, where,
                                                              flip, cut, fix_checksum):
    """Variants: a byte changed anywhere (header, recipient list, frames, signature; with the
    checksum recomputed or not) or the file cut anywhere: refused, nothing written."""
    project, pack, before = sealed
    data = bytearray(pack.read_bytes())
    at = int(where * (len(data) - 32))
    if cut:
        data = data[:at]
    else:
        data[at] ^= flip
        if fix_checksum:
            data[-32:] = hashlib.sha256(bytes(data[:-32])).digest()
    target = tmp_path_factory.mktemp("v") / "v.pack"
    target.write_bytes(bytes(data))
    result = merge_pack(project.central, target)
    assert not result.ok and result.reason and "\n" not in result.reason
    assert fingerprint(project.central) == before
