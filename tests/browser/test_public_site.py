"""The public and staff Datasette sites as a person uses them: real `anju serve` processes and
headless chromium; no request may leave 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from anju.registry.core.store import Registry
from anju.registry.publication.publish import publish

from tests.browser.conftest import DEMO_PASSWORD, free_port, stop, wait_until_up

pytestmark = pytest.mark.browser


@pytest.fixture
def live_site():
    """A function (db, staff) -> base URL starting `anju serve` (stopped at the end)."""
    processes = []

    def start(db: Path, staff: bool = False) -> str:
        port = free_port()
        cmd = [sys.executable, "-m", "anju.registry.cli", "serve", str(db), "--host", "127.0.0.1",
               "--port", str(port)] + (["--staff"] if staff else [])
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   cwd=Path(__file__).resolve().parents[2])
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/-/versions.json", process)
        return base

    yield start
    for process in processes:
        stop(process)


@pytest.fixture
def public_db(demo_registry):
    out = demo_registry.parent / "public.db"
    with Registry.open(demo_registry) as reg:
        publish(reg, out)
    return out


def test_dashboard_and_lookup(live_site, public_db, page, tmp_path):
    base = live_site(public_db)
    page.goto(base + "/-/progress")
    assert page.locator("h1").inner_text().startswith("征收进度")
    assert page.locator("svg.chart").count() == 4
    assert page.locator(".figure").count() == 6
    page.screenshot(path=str(tmp_path / "progress.png"), full_page=True)

    page.click("nav.anju-nav >> text=查询我家")
    page.fill("#house_no", "A-0002")
    page.click("form.anju-lookup button")
    page.wait_for_load_state()
    card = page.locator(".anju-card")
    assert card.count() == 1
    text = card.inner_text()
    assert "A-0002" in text and "*" in text and "产权人姓名" in text
    assert card.locator(".badge").count() >= 1
    page.screenshot(path=str(tmp_path / "lookup.png"), full_page=True)

    page.click("text=在公示表中查看")
    page.wait_for_load_state()
    assert "A-0002" in page.content()

    page.goto(base + "/public/household")
    page.click(".facet-info[data-column=zone] li >> nth=0 >> a")
    page.wait_for_load_state()
    assert "zone=" in page.url
    assert page.locator("table.rows-and-columns tbody tr").count() == 10
    assert all(u.startswith(base) for u in page.seen_urls), \
        [u for u in page.seen_urls if not u.startswith(base)]


def test_staff_site_asks_for_a_login_first(live_site, demo_registry, page):
    base = live_site(demo_registry, staff=True)
    page.goto(base + "/registry/household")
    assert "/-/login" in page.url and "工作人员登录" in page.content()
    assert page.locator("table.rows-and-columns").count() == 0
    page.fill("#id_username", "supervisor")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state()
    assert page.url.endswith("/registry/household")
    assert page.locator("table.rows-and-columns tbody tr").count() > 10
    page.click("nav.anju-nav >> text=变更记录")
    page.wait_for_load_state()
    assert "最近变更" in page.content()
    assert all(u.startswith(base) for u in page.seen_urls)
