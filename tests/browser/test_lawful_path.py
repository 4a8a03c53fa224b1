"""The lawful path in a real browser: a compensation decision prints on A4 portrait pages, and an
objection recorded from the household page appears in the queue and disputes the household."""

import re
import sqlite3

import pytest

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    """The (width, height) in points of each page of a Chromium PDF."""
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    return [(round(float(w)), round(float(h))) for w, h in boxes]


def test_decision_prints_and_an_objection_goes_to_the_queue(live_collector, demo_registry,
                                                            page):
    base = live_collector(demo_registry)
    with sqlite3.connect(demo_registry) as conn:
        hid, did, number = conn.execute(
            "SELECT household_id, id, number FROM compensation_decision WHERE served_on IS NOT "
            "NULL ORDER BY number").fetchone()
        other, house_no = conn.execute("SELECT id, house_no FROM household WHERE status = "
                                       "'published' ORDER BY house_no").fetchone()
    log_in(page, base, "supervisor")
    page.goto(f"{base}/legal/households/{hid}/decision?decision={did}")
    assert "房屋征收补偿决定书" in page.inner_text("h1")
    assert number in page.inner_text(".ref")
    sizes = pdf_pages(page.pdf(prefer_css_page_size=True))
    assert 1 <= len(sizes) <= 2 and all(s == (595, 842) for s in sizes)

    page.goto(f"{base}/households/{other}")
    page.click("#legal summary:has-text('记录异议')")
    page.select_option("#legal select[name=kind]", "record")
    page.fill("#legal input[name=field]", "cert_area")
    page.fill("#legal textarea[name=disputed]", "证载面积与测绘面积不符")
    page.click("#legal form button.primary:has-text('记录异议')")
    assert "异议已记录" in page.inner_text(".flash")
    assert "对调查结果的异议" in page.inner_text("#legal")
    page.goto(f"{base}/legal")
    assert house_no in page.inner_text("#queue")
    assert all(u.startswith(base) for u in page.seen_urls)
