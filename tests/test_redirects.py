"""The one safe-redirect rule (registry.core.redirects) on every `next`: the web app's login,
the conflict page and the staff site's login, with hostile variants."""

import re

import pytest
from anju.registry.core.redirects import safe_next
from hypothesis import given
from hypothesis import strategies as st

from tests.collector_helpers import csrf, make_app

HOSTILE = [
    "//evil.example/", "///evil.example", "/\\evil.example/", "\\\\evil.example", "/\\/evil",
    "https://evil.example/", "http:evil.example", "javascript:alert(1)", "evil.example",
    "/%2F%2Fevil.example", "/%2fevil.example", "%2F%2Fevil.example", "/%5Cevil.example",
    "/%255Cevil.example", "/%25252F%25252Fevil", "/\t/evil.example", "/\n/evil.example",
    "/%09/evil.example", "/%0D%0ALocation:%20http://evil", " //evil.example", "",
    "data:text/html,x", "/x\\..\\..\\evil", "\u3000//evil.example",
]


@pytest.mark.parametrize("target", HOSTILE)
def test_hostile_targets_fall_back(target):
    assert safe_next(target, "/home") == "/home"


@pytest.mark.parametrize("target", ["/", "/households?q=%E5%BC%A0", "/settings#zones",
                                    "/conflicts?zone=A%2FB", "/x?next=//y"])
def test_local_paths_are_kept(target):
    assert safe_next(target) == target


@given(st.text(max_size=60))
def test_whatever_comes_back_is_a_local_path(text):
    out = safe_next(text, "/")
    assert out == "/" or out == text
    assert out.startswith("/") and not out.startswith("//") and "\\" not in out


def _browser_host(target: str) -> str | None:
    """Where a browser would go: the host of the target resolved against this site."""
    from urllib.parse import urljoin, urlsplit
    return urlsplit(urljoin("http://anju.local/a/", target.replace("\\", "/"))).hostname


@given(st.sampled_from(HOSTILE) | st.text(alphabet="/\\%2fF5cC:.evil\t", max_size=20))
def test_a_browser_never_leaves_the_site(text):
    assert _browser_host(safe_next(text, "/")) == "anju.local"


@pytest.mark.parametrize("target", HOSTILE[:16])
def test_collector_login_never_redirects_off_site(registry, target):
    client = make_app(registry).test_client()
    r = client.post("/login", query_string={"next": target}, data={
        "name": "li", "password": "test-password", "csrf_token": csrf(client)})
    assert r.status_code == 302 and r.headers["Location"] == "/"


async def test_staff_login_never_redirects_off_site(registry):
    from anju.registry.core.users import add_user
    from anju.registry.publication.serve import build_datasette
    add_user(registry, "boss", "boss-long-pass", "supervisor")
    ds = build_datasette(registry.path, staff=True)
    for target in ("/\\evil.example/", "//evil.example", "/%5Cevil.example", "https://evil"):
        page = await ds.client.get("/-/login?next=" + target)
        assert "evil" not in re.search(r'name="next" value="([^"]*)"', page.text).group(1)
        token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
        r = await ds.client.post("/-/login", data={
            "username": "boss", "password": "boss-long-pass", "csrftoken": token,
            "next": target}, cookies={"ds_csrftoken": page.cookies["ds_csrftoken"]})
        assert r.status_code == 302 and r.headers["location"] == "/", target


def test_conflict_page_next_stays_on_the_site(tmp_path):
    """The issue: the conflict page's ?next= was an open redirect."""
    from tests.collector_helpers import login
    from tests.syncing import Project
    p = Project(tmp_path / "p", laptops=2, households=1)
    try:
        hid = p.households[0]
        p.lap(1).save("household", hid, {"owner_phone": "13800000001"}, by="li")
        p.lap(2).save("household", hid, {"owner_phone": "13900000002"}, by="wang")
        p.merge(p.central, p.pack(p.lap(1)), p.pack(p.lap(2)))
        client = make_app(p.central).test_client()
        login(client, "boss")
        url = f"/conflicts/household/{hid}/owner_phone"
        r = client.post(url, query_string={"next": "/\\evil.example/"}, data={
            "choice": "other", "other": "13700000003", "reason": "电话核实",
            "csrf_token": csrf(client, url)})
        assert r.status_code == 302 and r.headers["Location"] == "/conflicts"
    finally:
        p.close()
