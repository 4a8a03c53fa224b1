"""Issue 17 in a real browser: readable merge results with a link to a conflict, a draft that
survives a reload and a re-login, the household page on a tablet, and the zone list printed on
landscape A4."""

from __future__ import annotations

import re
import sqlite3

import pytest
from anju.registry.core.store import Registry
from anju.registry.sync.conflicts import open_conflicts

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

TABLET = {"width": 768, "height": 1024}


def _first_household(page, base: str) -> str:
    page.goto(base + "/households")
    page.click("table.households tbody a >> nth=0")
    page.wait_for_load_state()
    return page.url


def test_merge_results_read_as_sentences_with_a_link_to_the_conflict(
        live_collector, demo_registry, _demo_template, page, tmp_path):
    """A laptop's surveyor imports the central pack: Chinese sentences, a rejected file named
    with what to do, and each conflict raised as a link that opens."""
    laptop = tmp_path / "laptop1.db"
    laptop.write_bytes((_demo_template.parent / "devices" / "laptop1.db").read_bytes())
    # The office and the laptop change one phone number differently, neither seeing the other.
    with Registry.open(demo_registry) as central_reg, Registry.open(laptop) as laptop_reg:
        hid, house_no = laptop_reg.conn.execute(
            "SELECT id, house_no FROM household WHERE deleted IS NULL ORDER BY house_no "
            "LIMIT 1").fetchone()
        central_reg.save("household", hid, {"owner_phone": "13900000002"}, by="supervisor")
        laptop_reg.save("household", hid, {"owner_phone": "13900000001"}, by="surveyor1")
    base = live_collector(demo_registry)
    log_in(page, base, "supervisor")
    page.goto(base + "/sync")
    with page.expect_download() as download:
        page.click("text=导出并下载")
    central = tmp_path / "central.pack"
    download.value.save_as(central)
    laptop_base = live_collector(laptop)
    with Registry.open(laptop) as reg:
        before = len(open_conflicts(reg))
        users = [r[0] for r in reg.conn.execute("SELECT name FROM user")]
    user = "surveyor1" if "surveyor1" in users else users[0]
    log_in(page, laptop_base, user)
    (tmp_path / "fake.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a pack")
    page.goto(laptop_base + "/sync")
    page.set_input_files("input[name=packs]", str(tmp_path / "fake.jpg"))
    page.locator("input[name=packs]").locator("xpath=ancestor::form").locator(
        "button").first.click()
    page.wait_for_load_state()
    lines = page.inner_text("ul.pack-results")
    assert "“fake.jpg”被拒收：这不是安居数据包（可能选错了文件）" in lines
    assert "not an anju pack" not in lines
    page.goto(laptop_base + "/sync")
    page.set_input_files("input[name=packs]", str(central))
    page.locator("input[name=packs]").locator("xpath=ancestor::form").locator(
        "button").first.click()
    page.wait_for_load_state()
    lines = page.inner_text("ul.pack-results")
    assert "“central.pack”已合并（来自 central）：新增" in lines and "merged from" not in lines
    with Registry.open(laptop) as reg:
        raised = len(open_conflicts(reg)) - before
    assert raised >= 1 and f"产生 {raised} 个待解决冲突" in lines
    links = page.locator("ul.raised a")
    assert links.count() == raised
    page.locator("ul.raised a", has_text=f"{house_no} · 联系电话").click()
    page.wait_for_load_state()
    box = page.locator("#conflicts")
    assert box.is_visible() and "13900000001" in box.inner_text() \
        and "13900000002" in box.inner_text()
    assert all(u.startswith((base, laptop_base)) for u in page.seen_urls)


def test_draft_survives_a_reload_and_a_relogin(live_collector, demo_registry, page):
    base = live_collector(demo_registry)
    log_in(page, base)
    url = _first_household(page, base)
    page.goto(url + "/visits/new")
    page.check("input[name=outcome][value=not_home]")
    page.fill("textarea[name=note]", "邻居说周末在家，下周六再来")
    page.wait_for_timeout(200)
    # A changed form warns before leaving; the surveyor leaves anyway (a reload).
    dialogs = []

    def answer(dialog):
        dialogs.append(dialog.type)
        dialog.accept()

    page.on("dialog", answer)
    page.reload()
    page.wait_for_load_state()
    assert dialogs == ["beforeunload"]
    # ... and the draft was kept on the laptop: back after the reload
    assert page.input_value("textarea[name=note]") == "邻居说周末在家，下周六再来"
    assert page.is_checked("input[name=outcome][value=not_home]")
    assert page.locator(".draft-notice").is_visible()
    # The session ends (cookie gone) before the surveyor presses save.
    page.context.clear_cookies()
    page.click("text=保存走访")
    page.wait_for_load_state()
    assert "登录已过期" in page.inner_text("main")
    page.fill("input[name=_login_name]", "surveyor1")
    page.fill("input[name=_login_password]", "anju-demo")
    page.click("button.primary")
    page.wait_for_load_state()
    assert page.input_value("textarea[name=note]") == "邻居说周末在家，下周六再来"
    page.click("text=保存走访")
    page.wait_for_load_state()
    assert "已保存走访记录" in page.inner_text("#visits")
    assert "邻居说周末在家" in page.inner_text("#visits")
    # saved: the draft is forgotten, the form is empty again
    page.goto(url + "/visits/new")
    assert page.input_value("textarea[name=note]") == ""
    assert page.locator(".draft-notice").count() == 0
    with sqlite3.connect(demo_registry) as conn:
        assert conn.execute("SELECT count(*) FROM visit WHERE note LIKE '邻居说周末在家%'"
                            ).fetchone()[0] == 1


def test_full_width_digits_become_ordinary_ones_as_typed(live_collector, demo_registry, page):
    base = live_collector(demo_registry)
    log_in(page, base)
    page.goto(base + "/households/new")
    page.fill("input[name=owner_phone]", "")
    page.type("input[name=owner_phone]", "１３８００１３８０００")
    assert page.input_value("input[name=owner_phone]") == "13800138000"


def test_household_page_on_a_tablet(live_collector, demo_registry, browser):
    context = browser.new_context(viewport=TABLET, locale="zh-CN")
    page = context.new_page()
    try:
        base = live_collector(demo_registry)
        log_in(page, base)
        _first_household(page, base)
        form = page.locator("form.visit-form").bounding_box()
        assert form["y"] + form["height"] <= 2 * TABLET["height"], form  # within two screens
        status = page.locator(".dossier-side .card").first.bounding_box()
        assert status["y"] < TABLET["height"]
        radio = page.locator("input[name=outcome]").first.bounding_box()
        assert radio["width"] >= 20 and radio["height"] >= 20, radio
        old = page.locator("table.history td.old").first.bounding_box()
        assert old["width"] >= 80, old  # readable, not one character wide
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= TABLET["width"]  # nothing makes the page scroll sideways
        geo = page.goto(base + "/households/new")
        assert geo.ok
        radio = page.locator("input[type=checkbox]").first.bounding_box()
        assert radio["width"] >= 20
    finally:
        context.close()


def test_zone_list_prints_on_landscape_a4(live_collector, demo_registry, page):
    base = live_collector(demo_registry)
    log_in(page, base, "supervisor")
    page.goto(base + "/compensation")
    link = page.locator("a[href$='/list']").first
    page.goto(base + link.get_attribute("href"))
    page.emulate_media(media="print")
    # A4 landscape at 96 px per inch, 12 mm margins: 297 mm - 24 mm printable width.
    printable = (297 - 24) / 25.4 * 96
    page.set_viewport_size({"width": int(printable), "height": 700})
    table = page.locator("table.posting").bounding_box()
    assert table["width"] <= printable + 1, table
    assert page.evaluate("document.documentElement.scrollWidth") <= printable + 1
    # No cell wraps a short word like 砖混 or a date onto two lines.
    tall = page.evaluate("() => [...document.querySelectorAll('table.posting td.nowrap')]"
                         ".filter(td => td.getClientRects()[0].height > 40).length")
    assert tall == 0
    pdf = page.pdf(prefer_css_page_size=True)
    sizes = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    assert sizes and all(float(w) > float(h) for w, h in sizes), sizes[:3]  # landscape
    assert abs(float(sizes[0][0]) - 841.89) < 2  # A4 long side in points
