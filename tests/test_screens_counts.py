"""Counts and times people read: 今日已调查 counts the day's work, the list's tiles never combine
into a filter no household can meet, and every shown time is the project's local time."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from anju.registry.core import localtime
from hypothesis import given
from hypothesis import strategies as st

from tests.collector_helpers import csrf, login, make_app

RAW_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def beijing_today() -> str:
    """The oracle: China keeps UTC+8 all year (no summer time since 1991)."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).date().isoformat()


def add(reg, house_no, **extra):
    return reg.save("household", None, {"house_no": house_no, "zone": "东关片区A地块",
                                         "address": "东关街1号", "structure": "brick_wood",
                                         "owner_name": "张伟", **extra}, by="admin", full=True)


@pytest.fixture
def client(registry):
    c = make_app(registry).test_client()
    login(c)
    return c


def tiles(html: str) -> dict:
    found = re.findall(r'<a class="stat[^"]*" href="([^"]*)">\s*<b>(\d+)</b>([^<]+)</a>', html)
    return {label.strip(): (int(n), href.replace("&amp;", "&")) for href, n, label in found}


def test_status_move_to_surveyed_counts_as_surveyed_today(registry, client):
    hid = add(registry, "A-0001")
    add(registry, "A-0002")
    assert tiles(client.get("/households").text)["今日已调查"][0] == 0
    response = client.post(f"/households/{hid}/status", data={
        "status": "surveyed", "csrf_token": csrf(client, f"/households/{hid}")})
    assert response.status_code == 302
    assert registry.get("household", hid)["survey_date"] == beijing_today()
    figures = tiles(client.get("/households").text)
    assert figures["今日已调查"][0] == 1 and figures["尚未调查"][0] == 1


def test_a_surveying_visit_dates_the_survey(registry, client):
    hid = add(registry, "A-0001")
    url = f"/households/{hid}/visits/new"
    page = client.get(url).text
    assert f'value="{beijing_today()}"' in page  # the form's default date is Beijing's
    client.post(url, data={"csrf_token": csrf(client, url), "visit_date": beijing_today(),
                           "outcome": "surveyed", "note": "", "visit_id": ""})
    row = registry.get("household", hid)
    assert row["status"] == "surveyed" and row["survey_date"] == beijing_today()
    assert tiles(client.get("/households").text)["今日已调查"][0] == 1


def test_tiles_never_combine_into_an_empty_filter(registry, client):
    add(registry, "A-0001")
    add(registry, "A-0002", survey_date=beijing_today(), status="surveyed")
    on_today = tiles(client.get("/households?today=1").text)
    href = on_today["尚未调查"][1]
    assert "status=unsurveyed" in href and "today=1" not in href
    on_unsurveyed = tiles(client.get("/households?status=unsurveyed").text)
    href = on_unsurveyed["今日已调查"][1]
    assert "today=1" in href and "status=unsurveyed" not in href
    # A hand-made URL asking for both gets the explicit status, not an always-empty list.
    both = client.get("/households?today=1&status=unsurveyed").text
    assert "A-0001" in both and "共 1 户" in both


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31)))
def test_local_time_is_beijing_time(moment):
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    expected = (moment + dt.timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    assert localtime.format_local(stamp) == expected
    assert localtime.format_local(moment.replace(tzinfo=dt.UTC)) == expected
    start, end = localtime.day_bounds_utc((moment + dt.timedelta(hours=8)).date())
    assert start <= stamp < end


def test_unreadable_times_are_shown_as_they_are():
    assert localtime.format_local("2026-12-01") == "2026-12-01"
    assert localtime.format_local("garbage") == "garbage"
    assert localtime.format_local(None) == ""
    assert localtime.zone("Not/AZone").utcoffset(dt.datetime(2026, 1, 1)) == dt.timedelta(hours=8)


def test_pages_show_local_times_not_raw_utc(registry, client, tmp_path):
    hid = add(registry, "A-0001")
    registry.set_meta("last_export_at", "2026-12-01T20:30:00.000000Z")
    page = client.get("/households?changed=1").text
    assert "2026-12-02 04:30" in page and not RAW_STAMP.search(page)
    history = client.get(f"/households/{hid}").text
    assert not RAW_STAMP.search(re.sub(r"<[^>]+>", "", history))
    login(client, "boss")
    for path in ("/sync", "/devices", "/review", "/conflicts"):
        html = client.get(path).text
        assert not RAW_STAMP.search(re.sub(r"<[^>]+>", "", html)), path
