"""The central office's progress and review pages in a real browser, on a demo registry."""

import os
import shutil

import pytest
from anju.registry.core.store import Registry
from anju.registry.review.checks import run_checks

pytestmark = pytest.mark.browser


def log_in(page, base: str, name: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", "anju-demo")
    page.click("button.primary")
    page.wait_for_load_state()


def keep(page, tmp_path, name: str) -> None:
    """A full-page screenshot; copied to $ANJU_SCREENSHOTS when set, to look at by hand."""
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("ANJU_SCREENSHOTS"):
        shutil.copy(path, os.environ["ANJU_SCREENSHOTS"])
    assert path.stat().st_size > 10_000


def test_progress_and_review_pages(live_collector, demo_registry, page, tmp_path):
    with Registry.open(demo_registry) as reg:
        flags = run_checks(reg)
    assert flags
    base = live_collector(demo_registry)
    log_in(page, base, "supervisor")

    page.goto(base + "/progress")
    assert page.locator("svg").count() >= 4          # server-drawn charts, no script needed
    # hardship progress comes first; the zones' table follows
    assert page.locator(".card table").first.inner_text().startswith("类型")
    assert page.locator(".card table", has_text="东关片区A地块").count() >= 1
    keep(page, tmp_path, "progress.png")

    page.goto(base + "/review")
    items = page.locator("article.review-item.flag")
    first = items.first.inner_text()
    total = items.count()
    keep(page, tmp_path, "review.png")
    form = items.first.locator("form.decide")
    form.locator("select[name=decision]").select_option("dismissed")
    form.locator("input[name=reason]").fill("现场核实无误")
    form.locator("button").click()
    page.wait_for_load_state()
    assert "已记录决定" in page.inner_text("main")
    assert page.locator("article.review-item.flag").first.inner_text() != first or \
        page.locator("article.review-item.flag").count() < total

    page.goto(base + "/review?closed=1")
    assert "现场核实无误" in page.inner_text("main")
    assert all(u.startswith(base) for u in page.seen_urls), "a request left 127.0.0.1"
