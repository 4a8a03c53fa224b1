"""Backups of a laptop database: round trip, rotation, refusals, and consistency under load."""

import datetime as dt
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from anju.registry.core.digest import digest
from anju.registry.core.store import Registry
from anju.registry.core.users import add_user
from anju.registry.field import backup
from anju.registry.field.backup import BackupError, backup_now, list_backups, restore

from tests.conftest import HOUSEHOLD


def anju(*args):
    return subprocess.run([sys.executable, "-m", "anju.registry.cli", *args], capture_output=True,
                          text=True, timeout=120)


def laptop(path, name="笔记本 3"):
    return Registry.create(path, project="测试项目", role="laptop", device_name=name)


def fill(reg, n=5):
    start = reg.conn.execute("SELECT count(*) FROM household").fetchone()[0]
    for i in range(start, start + n):  # house numbers are unique: each call adds new ones
        hid = reg.save("household", None, {**HOUSEHOLD, "house_no": f"A-{i:04d}"}, by="li",
                       full=True)
        reg.save("member", None, {"household_id": hid, "name": "张三", "relation": "head",
                                   "id_no": "11010519491231002X"},
                 by="li")


def test_round_trip_keeps_the_digest(tmp_path):
    usb = tmp_path / "usb"
    usb.mkdir()
    with laptop(tmp_path / "laptop.db") as reg:
        fill(reg)
        before = digest(reg)
        path = backup_now(reg, usb)
    assert path.parent == usb.resolve() and ":" not in path.name
    assert not list(usb.glob("*.part")) and not list(usb.glob("*-wal"))
    restored = tmp_path / "restored.db"
    assert restore(path, restored) is None
    with Registry.open(restored) as reg:
        assert digest(reg) == before
        assert reg.meta("role") == "laptop"


def test_restore_refuses_to_overwrite_without_force_and_saves_the_old_one(tmp_path):
    usb = tmp_path / "usb"
    usb.mkdir()
    db = tmp_path / "laptop.db"
    with laptop(db) as reg:
        fill(reg, 2)
        old = digest(reg)
        path = backup_now(reg, usb)
        fill(reg, 4)  # work after the backup
        newer = digest(reg)
    with pytest.raises(BackupError, match="--force"):
        restore(path, db)
    with Registry.open(db) as reg:
        assert digest(reg) == newer  # untouched
    saved = restore(path, db, force=True)
    with Registry.open(db) as reg:
        assert digest(reg) == old
    with Registry.open(saved) as reg:  # the replaced database is not lost
        assert digest(reg) == newer


def test_restore_refuses_what_is_not_a_sound_anju_database(tmp_path):
    plain = tmp_path / "plain.db"
    sqlite3.connect(plain).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(BackupError, match="not an anju database"):
        restore(plain, tmp_path / "a.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"SQLite format 3\x00" + b"\x07" * 5000)
    with pytest.raises(BackupError):
        restore(junk, tmp_path / "b.db")
    # A damaged page inside an otherwise valid file fails the integrity check.
    with laptop(tmp_path / "l.db") as reg:
        fill(reg, 30)
        good = backup_now(reg, tmp_path)
    data = bytearray(good.read_bytes())
    page = 4096
    for off in range(page * 3, len(data) - page, page):
        data[off + 100: off + 400] = b"\xff" * 300
    bad = tmp_path / "bad.db"
    bad.write_bytes(bytes(data))
    with pytest.raises(BackupError):
        restore(bad, tmp_path / "c.db")
    assert not (tmp_path / "a.db").exists() and not (tmp_path / "c.db").exists()


def test_rotation_keeps_the_last_n_of_each_device(tmp_path):
    usb = tmp_path / "usb"
    usb.mkdir()
    other = laptop(tmp_path / "other.db", name="笔记本 9")
    other_backup = backup_now(other, usb)
    other.close()
    with laptop(tmp_path / "laptop.db") as reg:
        taken = []
        for i in range(5):
            fill(reg, 1) if i else None
            taken.append(backup_now(reg, usb, reason="scheduled", keep=3))
        mine = list_backups(usb, reg.device_id)
    assert [b.path for b in mine] == taken[:-4:-1]  # newest first, the last three
    assert other_backup.exists()  # another laptop's backups on the same stick are kept
    assert all(b.reason == "scheduled" for b in mine)


def test_backup_to_a_missing_folder_is_a_clear_error_and_noted(tmp_path):
    with laptop(tmp_path / "laptop.db") as reg:
        with pytest.raises(BackupError, match="USB"):
            backup_now(reg, tmp_path / "E_drive")
        assert "no such folder" in reg.meta("backup_error")
        backup_now(reg, tmp_path)
        assert reg.meta("backup_error") == ""


def test_names_are_valid_on_windows():
    when = dt.datetime(2026, 11, 27, 9, 5, 1, 123, tzinfo=dt.UTC)
    name = backup.backup_name("0f3c2a9e-aaaa", 'Dell:C\\5 "东关"/*?', "import", when)
    assert not set('<>:"/\\|?*') & set(name)
    assert backup.parse_name(backup.Path(name)).taken_at == when


def test_schedule_is_due_only_with_a_folder_and_new_changes(tmp_path):
    usb = tmp_path / "usb"
    usb.mkdir()
    db = tmp_path / "laptop.db"
    with laptop(db) as reg:
        fill(reg, 1)
        assert backup.scheduled(db) is None  # no folder chosen
        reg.set_meta("backup_dir", str(usb))
        reg.set_meta("backup_every_minutes", "1")
    first = backup.scheduled(db)
    assert first is not None and first.exists()
    assert backup.scheduled(db) is None  # too soon, and nothing new
    with Registry.open(db) as reg:
        fill(reg, 1)
        assert not backup.due(reg.conn)  # new changes, but the interval has not passed
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)
        assert backup.due(reg.conn, at=later)


def test_before_import_backs_up_a_laptop_beside_its_database(tmp_path):
    with laptop(tmp_path / "laptop.db") as reg:
        fill(reg, 1)
        path = backup.before_import(reg)
    assert path.parent == (tmp_path / "backups").resolve() and path.name.endswith(
        "-import" + backup.SUFFIX)


def test_cli_backup_and_restore(tmp_path):
    db, usb = tmp_path / "laptop.db", tmp_path / "usb"
    usb.mkdir()
    with laptop(db) as reg:
        fill(reg, 2)
        before = digest(reg)
    out = anju("backup", str(db), "--to", str(usb))
    assert out.returncode == 0, out.stderr
    (made,) = usb.iterdir()
    refused = anju("restore", str(made), str(db))
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert anju("restore", str(made), str(tmp_path / "new.db")).returncode == 0
    assert anju("digest", str(tmp_path / "new.db")).stdout.strip() == before
    missing = anju("backup", str(db), "--to", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and missing.stderr.startswith("anju: ")


# -- a backup taken while the web app is saving ------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


def consistent(path):
    """Integrity ok, and every record a change touches has its record row."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        pairs = conn.execute("SELECT DISTINCT record_type, record_id FROM change").fetchall()
        for rtype, rid in pairs:
            assert conn.execute(f"SELECT 1 FROM [{rtype}] WHERE id = ?", (rid,)).fetchone(), \
                f"{rtype} {rid} has changes but no row"
        return len(pairs)
    finally:
        conn.close()


def test_backup_while_the_web_app_is_saving_is_consistent(tmp_path):
    """A real `anju collect` process saves household forms while backups are taken."""
    import httpx

    from tests.collector_helpers import CSRF_RE, FORM

    db, usb = tmp_path / "laptop.db", tmp_path / "usb"
    usb.mkdir()
    with laptop(db) as reg:
        add_user(reg, "li", "surveyor-pass", "surveyor")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "anju.registry.cli", "collect", str(db),
                               "--port", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    stop = threading.Event()
    saved, errors = [], []
    try:
        wait_for(f"{base}/login")

        def surveyor():
            # Form posts as a browser sends them: each save is one transaction in the server.
            with httpx.Client(base_url=base, timeout=30) as web:
                token = CSRF_RE.search(web.get("/login").text).group(1)
                web.post("/login", data={"name": "li", "password": "surveyor-pass",
                                         "csrf_token": token})
                i = 0
                while not stop.is_set():
                    token = CSRF_RE.search(web.get("/households/new").text).group(1)
                    answer = web.post("/households/new", data={
                        **FORM, "house_no": f"W-{i:05d}", "csrf_token": token})
                    if answer.status_code != 302:
                        errors.append(answer.text[:500])
                        return
                    saved.append(i)
                    i += 1

        writer = threading.Thread(target=surveyor)
        writer.start()
        counts = []
        deadline = time.monotonic() + 60
        while (len(counts) < 6 or len(saved) < 10) and time.monotonic() < deadline:
            time.sleep(0.2)
            counts.append(consistent(backup_now(db, usb, keep=100)))
        stop.set()
        writer.join(30)
        assert not errors, errors[0]
        assert server.poll() is None  # the web app kept running
    finally:
        stop.set()
        server.terminate()
        server.wait(10)
    assert counts == sorted(counts) and counts[-1] > counts[0]
    assert len(saved) >= 10


def test_merging_a_pack_backs_the_laptop_up_first(tmp_path):
    from anju.registry.sync.enrollment import enroll_device, init_laptop
    from anju.registry.sync.merge import merge_pack
    from anju.registry.sync.packs import export_pack

    usb = tmp_path / "usb"
    usb.mkdir()
    with Registry.create(tmp_path / "central.db", project="测试项目", role="central",
                         device_name="central") as central:
        enroll_device(central, "laptop-1", tmp_path / "l1.json")
        fill(central, 3)
        export_pack(central, tmp_path / "central.pack")
    init_laptop(tmp_path / "l1.db", tmp_path / "l1.json")
    with Registry.open(tmp_path / "l1.db") as reg:
        fill(reg, 1)
        before = digest(reg)
        reg.set_meta("backup_dir", str(usb))
        assert merge_pack(reg, tmp_path / "central.pack").ok
        assert digest(reg) != before
    (taken,) = list_backups(usb)
    assert taken.reason == "import"
    restore(taken.path, tmp_path / "before.db")
    with Registry.open(tmp_path / "before.db") as old:
        assert digest(old) == before  # the state just before the pack went in


def test_restore_refuses_a_database_in_use(tmp_path):
    db = tmp_path / "laptop.db"
    with laptop(db) as reg:
        fill(reg, 1)
        made = backup_now(reg, tmp_path)
        fill(reg, 1)
        before = digest(reg)
        with pytest.raises(BackupError, match="stop `anju collect` first"):
            restore(made, db, force=True)  # `reg` stands for the running web app
        assert digest(reg) == before
