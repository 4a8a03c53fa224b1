"""The household list (search, filters, counts, paging), the household page, status moves and
deletion, through Flask's test client on a real registry file."""

import datetime as dt
import re

import pytest
from anju.registry.core.changes import now
from anju.registry.core.workflow import move

from tests.collector_helpers import csrf, login, make_app


def add(reg, house_no, owner="张伟", zone="东关片区A地块", address="东关街1号", by="admin",
        **extra):
    return reg.save("household", None, {"house_no": house_no, "zone": zone, "address": address,
                                         "structure": "brick_wood", "owner_name": owner, **extra},
                    by=by, full=True)


@pytest.fixture
def app(registry):
    return make_app(registry)


@pytest.fixture
def client(app):
    c = app.test_client()
    login(c)
    return c


def house_numbers(html):
    return re.findall(r'<td><a href="/households/[0-9a-f-]{36}">([^<]+)</a></td>', html)


def test_home_page_is_the_list_and_needs_a_login(app):
    c = app.test_client()
    assert c.get("/households").headers["Location"].startswith("/login")
    login(c)
    assert c.get("/").headers["Location"] == "/households"
    page = c.get("/households")
    assert page.status_code == 200 and "住户列表" in page.text


def test_search_by_house_number_owner_and_address(registry, client):
    add(registry, "A-0001", owner="张伟", address="东关街12号")
    add(registry, "B-0002", owner="欧阳娜娜", address="西门路3号")
    add(registry, "C-0003", owner="李强", address="北街100%号")
    assert house_numbers(client.get("/households?q=b-00").text) == ["B-0002"]
    assert house_numbers(client.get("/households?q=欧阳").text) == ["B-0002"]
    assert house_numbers(client.get("/households?q=东关街").text) == ["A-0001"]
    # LIKE wildcards are taken literally
    assert house_numbers(client.get("/households?q=100%").text) == ["C-0003"]
    assert house_numbers(client.get("/households?q=_").text) == []
    assert house_numbers(client.get("/households").text) == ["A-0001", "B-0002", "C-0003"]


def test_filters_by_zone_status_and_cadre(registry, client):
    a = add(registry, "A-0001", zone="东关片区A地块", cadre="王干部")
    add(registry, "A-0002", zone="西门片区", cadre="赵干部")
    move(registry, a, "surveyed", by="boss")
    assert house_numbers(client.get("/households?zone=西门片区").text) == ["A-0002"]
    assert house_numbers(client.get("/households?status=surveyed").text) == ["A-0001"]
    assert house_numbers(client.get("/households?status=unsurveyed").text) == ["A-0002"]
    assert house_numbers(client.get("/households?cadre=王干部").text) == ["A-0001"]
    page = client.get("/households").text
    assert "<option>西门片区</option>" in page and "<option>赵干部</option>" in page


def test_counts_mine_surveyed_today_not_yet_surveyed(registry, client):
    # "today" is the project's day (Beijing, UTC+8 all year), whatever the test machine's zone
    today = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).date().isoformat()
    add(registry, "A-0001", by="li")
    add(registry, "A-0002", by="li", survey_date=today)
    other = add(registry, "A-0003", by="someone")
    registry.save("visit", None, {"household_id": other, "visit_date": today,
                                  "outcome": "surveyed"}, by="someone", full=True)
    add(registry, "A-0004", by="someone")
    page = client.get("/households").text
    figures = re.findall(r"<b>(\d+)</b>", page)
    assert figures == ["2", "2", "4"]
    assert house_numbers(client.get("/households?mine=1").text) == ["A-0001", "A-0002"]
    assert house_numbers(client.get("/households?today=1").text) == ["A-0002", "A-0003"]


def test_paging(registry, client):
    for i in range(60):
        add(registry, f"P-{i:04d}")
    first = client.get("/households").text
    assert len(house_numbers(first)) == 50 and "第 1 / 2 页" in first
    second = client.get("/households?page=2").text
    assert house_numbers(second) == [f"P-{i:04d}" for i in range(50, 60)]
    assert house_numbers(client.get("/households?page=99").text) == house_numbers(second)
    assert client.get("/households?page=x").status_code == 200
    assert client.get("/households?page=" + "9" * 400).status_code == 200


def test_changed_since_last_export(registry, client):
    a = add(registry, "A-0001")
    b = add(registry, "A-0002")
    add(registry, "A-0003")
    # never exported: everything made on this device counts as changed
    assert len(house_numbers(client.get("/households?changed=1").text)) == 3
    registry.set_meta("last_export_at", now())
    registry.save("household", a, {"address": "新地址1号"}, by="li")
    registry.save("member", None, {"household_id": b, "name": "李四", "id_no":
                                   "11010519491231002X", "relation": "head"}, by="li", full=True)
    assert house_numbers(client.get("/households?changed=1").text) == ["A-0001", "A-0002"]


def test_dossier_shows_fields_members_and_history(registry, client):
    hid = add(registry, "A-0001", owner="张伟", owner_id_no="11010519491231002X")
    registry.save("member", None, {"household_id": hid, "name": "张伟", "id_no":
                                   "11010519491231002X", "relation": "head"}, by="li", full=True)
    registry.save("household", hid, {"address": "东关街99号"}, by="li")
    page = client.get(f"/households/{hid}").text
    assert "东关街99号" in page and "张伟" in page
    assert "110105********002X" in page and "11010519491231002X" not in page  # ID masked
    history = page[page.index('id="history"'):]
    assert '<td class="old">东关街1号</td><td class="new">东关街99号</td>' in history
    assert "li" in history and "admin" in history
    assert client.get("/households/nope").status_code == 404


def test_status_moves_offered_and_enforced(registry, app):
    hid = add(registry, "A-0001")
    surveyor = app.test_client()
    login(surveyor, "li")
    page = surveyor.get(f"/households/{hid}").text
    assert re.findall(r'<button name="status" value="(\w+)">', page) == ["surveyed"]
    token = csrf(surveyor, f"/households/{hid}")
    r = surveyor.post(f"/households/{hid}/status", data={"status": "surveyed",
                                                         "csrf_token": token})
    assert r.status_code == 302 and registry.get("household", hid)["status"] == "surveyed"
    r = surveyor.post(f"/households/{hid}/status", data={"status": "published",
                                                         "csrf_token": token})
    assert r.status_code == 403 and registry.get("household", hid)["status"] == "surveyed"
    boss = app.test_client()
    login(boss, "boss")
    page = boss.get(f"/households/{hid}").text
    # 已公示 follows from a publication round and 异议中 from an objection (registry/legal):
    # neither is a bare button.
    assert re.findall(r'<button name="status" value="(\w+)">', page) == []
    token = csrf(boss, f"/households/{hid}")
    r = boss.post(f"/households/{hid}/status", data={"status": "published2",
                                                     "csrf_token": token}, follow_redirects=True)
    assert "不能从「已登记」改为「published2」" in r.text
    # Signing is never a bare status move: it goes to the agreement form.
    r = boss.post(f"/households/{hid}/status", data={"status": "signed", "csrf_token": token})
    assert r.headers["Location"].endswith(f"/compensation/households/{hid}/agreement")
    assert registry.get("household", hid)["status"] == "surveyed"
    r = boss.post(f"/households/{hid}/status", data={"status": "published",
                                                     "csrf_token": token}, follow_redirects=True)
    assert "公示轮次" in r.text and registry.get("household", hid)["status"] == "surveyed"


def test_only_a_supervisor_deletes_and_only_with_a_reason(registry, app):
    hid = add(registry, "A-0001")
    surveyor = app.test_client()
    login(surveyor, "li")
    token = csrf(surveyor, f"/households/{hid}")
    assert f'action="/households/{hid}/delete"' not in surveyor.get(f"/households/{hid}").text
    r = surveyor.post(f"/households/{hid}/delete", data={"reason": "重复", "csrf_token": token})
    assert r.status_code == 403 and registry.get("household", hid)["deleted"] is None
    boss = app.test_client()
    login(boss, "boss")
    token = csrf(boss, f"/households/{hid}")
    boss.post(f"/households/{hid}/delete", data={"reason": "  ", "csrf_token": token})
    assert registry.get("household", hid)["deleted"] is None
    r = boss.post(f"/households/{hid}/delete", data={"reason": "与A-0009重复登记",
                                                     "csrf_token": token})
    assert r.status_code == 302 and registry.get("household", hid)["deleted"] == "与A-0009重复登记"
    assert house_numbers(boss.get("/households").text) == []
    page = boss.get(f"/households/{hid}").text
    assert "此户已删除" in page and "与A-0009重复登记" in page
    assert registry.changes_of(hid)[-1].by == "boss"
