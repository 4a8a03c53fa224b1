"""Drafts that survive: a post refused because the session ended keeps what was typed; after
logging in again the form comes back filled in, and nothing is saved before the surveyor
presses save. (The browser half, localStorage and the leave warning, is in
tests/browser/test_screens.py.)"""

from __future__ import annotations

import html as htmllib
import re

import pytest

from tests.collector_helpers import CSRF_RE, FORM, PASSWORD, csrf, login, make_app, saved_id

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@pytest.fixture
def client(registry):
    client = make_app(registry).test_client()
    login(client)
    return client


def _expire(client) -> None:
    """The session ends (the cookie expired overnight): no login, no CSRF secret."""
    with client.session_transaction() as session:
        session.clear()


def _hidden(html: str) -> dict:
    return {htmllib.unescape(k): htmllib.unescape(v) for k, v in HIDDEN.findall(html)}


def _count(registry, table: str) -> int:
    return registry.conn.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0]


def test_expired_session_keeps_the_household_form_through_a_relogin(client, registry):
    token = csrf(client, "/households/new")
    _expire(client)
    typed = {**FORM, "address": "东关街12号<b>院</b>", "csrf_token": token,
             "household_id": "not-a-uuid"}
    held = client.post("/households/new", data=typed)
    assert held.status_code == 400
    assert "登录已过期" in held.text and "您填写的内容没有丢失" in held.text
    kept = _hidden(held.text)
    assert kept["address"] == "东关街12号<b>院</b>" and "<b>院</b>" not in held.text
    assert kept["m-0-id_no"] == FORM["m-0-id_no"] and kept["_resume_to"] == "/households/new"
    assert kept["csrf_token"] != token  # a fresh token for the new session
    assert _count(registry, "household") == 0

    wrong = client.post("/login/resume", data={**kept, "_login_name": "li",
                                               "_login_password": "nope"})
    assert wrong.status_code == 401 and _hidden(wrong.text)["owner_name"] == "张伟"

    back = client.post("/login/resume", data={**kept, "_login_name": "li",
                                              "_login_password": PASSWORD})
    assert back.status_code == 200
    assert 'value="A-0001"' in back.text and 'value="11010519491231002X"' in back.text
    assert "东关街12号&lt;b&gt;院&lt;/b&gt;" in back.text
    assert _count(registry, "household") == 0  # shown to check, not saved
    fresh = CSRF_RE.search(back.text).group(1)
    form = {k: v for k, v in _hidden(back.text).items() if k != "csrf_token"}
    hid = saved_id(client.post("/households/new", data={**typed, **form, "csrf_token": fresh}))
    assert registry.get("household", hid)["address"] == "东关街12号<b>院</b>"
    page = client.get(f"/households/{hid}").text
    assert 'data-drafts-saved="household:new"' in page  # the browser may forget the draft
    assert 'data-drafts-saved=""' in client.get(f"/households/{hid}").text  # once


def test_expired_session_keeps_an_edit_and_a_visit(client, registry):
    hid = saved_id(client.post("/households/new", data={**FORM, "csrf_token": csrf(
        client, "/households/new")}))
    token = csrf(client, f"/households/{hid}/edit")
    _expire(client)
    held = client.post(f"/households/{hid}/edit", data={**FORM, "owner_name": "张伟伟",
                                                         "csrf_token": token})
    back = client.post("/login/resume", data={**_hidden(held.text), "_login_name": "li",
                                              "_login_password": PASSWORD})
    assert back.status_code == 200 and 'value="张伟伟"' in back.text
    assert registry.get("household", hid)["owner_name"] == "张伟"

    token = csrf(client, f"/households/{hid}/visits/new")
    _expire(client)
    held = client.post(f"/households/{hid}/visits/new", data={
        "csrf_token": token, "visit_date": "2026-11-30", "outcome": "not_home",
        "note": "邻居说周末在家", "visit_id": ""})
    assert held.status_code == 400
    back = client.post("/login/resume", data={**_hidden(held.text), "_login_name": "li",
                                              "_login_password": PASSWORD})
    assert back.status_code == 200
    assert "邻居说周末在家" in back.text and 'value="2026-11-30"' in back.text
    assert re.search(r'value="not_home" checked', back.text)
    assert _count(registry, "visit") == 0


def test_bad_token_while_logged_in_offers_to_continue(client, registry):
    held = client.post("/households/new", data={**FORM, "csrf_token": "forged"})
    assert held.status_code == 400 and "_login_password" not in held.text
    assert "表单已失效" in held.text
    back = client.post("/login/resume", data=_hidden(held.text))
    assert back.status_code == 200 and 'value="A-0001"' in back.text
    assert _count(registry, "household") == 0


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/",
                                    "/no/such/page", "/households/new\r\nX: y"])
def test_resume_goes_nowhere_but_this_apps_forms(client, target):
    token = csrf(client, "/households/new")
    response = client.post("/login/resume", data={"csrf_token": token, "_resume_to": target,
                                                  "house_no": "A-1"})
    assert response.status_code == 200 and "Location" not in response.headers
    assert "evil" not in response.text


def test_pages_have_no_inline_script(client):
    for path in ("/households", "/households/new", "/sync"):
        html = client.get(path).text
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
        assert scripts and all('src="/static/' in attrs and not body.strip()
                               for attrs, body in scripts), path


def test_an_expired_login_or_logout_form_just_starts_over(client):
    token = csrf(client, "/households")
    _expire(client)
    out = client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 302 and out.headers["Location"].endswith("/login")
    held = client.post("/login", data={"csrf_token": "stale", "name": "li",
                                       "password": PASSWORD})
    assert held.status_code == 400 and PASSWORD not in held.text
    back = client.post("/login/resume", data={**_hidden(held.text), "_login_name": "li",
                                              "_login_password": PASSWORD})
    assert back.status_code == 302 and back.headers["Location"] == "/"
