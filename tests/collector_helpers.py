"""Helpers for the collector's test-client tests: an app on a registry, logins, CSRF tokens."""

from __future__ import annotations

import re

from anju.collector import create_app
from anju.registry.core.changes import now
from werkzeug.security import generate_password_hash

PASSWORD = "test-password"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
# A valid household as its form posts it (one member row, the head).
FORM = {
    "house_no": "A-0001", "zone": "东关片区A地块", "address": "东关街12号",
    "structure": "brick_concrete", "owner_name": "张伟", "action": "save",
    "m-0-id": "", "m-0-name": "张伟", "m-0-id_no": "11010519491231002X", "m-0-relation": "head",
}


def make_app(registry, **config):
    """The whole web app on `registry`, with a surveyor 'li' and a supervisor 'boss'."""
    # A cheap hash keeps the tests fast; logins check it the same way (werkzeug's format).
    cheap = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    registry.conn.executemany("INSERT INTO user (name, password_hash, role, created_at) VALUES "
                              "(?, ?, ?, ?)", [("li", cheap, "surveyor", now()),
                                               ("boss", cheap, "supervisor", now())])
    return create_app(registry.path, {"TESTING": True, "SECRET_KEY": "test", **config})


def csrf(client, path: str = "/login") -> str:
    """A CSRF token from a page's form."""
    return CSRF_RE.search(client.get(path).text).group(1)


def login(client, name: str = "li", password: str = PASSWORD) -> None:
    """Log the test client in."""
    response = client.post("/login", data={"name": name, "password": password,
                                           "csrf_token": csrf(client)})
    assert response.status_code == 302, response.text


def post_form(client, data: dict, path: str = "/households/new"):
    """Post a household form with a fresh CSRF token."""
    return client.post(path, data={"csrf_token": csrf(client, "/households/new"), **data})


def saved_id(response) -> str:
    """The household id a successful save redirected to."""
    assert response.status_code == 302, response.text[:2000]
    return response.headers["Location"].rsplit("/", 1)[-1]


def errors_of(html: str) -> dict[str, str]:
    """Inline errors of a rendered form: {input name: message}."""
    return dict(re.findall(r'<div class="field-error" id="([^"]+)-error" role="alert">([^<]+)<',
                           html))
