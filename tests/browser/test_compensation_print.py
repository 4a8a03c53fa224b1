"""Printing in a real browser: a household's notice on one A4 page, the zone list on landscape A4,
and an agreement signed through the form. Nothing is loaded from outside the app."""

import re
import sqlite3

import pytest

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    """The (width, height) in points of each page of a Chromium PDF."""
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 1
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    return [(round(float(w)), round(float(h))) for w, h in boxes]


def test_notice_and_zone_list_print_on_a4(live_collector, demo_registry, page):
    base = live_collector(demo_registry)
    with sqlite3.connect(demo_registry) as conn:
        hid, zone = conn.execute("SELECT id, zone FROM household WHERE status = 'valued' "
                                 "ORDER BY house_no").fetchone()
    log_in(page, base, "supervisor")
    page.goto(f"{base}/compensation/households/{hid}/notice")
    assert page.locator("table.breakdown").count() == 2  # money and swap estimates
    assert page.locator(".print-tools").is_visible()
    assert pdf_pages(page.pdf(prefer_css_page_size=True)) == [(595, 842)]  # one A4 portrait

    page.goto(f"{base}/compensation/households/{hid}/agreement")
    page.select_option("select[name=mode]", "swap")
    page.click("button[value=preview]")
    assert "试算结果" in page.inner_text("body")
    page.click("button[value=sign]")
    assert "已记录" in page.inner_text(".flash")
    page.goto(f"{base}/compensation/households/{hid}/notice")
    assert "补偿安置协议明细" in page.inner_text("h1")
    assert pdf_pages(page.pdf(prefer_css_page_size=True)) == [(595, 842)]

    page.goto(f"{base}/compensation/zones/{zone}/list")
    assert "分户补偿情况公示表" in page.inner_text("h1")
    sizes = pdf_pages(page.pdf(prefer_css_page_size=True))
    assert sizes and all(s == (842, 595) for s in sizes)  # landscape A4
    assert all(u.startswith(base) for u in page.seen_urls)
