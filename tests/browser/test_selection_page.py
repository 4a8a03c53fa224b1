"""The selection session (选房) in a real browser on a demo registry: the household called,
the flats that fit it, a choice recorded, and a second browser's stale form refused."""

import os
import shutil

import pytest
from anju.registry.completion import selection as sel
from anju.registry.core import settings as settings_mod
from anju.registry.core.store import Registry

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


def test_a_selection_session_in_two_browsers(live_collector, demo_registry, browser, tmp_path):
    with Registry.open(demo_registry) as reg:
        [order] = sel.orders(reg)
        waiting = [q for q in sel.queue(reg, order) if q["choice"] is None]
        chosen_before = len(sel.choices(reg))
        assert waiting, "the demo leaves households to choose"
        # Every flat type fits every household (the plan's area tolerance), so that a second
        # household, choosing out of turn in another browser, can want the same flat.
        settings_mod.set_value(reg, "flat_area_tolerance", "100")
        first_flat = sel.fitting(reg, waiting[0]["household_id"])[0]["id"]
        rival = waiting[1]
    base = live_collector(demo_registry)
    pages = []
    for _ in range(2):
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
        page = context.new_page()
        page.seen_urls = []
        page.on("request", lambda r, p=page: p.seen_urls.append(r.url))
        log_in(page, base, "supervisor")
        page.goto(base + "/selection")
        page.click("#batches a")
        page.wait_for_load_state()
        pages.append(page)
    one, two = pages
    now = one.inner_text("#now h2")
    assert f"第{waiting[0]['position']}号" in now and waiting[0]["house_no"] in now
    assert one.locator("tr.current").count() == 1
    keep(one, tmp_path, "selection-session.png")
    # The second browser serves another household, out of turn, and picks the same flat at
    # the same time; the first confirms, then the second.
    two.goto(base + f"/selection/orders/{order['id']}?household={rival['household_id']}")
    two.fill("input[name=out_of_turn]", "第一位在另一窗口选房")
    for p in pages:
        p.locator(f".flat-option input[value='{first_flat}']").check()
    one.click("#now button.primary")
    one.wait_for_load_state()
    assert "已登记选房" in one.inner_text("main")
    two.click("#now button.primary")
    two.wait_for_load_state()
    assert "已被选定" in two.inner_text("main")
    keep(two, tmp_path, "selection-refused.png")
    with Registry.open(demo_registry) as reg:
        assert len(sel.choices(reg)) == chosen_before + 1
    one.goto(base + "/selection/flats")
    assert "已选" in one.inner_text("#list")
    keep(one, tmp_path, "selection-flats.png")
    for p in pages:
        assert all(u.startswith(base) for u in p.seen_urls), "a request left 127.0.0.1"
        p.context.close()
