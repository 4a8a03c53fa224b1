"""Shared fixtures for browser tests: a real `anju collect` server, a demo registry, chromium.

    def test_something(live_collector, demo_registry, page):
        base = live_collector(demo_registry)       # starts the server, returns its base URL
        page.goto(base + "/login")
        ...
        assert all(u.startswith(base) for u in page.seen_urls)

Servers run as separate processes on a free port of 127.0.0.1 and are stopped after the test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from anju.registry.field.demo import build_demo

# `make test` finds (or installs) a browser with scripts/browser.py and passes it in ANJU_BROWSER;
# run directly, pytest looks for one the same way.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import browser as _browser_finder  # noqa: E402

CHROMIUM = _browser_finder.find() or "chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
DEMO_PASSWORD = "anju-demo"


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    """Poll `url` until the server answers; fail with its output if it dies or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise RuntimeError(f"server exited with {process.returncode}: {out}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not answer within {timeout} s")


def start_collector(db_path: str | Path, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """Start `anju collect DB` in its own process; return (process, base URL) once it answers."""
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "anju.registry.cli", "collect", str(db_path), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[2])
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/login", process)
    except Exception:
        process.kill()
        process.wait()
        raise
    return process, base


def stop(process: subprocess.Popen) -> None:
    """Stop a server process started by a fixture: terminate, then kill if it lingers."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout:
        process.stdout.close()


@pytest.fixture
def live_collector():
    """A function db_path -> base URL that starts a real collector server (stopped at the end)."""
    processes = []

    def start(db_path: str | Path) -> str:
        process, base = start_collector(db_path)
        processes.append(process)
        return base

    yield start
    for process in processes:
        stop(process)


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo-template"), households=60, devices=2, seed=3)


@pytest.fixture
def demo_registry(_demo_template, tmp_path) -> Path:
    """A fresh copy of a small demo project (60 households; logins admin, supervisor and
    surveyor1, password anju-demo), built once per session."""
    path = tmp_path / "demo" / "registry.db"
    path.parent.mkdir()
    shutil.copyfile(_demo_template, path)
    return path


@pytest.fixture(scope="module")
def browser():
    """Debian's headless chromium driven by Playwright, shared by one module's tests.

    Module scope, not session: Playwright's sync API runs an event loop in the main thread for
    as long as it is open, and the pytest-asyncio tests that come after tests/browser/ cannot
    start theirs while it runs."""
    if not Path(CHROMIUM).exists():
        # A missing browser is a failed set-up, not a pass: `make test` finds or installs one.
        if os.environ.get("ANJU_SKIP_BROWSER") == "1":
            pytest.skip("no Chromium found and ANJU_SKIP_BROWSER=1")
        pytest.fail("no Chromium found: run `make test`, or python scripts/browser.py")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page (1366x768) that records every URL it requests in `page.seen_urls`."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.seen_urls = []
    page.on("request", lambda request: page.seen_urls.append(request.url))
    yield page
    context.close()


def log_in(page, base: str, name: str = "surveyor1", password: str = DEMO_PASSWORD) -> None:
    """Log in through the login form."""
    page.goto(base + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button.primary")
    page.wait_for_load_state()
