"""Failures a person can act on (issue 14, point 10): a locked, full, read-only or damaged
database and a port in use give a Chinese page or one CLI line with status 2, never a traceback
or an English 500, and leave no partial file.

The attacks of the issue: a write lock held by a long merge turned a save into an English
"500 Internal Server Error" after 30 s; a full disk gave tracebacks and left `x.pack.part`.
"""

import io
import os
import socket
import sqlite3
import subprocess
import sys
import time

import pytest
from anju.collector import create_app
from anju.registry.cli import main
from anju.registry.core.store import Registry
from click.testing import CliRunner

from tests.collector_helpers import FORM, csrf, login, make_app, post_form
from tests.syncing import Project


def _hold_write_lock(path):
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


def _plain_failure(response, words):
    text = response.get_data(as_text=True)
    assert words in text, text[:500]
    assert "Traceback" not in text and "Internal Server Error" not in text


def test_a_save_during_a_long_merge_gets_a_chinese_busy_page(registry):
    app = make_app(registry, BUSY_TIMEOUT_MS=300)
    client = app.test_client()
    login(client)
    token = csrf(client, "/households/new")
    lock = _hold_write_lock(registry.path)
    try:
        start = time.perf_counter()
        r = client.post("/households/new", data={"csrf_token": token, **FORM})
        assert time.perf_counter() - start < 5
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert r.status_code == 503 and r.headers["Retry-After"]
    _plain_failure(r, "数据库正忙")
    assert registry.conn.execute("SELECT count(*) FROM household").fetchone()[0] == 0
    assert post_form(client, FORM).status_code == 302  # and it works once the lock is gone


def test_a_full_disk_gives_a_chinese_page_and_saves_nothing(registry, household):
    app = make_app(registry)
    client = app.test_client()
    login(client)
    token = csrf(client, f"/households/{household}/attachments")
    pages = registry.conn.execute("PRAGMA page_count").fetchone()[0]
    full = create_app(registry.path, {"TESTING": True, "SECRET_KEY": "test",
                                      "SQLITE_PRAGMAS": {"max_page_count": pages}})
    client2 = full.test_client()
    client2.set_cookie("session", client.get_cookie("session").value)
    from PIL import Image
    out = io.BytesIO()
    Image.effect_noise((300, 300), 60).convert("RGB").save(out, "PNG")  # does not compress
    r = client2.post(f"/households/{household}/attachments", content_type="multipart/form-data",
                     data={"csrf_token": token, "field": "photos",
                           "file": [(io.BytesIO(out.getvalue()), "a.png")]})
    assert r.status_code == 507
    _plain_failure(r, "磁盘空间已满")
    assert registry.conn.execute("SELECT count(*) FROM blob").fetchone()[0] == 0


def test_a_read_only_database_gives_a_chinese_page(registry):
    app = make_app(registry)
    client = app.test_client()
    login(client)
    token = csrf(client, "/households/new")
    ro = create_app(registry.path, {"TESTING": True, "SECRET_KEY": "test",
                                    "SQLITE_PRAGMAS": {"query_only": 1}})
    client2 = ro.test_client()
    client2.set_cookie("session", client.get_cookie("session").value)
    assert client2.get("/households").status_code == 200  # reading still works
    r = client2.post("/households/new", data={"csrf_token": token, **FORM})
    assert r.status_code == 503
    _plain_failure(r, "只读")


def test_a_damaged_database_gives_a_chinese_page(registry):
    app = make_app(registry)
    client = app.test_client()
    login(client)
    registry.close()
    for suffix in ("-wal", "-shm"):
        registry.path.with_name(registry.path.name + suffix).unlink(missing_ok=True)
    registry.path.write_bytes(b"this is not a database" * 500)
    r = client.get("/households")
    assert r.status_code == 500
    _plain_failure(r, "数据库文件已损坏")


def test_any_other_error_is_a_chinese_page_without_details(registry):
    app = create_app(registry.path, {"SECRET_KEY": "test"})  # not TESTING: errors are handled
    from anju.collector.auth import public
    app.add_url_rule("/boom", "boom", public(lambda: 1 / 0))
    r = app.test_client().get("/boom")
    assert r.status_code == 500
    _plain_failure(r, "程序出错")
    assert "ZeroDivisionError" not in r.get_data(as_text=True)


# -- the command line --------------------------------------------------------------------------
def _one_line(result, words):
    assert result.exit_code == 2, result.output
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in result.output, lines


def test_cli_waits_for_a_lock_then_says_so(registry):
    lock = _hold_write_lock(registry.path)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "anju.registry.cli", "user", "add", str(registry.path), "li",
             "--role", "surveyor", "--password-stdin"], input="li-long-password\n",
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "ANJU_BUSY_TIMEOUT_MS": "300"})
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert out.returncode == 2 and "数据库正忙" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_cli_export_to_a_full_disk_leaves_no_partial_file(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (Linux)")
    p = Project(tmp_path / "p", laptops=1, households=3)
    try:
        out = tmp_path / "x.pack"
        part = tmp_path / "x.pack.part"
        part.symlink_to("/dev/full")  # every write to it fails: No space left on device
        result = CliRunner().invoke(main, ["export", str(p.lap(1).path), "--out", str(out)])
        _one_line(result, "磁盘空间已满")
        assert not out.exists() and not os.path.lexists(part)
    finally:
        p.close()


def test_cli_on_a_damaged_database(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"\0garbage" * 1000)
    _one_line(CliRunner().invoke(main, ["digest", str(bad)]), "数据库文件已损坏")


@pytest.mark.parametrize("command", ["collect", "serve"])
def test_cli_port_in_use(tmp_path, command):
    reg = Registry.create(tmp_path / "r.db", project="p", role="central", device_name="c")
    target = reg.path
    if command == "serve":
        from anju.registry.publication.publish import publish
        publish(reg, tmp_path / "public.db")
        target = tmp_path / "public.db"
    reg.close()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, [command, str(target), "--port", str(port)])
    _one_line(result, "端口已被占用")


def test_cli_merge_on_a_full_disk_says_so_and_merges_nothing(tmp_path):
    """A real write failure: the merge process may write files of 32 KB at most (RLIMIT_FSIZE)."""
    resource = pytest.importorskip("resource")
    from tests.conftest import HOUSEHOLD
    p = Project(tmp_path / "p", laptops=1, households=0)
    try:
        for i in range(400):
            p.lap(1).save("household", None, {**HOUSEHOLD, "house_no": f"B-{i:04d}"}, by="li",
                          full=True)
        pack = p.pack(p.lap(1))
        db = p.central.path
    finally:
        p.close()

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (32 * 1024, 32 * 1024))
    out = subprocess.run([sys.executable, "-m", "anju.registry.cli", "merge", str(db),
                          str(pack)], capture_output=True, text=True, timeout=120,
                         preexec_fn=small_files)
    assert out.returncode == 2 and "磁盘空间已满" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    with Registry.open(db) as reg:
        assert reg.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert reg.conn.execute("SELECT count(*) FROM household").fetchone()[0] == 0
