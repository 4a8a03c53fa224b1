"""Logins, roles, CSRF and the language switch, through Flask's test client."""

import pytest
from anju.collector import create_app
from anju.registry.core.users import add_user

from tests.collector_helpers import csrf


@pytest.fixture
def app(registry):
    add_user(registry, "li", "surveyor-pass", "surveyor")
    add_user(registry, "boss", "supervisor-pass", "supervisor")
    return create_app(registry.path, {"TESTING": True, "SECRET_KEY": "test"})


def login(client, name, password):
    return client.post("/login", data={"name": name, "password": password,
                                       "csrf_token": csrf(client)})


def test_pages_need_a_login(app):
    client = app.test_client()
    assert client.get("/").headers["Location"].startswith("/login")
    page = client.get("/login")
    assert page.status_code == 200 and "登录" in page.text


def test_login_and_logout(app):
    client = app.test_client()
    bad = login(client, "li", "wrong")
    assert bad.status_code == 401 and "用户名或密码错误" in bad.text
    ok = login(client, "li", "surveyor-pass")
    assert ok.status_code == 302
    with client.session_transaction() as s:
        # The cookie holds a session token only; the account and role live in the database.
        assert set(s) - {"_permanent", "csrf_token", "_flashes"} == {"sid"} and s.permanent
    assert client.get("/households").status_code == 200
    token = csrf(client, "/login")
    client.post("/logout", data={"csrf_token": token})
    with client.session_transaction() as s:
        assert "sid" not in s
    assert client.get("/households").status_code == 302


def test_login_without_csrf_token_is_refused(app):
    client = app.test_client()
    response = client.post("/login", data={"name": "li", "password": "surveyor-pass"})
    assert response.status_code == 400
    with client.session_transaction() as s:
        assert "sid" not in s


def test_login_never_redirects_off_site(app):
    client = app.test_client()
    token = csrf(client)
    r = client.post("/login?next=//evil.example/", data={"name": "li", "password":
                                                         "surveyor-pass", "csrf_token": token})
    assert r.headers["Location"] == "/"


def test_english_one_click_away(app):
    client = app.test_client()
    assert "Log in" in client.get("/login?lang=en").text
    assert "Log in" in client.get("/login").text  # kept for the session
    assert "登录" in client.get("/login?lang=zh").text
