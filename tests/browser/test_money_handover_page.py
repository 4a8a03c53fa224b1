"""In a real browser: a handed-over household's page shows the lines settled at handover, and
a two-flat swap signed through the form lists both flats. Screenshots go to the test's tmp dir
(ANJU_SHOTS=DIR keeps them) for a person to look at."""

import os
import sqlite3
from pathlib import Path

import pytest

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def shot(page, tmp_path, name: str) -> None:
    where = Path(os.environ.get("ANJU_SHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(where / f"{name}.png"), full_page=True)


def test_handover_lines_and_a_two_flat_swap(live_collector, demo_registry, page, tmp_path):
    base = live_collector(demo_registry)
    with sqlite3.connect(demo_registry) as conn:
        handed = conn.execute("SELECT household_id FROM handover WHERE deleted IS NULL "
                              "ORDER BY household_id").fetchone()[0]
        valued = conn.execute("SELECT id FROM household WHERE status = 'valued' "
                              "ORDER BY house_no").fetchone()[0]
    log_in(page, base, "supervisor")
    page.goto(f"{base}/households/{handed}#compensation")
    box = page.locator("table.after-handover")
    assert box.is_visible()
    text = box.inner_text()
    assert "按期交房奖励" in text and "临时安置费调整" in text and "协议合计 + 交房后核定" in text
    shot(page, tmp_path, "handover-lines")

    page.goto(f"{base}/compensation/households/{valued}/agreement")
    page.select_option("select[name=mode]", "swap")
    page.select_option("select[name=flat]", "F60")
    page.select_option("select[name=flat2]", "F75")
    page.click("button[value=preview]")
    body = page.inner_text("body")
    assert "安置房价款(抵扣)·60㎡两室一厅(现房)" in body
    assert "安置房价款(抵扣)·75㎡两室两厅(现房)" in body
    assert "按期交房可得" in body
    shot(page, tmp_path, "two-flats-preview")
    page.click("button[value=sign]")
    assert "已记录" in page.inner_text(".flash")
    page.goto(f"{base}/compensation/households/{valued}/notice")
    assert "60㎡两室一厅(现房)、75㎡两室两厅(现房)" in page.inner_text("body")
    shot(page, tmp_path, "two-flats-notice")
    assert all(u.startswith(base) for u in page.seen_urls)
