"""Scale-out: `anju publish` output served unchanged by two replicas (scripts/run_replicas.py),
one secret, identical answers to a round-robin client."""

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from anju.registry.core.store import Registry
from anju.registry.field.demo import build_demo
from anju.registry.publication.publish import publish

from tests.browser.conftest import free_port, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["/", "/-/progress", "/-/provenance", "/public/household?_sort=house_no",
         "/public/household.json?_shape=array&_size=20", "/public/zone.json?_shape=array",
         "/-/lookup?house_no=A-0001", "/public.json?_shape=array&sql=" + quote(
             "select zone, count(*) as n from household group by zone")]


@pytest.fixture(scope="module")
def public_db(tmp_path_factory):
    directory = tmp_path_factory.mktemp("replicas")
    path = build_demo(directory, households=60, seed=2)
    with Registry.open(path) as reg:
        publish(reg, directory / "public.db")
    return directory / "public.db"


def _two_free_ports() -> int:
    """A port p such that p and p + 1 are both free on 127.0.0.1 right now."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two consecutive free ports")


def _get(url, cookie=None):
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=20) as response:
        return response.status, response.read()


@pytest.mark.slow
def test_two_replicas_answer_a_round_robin_client_alike(public_db):
    from datasette.app import Datasette
    secret = "one-secret-for-every-replica"
    port = _two_free_ports()
    script = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "run_replicas.py"), str(public_db),
         "--replicas", "2", "--port", str(port)], cwd=ROOT,
        env={**os.environ, "DATASETTE_SECRET": secret},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    bases = [f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"]
    try:
        for base in bases:
            wait_until_up(base + "/-/versions.json", script)
        answers: dict[str, set] = {}
        replica = itertools.cycle(bases)
        for path in PAGES * 2:  # round robin: each page is asked of each replica
            status, body = _get(next(replica) + path)
            assert status == 200, path
            answers.setdefault(path, set()).add(body)
        assert all(len(bodies) == 1 for bodies in answers.values()), [
            p for p, b in answers.items() if len(b) > 1]
        # one secret: an actor cookie signed with it is accepted by every replica
        cookie = "ds_actor=" + Datasette(secret=secret).sign({"a": {"id": "probe"}}, "actor")
        for base in bases:
            _, body = _get(base + "/-/actor.json", cookie)
            assert json.loads(body) == {"actor": {"id": "probe"}}
    finally:
        script.send_signal(signal.SIGTERM)
        try:
            script.wait(timeout=20)
        except subprocess.TimeoutExpired:
            script.kill()
            script.wait()
    time.sleep(0.5)
    for base in bases:  # both replicas stopped with the script
        with pytest.raises(OSError):
            _get(base + "/-/versions.json")
