"""The review flow: a conflict opened from the queue returns to the queue once resolved, house
numbers on /conflicts open the household, and the household page on a laptop says which field
is in conflict."""

from __future__ import annotations

import html as htmllib
import re

import pytest
from anju.registry.sync.conflicts import open_conflicts

from tests.collector_helpers import csrf, login, make_app
from tests.syncing import Project


@pytest.fixture
def project(tmp_path):
    p = Project(tmp_path / "p", laptops=2, households=1)
    hid = p.households[0]
    p.lap(1).save("household", hid, {"structure": "simple"}, by="li")
    p.lap(2).save("household", hid, {"structure": "brick_wood"}, by="wang")
    p.send(p.lap(1))
    p.send(p.lap(2))
    yield p
    p.close()


def _resolve(client, url: str):
    [c] = open_conflicts(client.application.config["_reg"])
    path = url.split("?")[0]
    return client.post(url, data={"csrf_token": csrf(client, path),
                                  "choice": c["candidates"][0]["change_id"],
                                  "reason": "现场复核"})


def test_resolving_from_the_queue_returns_to_the_queue(project):
    app = make_app(project.central)
    app.config["_reg"] = project.central
    client = app.test_client()
    login(client, "boss")
    queue = client.get("/review?kind=conflict").text
    links = [htmllib.unescape(u) for u in re.findall(r'href="(/conflicts/[^"]+)"', queue)]
    assert links and all("next=" in u for u in links)
    page = client.get(links[0])
    assert page.status_code == 200 and 'href="/review?kind=conflict"' in page.text  # cancel
    done = _resolve(client, links[0])
    assert done.status_code == 302 and done.headers["Location"] == "/review?kind=conflict"
    assert open_conflicts(project.central) == []


@pytest.mark.parametrize("hostile", ["//evil.example/", "https://evil.example/", "javascript:x",
                                     "/\\evil.example"])
def test_resolve_never_returns_to_another_site(project, hostile):
    app = make_app(project.central)
    app.config["_reg"] = project.central
    client = app.test_client()
    login(client, "boss")
    hid = project.households[0]
    done = _resolve(client, f"/conflicts/household/{hid}/structure?next={hostile}")
    assert done.status_code == 302 and done.headers["Location"] == "/conflicts"


def test_house_numbers_on_the_conflicts_page_are_links(project):
    client = make_app(project.central).test_client()
    login(client, "boss")
    hid = project.households[0]
    page = client.get("/conflicts").text
    assert f'<a href="/households/{hid}#conflicts"><b>A-0000</b></a>' in page


def test_household_page_on_a_laptop_shows_the_field_in_conflict(project):
    hid = project.households[0]
    project.merge(project.lap(1), project.pack(project.central))
    assert open_conflicts(project.lap(1))
    client = make_app(project.lap(1)).test_client()
    login(client, "li")
    page = client.get(f"/households/{hid}").text
    box = page[page.index('id="conflicts"'):]
    box = box[:box.index("</section>")]
    assert "房屋结构" in box and "简易" in box and "砖木" in box
    assert "处理冲突" not in box  # surveyors see it; supervisors settle it
    assert re.search(r'<div class="in-conflict"><dt>房屋结构 <a class="badge warn" '
                     r'href="#conflicts">有冲突</a>', page)
    login(client, "boss")
    page = client.get(f"/households/{hid}").text
    assert (f'/conflicts/household/{hid}/structure?next=/households/{hid}'
            in htmllib.unescape(page))
