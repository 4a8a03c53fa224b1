"""Durability: kill the real server (SIGKILL) during a burst of saves from several threads, then
find every save it acknowledged on disk."""

import http.cookiejar
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
from anju.registry.core.changes import now
from anju.registry.core.store import Registry
from werkzeug.security import generate_password_hash

from tests.browser.conftest import start_collector
from tests.collector_helpers import CSRF_RE

THREADS = 4
KILL_AFTER = 40  # acknowledged saves before the kill


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is the acknowledgement we want to see, not follow


def _client(base):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
    page = opener.open(base + "/login", timeout=10).read().decode()
    token = CSRF_RE.search(page).group(1)
    body = urllib.parse.urlencode({"name": "li", "password": "crash-test", "csrf_token": token})
    try:
        opener.open(base + "/login", body.encode(), timeout=10)
    except urllib.error.HTTPError as exc:
        assert exc.code == 302
    page = opener.open(base + "/households/new", timeout=10).read().decode()
    return opener, CSRF_RE.search(page).group(1)


def _burst(base, worker, acked, lock, stop):
    opener, token = _client(base)
    for i in range(10_000):
        if stop.is_set():
            return
        house_no = f"K{worker}-{i:04d}"
        hid = str(uuid.uuid4())
        body = urllib.parse.urlencode({
            "csrf_token": token, "household_id": hid, "house_no": house_no, "zone": "东关",
            "address": f"东关街{i}号", "structure": "simple", "owner_name": "张伟",
            "m-0-id": "", "m-0-name": "张伟", "m-0-id_no": "11010519491231002X",
            "m-0-relation": "head", "action": "save"}).encode()
        try:
            opener.open(base + "/households/new", body, timeout=10)
        except urllib.error.HTTPError as exc:
            if exc.code == 302 and exc.headers["Location"].endswith(hid):
                with lock:
                    acked.append((hid, house_no))
                continue
            raise
        except OSError:
            return  # the server is gone


@pytest.mark.slow
def test_every_acknowledged_save_survives_sigkill(tmp_path):
    db = tmp_path / "laptop.db"
    reg = Registry.create(db, project="crash", role="central", device_name="laptop")
    reg.conn.execute("INSERT INTO user (name, password_hash, role, created_at) VALUES "
                     "(?, ?, 'surveyor', ?)", ("li", generate_password_hash(
                         "crash-test", method="pbkdf2:sha256:1000"), now()))
    reg.close()
    process, base = start_collector(db)
    acked, lock, stop = [], threading.Lock(), threading.Event()
    errors = []

    def run(worker):
        try:
            _burst(base, worker, acked, lock, stop)
        except Exception as exc:  # reported below; a thread cannot fail the test by itself
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(THREADS)]
    try:
        for th in threads:
            th.start()
        deadline = threading.Event()
        while len(acked) < KILL_AFTER and any(th.is_alive() for th in threads):
            deadline.wait(0.005)
        process.kill()  # SIGKILL mid-burst: no shutdown, no checkpoint
        process.wait()
    finally:
        stop.set()
        for th in threads:
            th.join(timeout=30)
        if process.poll() is None:
            process.kill()
        process.stdout.close()
    assert not errors, errors
    assert len(acked) >= KILL_AFTER
    with Registry.open(db) as reg:
        assert reg.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for hid, house_no in acked:
            row = reg.get("household", hid)
            assert row is not None and row["house_no"] == house_no, house_no
            assert [m["name"] for m in reg.children("member", hid)] == ["张伟"]
        saved = reg.conn.execute("SELECT COUNT(*) FROM household").fetchone()[0]
    assert saved >= len(acked)
