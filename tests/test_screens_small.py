"""The small breakages of issue 17: the sidebar visit form's id, confirmations where the page
scrolls to, a hidden location button staying hidden, the favicon, the backup count, and the
devices page's 有效 badge."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from anju.registry.core.changes import now
from anju.registry.core.store import Registry
from anju.registry.field import backup
from werkzeug.security import generate_password_hash

from tests.collector_helpers import FORM, PASSWORD, csrf, login, make_app, saved_id

STATIC = Path(__file__).resolve().parents[1] / "collector" / "static"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def client(registry):
    c = make_app(registry).test_client()
    login(c)
    return c


def _household(client) -> str:
    return saved_id(client.post("/households/new", data={**FORM, "csrf_token": csrf(
        client, "/households/new")}))


def test_sidebar_visit_form_posted_twice_saves_one_visit(client, registry):
    hid = _household(client)
    page = client.get(f"/households/{hid}").text
    visit_id = re.search(r'name="visit_id" value="([^"]*)"', page).group(1)
    assert UUID.match(visit_id)
    form = {"csrf_token": csrf(client, f"/households/{hid}"), "visit_id": visit_id,
            "visit_date": "2026-11-30", "outcome": "not_home", "note": ""}
    for _ in range(2):
        assert client.post(f"/households/{hid}/visits/new", data=form).status_code == 302
    assert registry.conn.execute("SELECT count(*) FROM visit").fetchone()[0] == 1


def test_confirmations_show_where_the_redirect_scrolls(client):
    hid = _household(client)
    url = f"/households/{hid}/visits/new"
    response = client.post(url, data={"csrf_token": csrf(client, url), "visit_id": "",
                                      "visit_date": "2026-11-30", "outcome": "not_home"})
    assert response.headers["Location"].endswith("#visits")
    page = client.get(response.headers["Location"]).text
    at = page.index("已保存走访记录")
    assert page.rindex('id="visits"', 0, at) > page.index("<main")  # inside the visits box
    assert page.count("已保存走访记录") == 1


def test_location_button_stays_hidden_without_javascript(client):
    page = client.get("/households/new").text
    assert re.search(r'<button type="button" class="geo"[^>]*\bhidden\b', page, re.S)
    css = (STATIC / "anju.css").read_text(encoding="utf-8")
    assert re.search(r"\[hidden\]\s*\{\s*display:\s*none\s*!important", css)


def test_favicon(client):
    page = client.get("/households").text
    assert 'rel="icon" href="/static/favicon.svg"' in page
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert client.get("/static/favicon.svg").data.startswith(b"<svg")


def test_backup_count_includes_the_backup_before_an_import(tmp_path):
    from tests.conftest import HOUSEHOLD
    reg = Registry.create(tmp_path / "laptop.db", project="测试项目", role="laptop",
                          device_name="lap1")
    reg.save("household", None, dict(HOUSEHOLD), by="li", full=True)
    assert backup.before_import(reg) is not None  # beside the database: no folder chosen yet
    client = make_app(reg).test_client()
    login(client)
    page = client.get("/backup").text
    stats = dict((label, n) for n, label in re.findall(
        r'<div class="stat"><b>([^<]*)</b>([^<]+)</div>', page))
    assert stats["份本机备份"] == "1" and stats["上次备份"] != "从未"
    reg.close()


def test_devices_page_shows_the_active_badge_next_to_the_controls(registry):
    app = make_app(registry)
    cheap = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    registry.conn.execute("INSERT INTO user (name, password_hash, role, created_at) VALUES "
                          "(?, ?, 'admin', ?)", ("root", cheap, now()))
    from anju.registry.sync.enrollment import enroll_device
    enroll_device(registry, "laptop-01", Path(registry.path).parent / "l1.enrol")
    client = app.test_client()
    login(client, "root")
    page = client.get("/devices").text
    row = page[page.index("laptop-01"):]
    row = row[:row.index("</tr>")]
    assert "有效" in row and "吊销" in row
