"""The laptop's backup page and export reminders in chromium, on a real `anju collect`."""

import pytest
from anju.registry.core.store import Registry
from anju.registry.core.users import add_user

from tests.browser.conftest import log_in
from tests.conftest import HOUSEHOLD

pytestmark = pytest.mark.browser


def test_choose_a_usb_folder_back_up_and_be_reminded(live_collector, page, tmp_path):
    db, usb = tmp_path / "laptop.db", tmp_path / "KINGSTON"
    usb.mkdir()
    with Registry.create(db, project="东关棚改", role="laptop", device_name="laptop-01") as reg:
        add_user(reg, "li", "surveyor-pass", "surveyor")
        reg.save("household", None, dict(HOUSEHOLD), by="li", full=True)
        reg.conn.execute("UPDATE change SET received_at = strftime('%Y-%m-%dT%H:%M:%f000Z', "
                         "'now', '-9 hours')")
    base = live_collector(db)
    log_in(page, base, "li", "surveyor-pass")
    banner = page.locator(".banner.safety")
    assert "超过 8 小时没有导出" in banner.inner_text()

    page.click("nav >> text=备份")
    page.fill("input[name=folder]", str(usb / "安居备份"))
    page.select_option("select[name=every]", "15")
    page.click("text=保存设置")
    assert "已保存" in page.inner_text(".flash")
    page.click("text=立即备份")
    assert "已备份" in page.inner_text(".flash")
    table = page.inner_text("table.list")
    assert "手动" in table
    # Saving the folder also started the schedule (its first backup is due at once).
    (manual,) = (usb / "安居备份").glob("*-manual.anju-backup.db")
    assert manual.name in table

    page.click("header >> text=退出")
    reminder = page.locator(".flash.warning")
    assert "1 条修改没有导出" in reminder.inner_text()
    assert all(u.startswith(base) for u in page.seen_urls)
