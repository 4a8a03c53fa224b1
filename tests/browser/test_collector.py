"""The surveyor's day in a real browser: headless chromium against a real `anju collect` server."""

import pytest
from anju.registry.core.store import Registry

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

WRONG_ID = "110105194912310021"   # check character should be X
RIGHT_ID = "11010519491231002X"


def household_members(db, house_no):
    with Registry.open(db) as reg:
        (hid,) = reg.conn.execute("SELECT id FROM household WHERE house_no = ?",
                                  (house_no,)).fetchone()
        return hid, reg.children("member", hid)


def test_surveyor_creates_corrects_finds_edits_and_visits(live_collector, demo_registry, page):
    base = live_collector(demo_registry)
    log_in(page, base)
    page.click("text=新增住户 >> nth=0")
    page.fill("#house_no", "T-0001")
    page.fill("#zone", "东关片区A地块")
    page.fill("#address", "东关测试街1号")
    page.select_option("#structure", "brick_concrete")
    page.fill("#owner_name", "张伟")
    # a conditional field appears only when its condition holds
    grade = page.locator(".field:has(#disability_grade)")
    assert grade.is_hidden()
    page.check("input[name=hardship][value=disability]")
    assert grade.is_visible()
    page.uncheck("input[name=hardship][value=disability]")
    assert grade.is_hidden()
    # two members: the first row is there, the second is added in place
    page.fill("#m-0-name", "张伟")
    page.fill("#m-0-id_no", WRONG_ID)
    page.press("#m-0-id_no", "Tab")  # the script flags it at once; the server decides below
    assert page.locator("#m-0-id_no-error").inner_text() == "身份证号校验位错误"
    page.select_option("#m-0-relation", "head")
    page.click("button[value=add_member]")
    page.fill("#m-1-name", "李娜")
    page.fill("#m-1-id_no", "440524188001010014")
    page.select_option("#m-1-relation", "spouse")
    page.click("button[value=save] >> nth=0")
    page.wait_for_load_state()
    error = page.locator("#m-0-id_no-error")
    assert error.is_visible() and error.inner_text() == "身份证号校验位错误"
    assert page.input_value("#m-1-name") == "李娜"          # typed input kept
    assert page.input_value("#m-0-id_no") == WRONG_ID
    page.fill("#m-0-id_no", RIGHT_ID)
    page.click("button[value=save] >> nth=0")
    page.wait_for_url("**/households/*")
    assert "已保存住户 T-0001" in page.inner_text(".flash")
    hid, members = household_members(demo_registry, "T-0001")
    assert sorted(m["name"] for m in members) == ["张伟", "李娜"]

    # reload, find it by search
    page.goto(base + "/households")
    page.fill("input[name=q]", "T-0001")
    page.press("input[name=q]", "Enter")
    page.wait_for_load_state()
    page.click("table.households >> text=T-0001")
    page.wait_for_url(f"**/households/{hid}")

    # edit a member: the same member record is updated
    page.click("a:has-text('编辑')")
    spouse = page.locator(".member-row", has=page.locator("input[value='李娜']"))
    spouse.locator("input[name$='-name']").fill("李丽娜")
    page.click("button[value=save] >> nth=0")
    page.wait_for_url(f"**/households/{hid}")
    assert "李丽娜" in page.inner_text("#members")
    _, after = household_members(demo_registry, "T-0001")
    assert {m["id"] for m in after} == {m["id"] for m in members}
    assert sorted(m["name"] for m in after) == ["张伟", "李丽娜"]

    # remove a member in place (the script), save: the member is tombstoned, not erased
    page.click("a:has-text('编辑')")
    spouse = page.locator(".member-row", has=page.locator("input[value='李丽娜']"))
    spouse.locator("button.remove-member").click()
    assert page.locator("input[value='李丽娜']").count() == 0
    page.click("button[value=save] >> nth=0")
    page.wait_for_url(f"**/households/{hid}")
    assert "李丽娜" not in page.inner_text("#members")
    with Registry.open(demo_registry) as reg:
        removed = [m for m in reg.children("member", hid, deleted=True) if m["deleted"]]
        assert [m["name"] for m in removed] == ["李丽娜"]

    # record a visit from the household page
    page.check(".visit-form input[value=not_home]")
    page.fill(".visit-form textarea[name=note]", "下午再来")
    page.click(".visit-form button.primary")
    page.wait_for_url(f"**/households/{hid}*")
    assert "下午再来" in page.inner_text("#visits")
    assert "不在家" in page.inner_text("#visits")

    # offline: no request left this machine
    assert page.seen_urls and all(u.startswith(base + "/") for u in page.seen_urls), \
        [u for u in page.seen_urls if not u.startswith(base)]


def test_form_works_without_javascript(live_collector, demo_registry, browser):
    base = live_collector(demo_registry)
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1366,
                                                                       "height": 768})
    page = context.new_page()
    try:
        log_in(page, base)
        page.goto(base + "/households/new")
        page.fill("#house_no", "T-0002")
        page.fill("#m-0-name", "王芳")
        page.click("button[value=add_member]")      # a round trip to the server
        page.wait_for_load_state()
        assert page.input_value("#house_no") == "T-0002"
        assert page.input_value("#m-0-name") == "王芳"
        assert page.locator("#m-1-name").count() == 1
        # the conditional field is shown (with its hint) when nothing can hide it
        assert page.locator(".field:has(#disability_grade)").is_visible()
    finally:
        context.close()


def test_location_from_the_browser(live_collector, demo_registry, browser):
    base = live_collector(demo_registry)
    context = browser.new_context(geolocation={"latitude": 36.6512, "longitude": 117.0123},
                                  permissions=["geolocation"])
    page = context.new_page()
    try:
        log_in(page, base)
        page.goto(base + "/households/new")
        page.click("button.geo")
        page.wait_for_function("document.getElementById('location').value !== ''")
        assert page.input_value("#location") == "36.651200,117.012300"
    finally:
        context.close()
