"""Encryption at rest (issue 14, point 1): a stolen laptop or USB stick gives away nothing.

The attack: after a normal sync-back a laptop's database held every member ID of the project in
a plain 0644 SQLite file, and its backups on the stick were the same. These tests read the raw
files as a thief would, and walk the laptop's flows on an encrypted database.
"""

from __future__ import annotations

import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from anju.registry.core import atrest
from anju.registry.core.digest import digest
from anju.registry.core.failures import explain
from anju.registry.core.store import Registry, StoreError
from anju.registry.core.users import add_user, authenticate, set_disabled, set_password
from anju.registry.field.backup import backup_now, list_backups, restore, verify
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.syncing import Project

ID_NO = "11010519491231002X"  # GB 11643 valid: a member ID a thief would look for
NAME = "欧阳修远"
PASSWORD = "correct horse battery"
OTHER = "staple-gun-ribbon-9"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def cheap_kdf(monkeypatch):
    """Test-only scrypt cost (the production default stays N=2^17); no key outlives a test."""
    monkeypatch.setattr(atrest, "KDF", {"n": 2 ** 14, "r": 8, "p": 1})
    atrest.forget_all()
    atrest._FAILED.clear()
    yield
    atrest.forget_all()
    atrest._FAILED.clear()


def anju(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "anju.registry.cli", *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


def save_person(reg: Registry, house_no: str = "E-0001", name: str = NAME,
                id_no: str = ID_NO) -> str:
    hid = reg.save("household", None, {"house_no": house_no, "zone": "东关片区A地块",
                                       "address": "东关街9号", "structure": "brick_concrete",
                                       "owner_name": name}, by="li", full=True)
    reg.save("member", None, {"household_id": hid, "name": name, "relation": "head",
                              "id_no": id_no}, by="li")
    return hid


def secrets_in(path: Path) -> list[str]:
    """What a thief finds in a file's raw bytes: a SQLite header, the ID, the name."""
    raw = path.read_bytes()
    found = []
    if raw.startswith(b"SQLite format 3"):
        found.append("sqlite header")
    for needle in (ID_NO.encode(), NAME.encode("utf-8"), ID_NO.encode("utf-16-le")):
        if needle in raw:
            found.append(repr(needle))
    return found


def encrypted_laptop(tmp_path: Path, households: int = 2) -> tuple[Project, Registry]:
    """A project whose laptop 1 holds the member and is encrypted for account 'li'."""
    project = Project(tmp_path / "p", laptops=1, households=households)
    lap = project.lap(1)
    save_person(lap)
    add_user(lap, "li", PASSWORD, "surveyor")
    path = lap.path
    lap.close()
    atrest.encrypt_file(path, "li", PASSWORD)
    for old in (path.parent / "backups").glob("*"):  # as `anju encrypt --delete-plain-backups`
        old.unlink()
    project.laptops["lap1"] = Registry.open(path)
    return project, project.laptops["lap1"]


# -- the files on disk -----------------------------------------------------------------------------

def test_a_stolen_database_file_shows_no_header_no_id_no_name(tmp_path):
    project, lap = encrypted_laptop(tmp_path)
    save_person(lap, "E-0002")  # written after encryption: its pages sit in the -wal first
    wal = Path(f"{lap.path}-wal")
    assert wal.exists() and wal.stat().st_size > 0
    for path in (lap.path, wal):
        assert secrets_in(path) == [], path
    lap.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert secrets_in(lap.path) == []
    keys = atrest.keys_path(lap.path)
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    dek = next(iter(atrest._KEYS.values()))
    text = keys.read_bytes()
    assert dek not in text and dek.hex().encode() not in text  # no key in plain text on disk
    assert secrets_in(keys) == []
    # The same file, opened as a plain database, is "not a database": nothing to read.
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(lap.path).execute("SELECT * FROM sqlite_master").fetchall()
    project.close()


def test_a_locked_database_does_not_open_and_says_so_in_chinese(tmp_path):
    project, lap = encrypted_laptop(tmp_path)
    project.close()
    atrest.forget_all()
    with pytest.raises(StoreError, match="数据库已加密，尚未解锁"):
        Registry.open(lap.path)
    with pytest.raises(atrest.WrongPassword, match="密码错误"):
        atrest.unlock(lap.path, "wrong password 123")
    with pytest.raises(atrest.WrongPassword):
        atrest.unlock(lap.path, PASSWORD, user="nobody")  # the right password, another name
    with pytest.raises(StoreError):
        Registry.open(lap.path)
    assert atrest.unlock(lap.path, PASSWORD) == "li"
    with Registry.open(lap.path) as reg:
        assert reg.conn.execute("SELECT count(*) FROM member WHERE id_no = ?",
                                (ID_NO,)).fetchone()[0] == 1


def test_a_missing_key_file_is_a_clear_error_not_a_corrupt_database(tmp_path):
    project, lap = encrypted_laptop(tmp_path)
    project.close()
    atrest.keys_path(lap.path).rename(tmp_path / "elsewhere.keys")
    with pytest.raises(StoreError, match="not a usable SQLite database") as refused:
        Registry.open(lap.path)  # the failure page and CLI line: damaged, restore a backup
    from anju.registry.core.failures import CORRUPT
    assert explain(sqlite3.DatabaseError(str(refused.value))) == CORRUPT
    assert secrets_in(lap.path) == []


def test_a_hostile_key_file_is_refused_in_words_not_a_traceback(tmp_path):
    project, lap = encrypted_laptop(tmp_path)
    project.close()
    kid = atrest.read_slots(lap.path)["key_id"]
    good = atrest.keys_path(lap.path).read_bytes()
    junk = [b"", b"{", b"[]", b'{"format": "anju-keys/1", "key_id": 5, "slots": []}',
            atrest.json.dumps({"format": atrest.FORMAT, "key_id": kid, "slots": [1]}).encode(),
            atrest.json.dumps({"format": atrest.FORMAT, "key_id": kid, "slots": [
                {"user": "li", "n": "zz", "salt": "!!", "kdf": "scrypt"}]}).encode(),
            atrest.json.dumps({"format": atrest.FORMAT, "key_id": kid, "slots": [
                {"user": "li", "kdf": "x25519", "epk": "AAAA"}]}).encode()]
    for content in junk:
        atrest.keys_path(lap.path).write_bytes(content)
        atrest.forget_all()
        with pytest.raises(atrest.AtRestError):
            atrest.unlock(lap.path, PASSWORD, user="li")
        with pytest.raises(StoreError):
            Registry.open(lap.path)
    atrest.keys_path(lap.path).write_bytes(good)
    assert atrest.unlock(lap.path, PASSWORD) == "li"


def test_unlock_attempts_back_off_after_five_failures(tmp_path):
    project, lap = encrypted_laptop(tmp_path)
    project.close()
    atrest.forget_all()
    for _ in range(atrest.FREE_UNLOCKS):
        assert atrest.unlock_wait(lap.path) == 0
        with pytest.raises(atrest.WrongPassword):
            atrest.unlock(lap.path, "guess guess guess")
    assert atrest.unlock_wait(lap.path) >= 1


# -- key slots -------------------------------------------------------------------------------------

def slots_by_user(db: Path) -> dict[str, dict]:
    return {s["user"]: s for s in atrest.read_slots(db)["slots"]}


def test_users_added_later_unlock_removed_ones_do_not_and_nothing_is_reencrypted(tmp_path):
    project, lap = encrypted_laptop(tmp_path)
    key_id = atrest.read_slots(lap.path)["key_id"]
    add_user(lap, "wang", OTHER, "supervisor")
    li_slot = slots_by_user(lap.path)["li"]
    assert set(slots_by_user(lap.path)) == {"li", "wang"}
    project.close()
    atrest.forget_all()
    assert atrest.unlock(lap.path, OTHER, user="wang") == "wang"
    reg = Registry.open(lap.path)
    set_password(reg, "wang", "a brand new passphrase")
    # Only wang's slot changed; li's is the very same bytes, the key is the same key.
    assert slots_by_user(lap.path)["li"] == li_slot
    assert atrest.read_slots(lap.path)["key_id"] == key_id
    set_disabled(reg, "li")
    assert set(slots_by_user(lap.path)) == {"wang"}
    with pytest.raises(StoreError, match="最后一个"):
        set_disabled(reg, "wang")  # nobody could open the database again
    reg.close()
    atrest.forget_all()
    for user, password in (("wang", OTHER), ("li", PASSWORD)):
        with pytest.raises(atrest.WrongPassword):
            atrest.unlock(lap.path, password, user=user)
    assert atrest.unlock(lap.path, "a brand new passphrase") == "wang"


def test_a_slot_copied_under_another_users_name_does_not_open(tmp_path):
    project, lap = encrypted_laptop(tmp_path)
    project.close()
    data = atrest.read_slots(lap.path)
    data["slots"][0]["user"] = "mallory"
    atrest.write_slots(lap.path, data)
    atrest.forget_all()
    with pytest.raises(atrest.WrongPassword):
        atrest.unlock(lap.path, PASSWORD, user="mallory")


def test_a_forged_cheap_slot_is_refused():
    dek = b"\x01" * 32
    slot = atrest.make_slot(dek, "li", PASSWORD)
    assert atrest.open_slot(slot, atrest.key_id_of(dek), PASSWORD) == dek
    assert atrest.open_slot({**slot, "n": 2}, atrest.key_id_of(dek), PASSWORD) is None
    assert atrest.open_slot({**slot, "wrapped": "AAAA"}, atrest.key_id_of(dek), PASSWORD) is None


def test_production_kdf_is_not_weakened():
    shipped = subprocess.run([sys.executable, "-c", "from anju.registry.core import atrest; "
                              "print(atrest.KDF['n'], atrest.KDF['r'])"],
                             capture_output=True, text=True, check=True).stdout.split()
    assert int(shipped[0]) >= 2 ** 17 and int(shipped[1]) >= 8  # the tests' cost is theirs only


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(password=st.text(max_size=40), other=st.text(max_size=40),
       user=st.from_regex(r"[\w.\-]{1,12}", fullmatch=True))
def test_any_password_opens_its_own_slot_and_no_other(password, other, user):
    atrest.KDF = {"n": 2 ** 14, "r": 8, "p": 1}
    dek = bytes(range(32))
    slot = atrest.make_slot(dek, user, password)
    kid = atrest.key_id_of(dek)
    assert atrest.open_slot(slot, kid, password) == dek
    if other != password:
        assert atrest.open_slot(slot, kid, other) is None


# -- migration -------------------------------------------------------------------------------------

def test_encrypting_a_plain_laptop_keeps_everything(tmp_path):
    project = Project(tmp_path / "p", laptops=1, households=3)
    lap = project.lap(1)
    save_person(lap)
    add_user(lap, "li", PASSWORD, "surveyor")
    before, path = digest(lap), lap.path
    tables = [r[0] for r in lap.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    counts = {t: lap.conn.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0] for t in tables}
    version = lap.conn.execute("PRAGMA user_version").fetchone()[0]
    lap.close()
    assert secrets_in(path)  # the attack: plain, the ID in the file
    atrest.encrypt_file(path, "li", PASSWORD)
    assert secrets_in(path) == []
    assert not Path(f"{path}-wal").exists() or secrets_in(Path(f"{path}-wal")) == []
    assert not list(path.parent.glob("*.encrypting*")) and not list(path.parent.glob("*.new"))
    atrest.forget_all()
    atrest.unlock(path, PASSWORD)
    with Registry.open(path) as reg:
        assert digest(reg) == before
        assert reg.conn.execute("PRAGMA user_version").fetchone()[0] == version
        assert {t: reg.conn.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0]
                for t in tables} == counts
        assert authenticate(reg, "li", PASSWORD)
    with pytest.raises(atrest.KeyFileError):
        atrest.encrypt_file(path, "li", PASSWORD)  # not twice
    project.close()


# -- the laptop's flows on an encrypted database ---------------------------------------------------

def test_save_export_import_backup_restore_on_an_encrypted_laptop(tmp_path):
    project, lap = encrypted_laptop(tmp_path)
    hid = save_person(lap, "E-0003", id_no="440524188001010014")
    project.send(lap)  # export a pack; the central merges it
    assert project.central.get("household", hid) is not None
    project.central.save("household", None, {"house_no": "C-0009", "zone": "东关片区A地块",
                                             "address": "西街1号", "structure": "brick_concrete",
                                             "owner_name": "李四"}, by="admin", full=True)
    project.sync_back()  # import the central pack (it backs the laptop up first)
    assert digest(lap) == digest(project.central)
    auto = list_backups(Path(lap.path).parent / "backups")
    assert auto and all(secrets_in(b.path) == [] for b in auto)
    usb = tmp_path / "usb"
    usb.mkdir()
    made = backup_now(lap, usb)
    assert secrets_in(made) == [] and atrest.keys_path(made).is_file()
    assert stat.S_IMODE(atrest.keys_path(made).stat().st_mode) == 0o600
    expected = digest(lap)
    project.close()
    # On another laptop (a fresh process): the backup opens only with a user's password.
    atrest.forget_all()
    with pytest.raises(StoreError, match="尚未解锁"):
        verify(made)
    atrest.unlock(made, PASSWORD)
    restored = tmp_path / "restored.db"
    restore(made, restored)
    assert secrets_in(restored) == [] and atrest.keys_path(restored).is_file()
    atrest.forget_all()
    atrest.unlock(restored, PASSWORD)
    with Registry.open(restored) as reg:
        assert digest(reg) == expected
    # Rotation takes a backup's key file with it.
    for _ in range(3):
        atrest.unlock(lap.path, PASSWORD)
        backup_now(lap.path, usb, keep=1)
    assert len(list(usb.glob("*.anju-backup.db"))) == 1
    assert len(list(usb.glob("*.anju-backup.db.keys"))) == 1


def test_encrypted_connections_raise_the_standard_sqlite_errors(tmp_path):
    project, lap = encrypted_laptop(tmp_path)
    with pytest.raises(sqlite3.IntegrityError):
        lap.conn.execute("INSERT INTO meta (key, value) VALUES ('project_id', 'x')")
    with pytest.raises(sqlite3.OperationalError):
        lap.conn.execute("SELECT * FROM no_such_table")
    err = None
    try:
        lap.conn.execute("SELECT nope FROM meta").fetchall()
    except sqlite3.Error as exc:
        err = exc
    assert err is not None and explain(err) is None  # a programming error, not a failure
    project.close()


def test_every_connection_opens_through_store_connect():
    """One function opens SQLite files (registry/core/store.connect): a new sqlite3.connect or
    sqlite_utils.Database(path) elsewhere would skip the encryption."""
    pattern = re.compile(r"sqlite3\.connect\(|sqlcipher3\.|dbapi2\.connect\(|"
                         r"sqlite_utils\.Database\((?!conn\b)")
    allowed = {ROOT / "registry/core/store.py", ROOT / "registry/core/atrest.py"}
    found = [f"{p.relative_to(ROOT)}:{n}" for room in ("registry", "collector", "plugins")
             for p in sorted((ROOT / room).rglob("*.py")) if p not in allowed
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if pattern.search(line)]
    assert found == []


# -- the command line ------------------------------------------------------------------------------

def test_cli_asks_for_the_password_and_refuses_a_wrong_one_in_one_line(tmp_path):
    project, lap = encrypted_laptop(tmp_path)
    expected = digest(lap)
    project.close()
    ok = anju("--password-stdin", "digest", str(lap.path), stdin=PASSWORD + "\n")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == expected
    wrong = anju("--password-stdin", "digest", str(lap.path), stdin="not it at all\n")
    assert wrong.returncode == 2
    assert wrong.stderr.count("\n") == 1 and "密码错误" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    no_tty = anju("digest", str(lap.path), stdin="")
    assert no_tty.returncode == 2 and "--password-stdin" in no_tty.stderr
    as_other = anju("--as", "nobody", "--password-stdin", "digest", str(lap.path),
                    stdin=PASSWORD + "\n")
    assert as_other.returncode == 2 and "Traceback" not in as_other.stderr
    # user add on an encrypted laptop: the first line unlocks, the second is the new password
    added = anju("--password-stdin", "user", "add", str(lap.path), "zhao", "--role",
                 "surveyor", "--password-stdin", stdin=f"{PASSWORD}\n{OTHER}\n")
    assert added.returncode == 0, added.stderr
    assert "zhao" in atrest.users_with_slots(lap.path)
    usb = tmp_path / "usb"
    usb.mkdir()
    backed = anju("--as", "zhao", "--password-stdin", "backup", str(lap.path), "--to",
                  str(usb), stdin=OTHER + "\n")
    assert backed.returncode == 0, backed.stderr
    (made,) = usb.glob("*.anju-backup.db")
    target = tmp_path / "other.db"
    restored = anju("--password-stdin", "restore", str(made), str(target), stdin=PASSWORD + "\n")
    assert restored.returncode == 0, restored.stderr
    again = anju("--password-stdin", "digest", str(target), stdin=PASSWORD + "\n")
    assert again.stdout.strip() == expected


def test_cli_encrypt_migrates_a_plain_laptop_with_production_strength(tmp_path):
    project = Project(tmp_path / "p", laptops=1, households=2)
    lap = project.lap(1)
    save_person(lap)
    add_user(lap, "li", PASSWORD, "surveyor")
    usb = tmp_path / "usb"
    usb.mkdir()
    lap.set_meta("backup_dir", str(usb))
    old = backup_now(lap, usb)
    assert secrets_in(old)  # the attack: the stick's backups were plain too
    before = digest(lap)
    project.close()
    wrong = anju("encrypt", str(lap.path), "--user", "li", "--password-stdin", stdin="nope\n")
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert secrets_in(lap.path)  # nothing done
    out = anju("encrypt", str(lap.path), "--user", "li", "--password-stdin",
               "--delete-plain-backups", stdin=PASSWORD + "\n")
    assert out.returncode == 0, out.stderr
    assert secrets_in(lap.path) == []
    assert not old.exists()
    left = list(usb.glob("*.anju-backup.db"))
    assert left and all(secrets_in(p) == [] for p in left)
    assert atrest.read_slots(lap.path)["slots"][0]["n"] >= 2 ** 17  # the real cost, not ours
    shown = anju("--password-stdin", "digest", str(lap.path), stdin=PASSWORD + "\n")
    assert shown.stdout.strip() == before
    central = anju("encrypt", str(project.central.path), "--user", "li", "--password-stdin",
                   stdin=PASSWORD + "\n")
    assert central.returncode == 2 and "中心库" in central.stderr


# -- the web app -----------------------------------------------------------------------------------

def web_app(path: Path):
    from anju.collector import create_app
    return create_app(path, {"TESTING": True, "SECRET_KEY": "test", "BACKUP_SCHEDULER": False})


def post_login(client, name: str, password: str):
    from tests.collector_helpers import csrf
    return client.post("/login", data={"name": name, "password": password,
                                       "csrf_token": csrf(client)})


def test_the_web_app_opens_the_database_at_the_first_login(tmp_path):
    project, lap = encrypted_laptop(tmp_path)
    add_user(lap, "boss", OTHER, "supervisor")
    atrest.remove_slot(lap.path, "boss")  # an account made before the encryption, say
    hid = lap.conn.execute("SELECT household_id FROM member WHERE id_no = ?",
                           (ID_NO,)).fetchone()[0]
    project.close()
    atrest.forget_all()  # the app starts: no key in memory
    client = web_app(lap.path).test_client()
    page = client.get("/login")
    assert page.status_code == 200 and "已加密" in page.text
    assert client.get(f"/households/{hid}").status_code == 302  # to the login page
    refused = post_login(client, "boss", OTHER)  # no slot yet: cannot be the first
    assert refused.status_code == 401 and "用户名或密码错误" in refused.text
    wrong = post_login(client, "li", "wrong password here")
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    assert not atrest.is_unlocked(lap.path)
    assert post_login(client, "li", PASSWORD).status_code == 302
    shown = client.get(f"/households/{hid}")
    assert shown.status_code == 200 and NAME[0] in shown.text
    # Now open: boss logs in with the database's own account check and gets a slot.
    other = web_app(lap.path).test_client()
    assert post_login(other, "boss", OTHER).status_code == 302
    assert "boss" in atrest.users_with_slots(lap.path)
    atrest.forget_all()  # a restart: an old cookie does not open the locked database
    assert client.get(f"/households/{hid}").status_code == 302
    assert post_login(other, "boss", OTHER).status_code == 302
    assert client.get(f"/households/{hid}").status_code == 200


# -- the central registry's backups ----------------------------------------------------------------

def test_central_backups_are_encrypted_to_the_office_backup_key(tmp_path):
    central = Registry.create(tmp_path / "central.db", project="测试项目", role="central",
                              device_name="central")
    save_person(central)
    expected = digest(central)
    key = tmp_path / "office-backup.key"
    passphrase = "the office safe, shelf 3"
    made_key = anju("backup-key", str(central.path), "--out", str(key), "--password-stdin",
                    stdin=passphrase + "\n")
    assert made_key.returncode == 0, made_key.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in key.read_bytes()
    again = anju("backup-key", str(central.path), "--out", str(key), "--password-stdin",
                 stdin=passphrase + "\n")
    assert again.returncode == 2  # a key is never overwritten
    usb = tmp_path / "usb"
    usb.mkdir()
    made = backup_now(central, usb)
    assert secrets_in(made) == [] and secrets_in(central.path)  # the server's copy stays plain
    assert [s["kdf"] for s in atrest.read_slots(made)["slots"]] == ["x25519"]
    assert atrest._KEYS == {}  # the server does not keep what opens its backups
    assert not list(tmp_path.glob(".*.tmp")) and not list(usb.glob("*.part"))
    central.close()
    with pytest.raises(StoreError, match="尚未解锁"):
        verify(made)
    wrong = anju("--backup-key", str(key), "--password-stdin", "restore", str(made),
                 str(tmp_path / "back.db"), stdin="not the passphrase\n")
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert wrong.stderr.count("\n") == 1
    out = anju("--backup-key", str(key), "--password-stdin", "restore", str(made),
               str(tmp_path / "back.db"), stdin=passphrase + "\n")
    assert out.returncode == 0, out.stderr
    back = tmp_path / "back.db"
    assert back.read_bytes().startswith(b"SQLite format 3")  # a central registry again, plain
    assert not atrest.keys_path(back).exists()
    assert anju("digest", str(back)).stdout.strip() == expected
