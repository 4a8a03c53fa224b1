"""The review queue: decisions that sync through packs, revoked devices, the web pages."""

import pytest
from anju.registry.core.store import Registry, StoreError
from anju.registry.core.users import add_user
from anju.registry.review import checks
from anju.registry.review import decisions as review

from tests.collector_helpers import CSRF_RE, PASSWORD
from tests.collector_helpers import login as login_as


def house(reg, no: str, **values) -> str:
    data = {"house_no": no, "zone": "东关片区A地块", "address": f"东关街{no}号",
            "structure": "brick_concrete", "owner_name": "张伟"}
    data.update(values)
    return reg.save("household", None, data, by="tester", full=True)


@pytest.fixture
def project(tmp_path):
    """A central registry with one enrolled supervisor's laptop (it may record review
    decisions): (central, laptop, tmp_path)."""
    from anju.registry.sync import enrollment
    central = Registry.create(tmp_path / "central.db", project="测试项目", role="central",
                              device_name="central")
    enrollment.enroll_device(central, "laptop1", tmp_path / "laptop1.enrol",
                             capabilities=("survey", "decisions"))
    enrollment.init_laptop(tmp_path / "laptop1.db", tmp_path / "laptop1.enrol")
    laptop = Registry.open(tmp_path / "laptop1.db")
    yield central, laptop, tmp_path
    laptop.close()
    central.close()


def sync(source, target, path):
    """Export what `target` lacks from `source` and merge it into `target`."""
    from anju.registry.sync.merge import merge_packs
    from anju.registry.sync.packs import export_pack
    export_pack(source, path)
    [result] = merge_packs(target, [path])
    return result


def test_decision_syncs_through_packs_and_stays_closed(project):
    central, laptop, tmp = project
    h = house(central, "A-0001", registered_use="residential", actual_use="non_residential")
    assert sync(central, laptop, tmp / "c1.pack").ok
    # The laptop runs the checks itself: the same finding has the same key on both machines.
    [flag] = checks.run_checks(laptop)
    review.decide(laptop, flag.key, "dismissed", "临街门面已按住宅登记，经核实属实", by="sup")
    result = sync(laptop, central, tmp / "l1.pack")
    assert result.ok, result.reason
    # The merge rebuilt the central flags (after_merge) and the decision closes the flag.
    assert central.conn.execute("SELECT flag_key FROM flag").fetchall() == [(flag.key,)]
    assert review.open_items(central, h) == []
    assert central.get("decision", review.decision_id(flag.key))["decision"] == "dismissed"
    # A later merge of other work does not reopen it.
    house(laptop, "A-0002", cert_area=10, surveyed_area=20)
    assert sync(laptop, central, tmp / "l2.pack").ok
    kinds = {i["kind"] for i in review.queue(central)[1]}
    assert kinds == {"area_mismatch"}
    assert checks.summary(central)["use_mismatch"] == {"open": 0, "closed": 1}


def test_concurrent_decisions_become_a_conflict_to_review(project):
    central, laptop, tmp = project
    house(central, "A-0001", cert_area=50, surveyed_area=80)
    [flag] = checks.run_checks(central)
    assert sync(central, laptop, tmp / "c1.pack").ok
    checks.run_checks(laptop)
    review.decide(central, flag.key, "confirmed", "多报面积，已通知整改", by="boss")
    review.decide(laptop, flag.key, "dismissed", "测绘有误", by="sup")
    assert sync(laptop, central, tmp / "l1.pack").ok
    total, items = review.queue(central)
    assert [(i["item"], i["record_type"], i["field"]) for i in items
            if i["item"] == "conflict"] == [("conflict", "decision", "decision"),
                                            ("conflict", "decision", "reason")]
    assert items[0]["households"][0]["house_no"] == "A-0001"


def test_revoked_device_pack_rejected(project):
    from anju.registry.core.digest import digest
    from anju.registry.sync.enrollment import revoke_device
    central, laptop, tmp = project
    house(laptop, "A-0009", registered_use="residential", actual_use="mixed")
    revoke_device(central, "laptop1")
    before = digest(central)
    result = sync(laptop, central, tmp / "l1.pack")
    assert not result.ok and "revoked" in result.reason
    assert digest(central) == before
    assert central.conn.execute("SELECT count(*) FROM household").fetchone()[0] == 0


def test_decide_needs_a_reason_and_a_known_flag(registry):
    house(registry, "A-0001", cert_area=50, surveyed_area=80)
    [flag] = checks.run_checks(registry)
    with pytest.raises(StoreError, match="reason"):
        review.decide(registry, flag.key, "confirmed", " ", by="boss")
    with pytest.raises(StoreError, match="unknown decision"):
        review.decide(registry, flag.key, "ignore", "x", by="boss")
    with pytest.raises(StoreError, match="no flag"):
        review.decide(registry, "0" * 24, "confirmed", "x", by="boss")
    assert registry.conn.execute("SELECT count(*) FROM decision").fetchone()[0] == 0


def test_queue_filters_by_zone_kind_and_cadre(registry):
    house(registry, "A-0001", zone="西门片区", cadre="王芳", cert_area=50, surveyed_area=80)
    house(registry, "A-0002", zone="北街片区", cadre="李强", cert_area=50, surveyed_area=80)
    house(registry, "A-0003", zone="北街片区", cadre="李强", registered_use="residential",
          actual_use="mixed")
    checks.run_checks(registry)
    assert review.queue(registry)[0] == 3
    assert review.queue(registry, zone="北街片区")[0] == 2
    assert review.queue(registry, kind="area_mismatch", cadre="李强")[0] == 1
    assert review.queue(registry, cadre="王芳")[1][0]["households"][0]["house_no"] == "A-0001"
    assert review.queue(registry, kind="conflict")[0] == 0


# -- the web pages ------------------------------------------------------------------------------

@pytest.fixture
def client(registry):
    from anju.collector import create_app
    add_user(registry, "boss", PASSWORD, "supervisor")
    add_user(registry, "li", PASSWORD, "surveyor")
    app = create_app(registry.path, {"TESTING": True, "SECRET_KEY": "test"})
    return app.test_client()


def login(client, name):
    login_as(client, name)


def test_review_page_decides_with_a_reason(client, registry):
    h = house(registry, "A-0001", cert_area=50, surveyed_area=80)
    [flag] = checks.run_checks(registry)
    login(client, "li")
    assert client.get("/review").status_code == 403          # surveyors do not review
    client.get("/logout")
    login(client, "boss")
    page = client.get("/review?kind=area_mismatch").text
    assert "A-0001" in page and "+60.0%" in page
    token = CSRF_RE.search(page).group(1)
    url = f"/review/flags/{flag.key}"
    client.post(url, data={"csrf_token": token, "decision": "confirmed", "reason": ""})
    assert review.open_items(registry, h)                      # no reason: nothing written
    assert client.post(url, data={"decision": "confirmed", "reason": "x"}).status_code == 400
    response = client.post(url, data={"csrf_token": token, "decision": "confirmed",
                                      "reason": "多报面积", "next": "/review"},
                           follow_redirects=True)
    assert "已记录决定" in response.text
    assert review.open_items(registry, h) == []
    assert "多报面积" in client.get("/review?closed=1").text


def test_household_page_shows_open_items(client, registry):
    h = house(registry, "A-0001", registered_use="residential", actual_use="mixed")
    checks.run_checks(registry)
    login(client, "boss")
    page = client.get(f"/households/{h}").text
    assert "待审核事项" in page and "证载用途为住宅" in page


def test_devices_page_enrols_lists_and_revokes(registry, tmp_path):
    from anju.collector import create_app
    from anju.registry.sync import enrollment
    add_user(registry, "root", PASSWORD, "admin")
    client = create_app(registry.path, {"TESTING": True, "SECRET_KEY": "t"}).test_client()
    login(client, "root")
    token = CSRF_RE.search(client.get("/devices").text).group(1)
    response = client.post("/devices/enroll", data={"csrf_token": token, "name": "laptop-07"})
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    (tmp_path / "l7.enrol").write_bytes(response.data)
    enrollment.init_laptop(tmp_path / "l7.db", tmp_path / "l7.enrol")   # a working file
    with Registry.open(tmp_path / "l7.db") as laptop:
        house(laptop, "B-0001")
        assert sync(laptop, registry, tmp_path / "l7.pack").ok
    page = client.get("/devices").text
    assert "laptop-07" in page and "l7.pack" in page
    again = client.post("/devices/enroll", data={"csrf_token": token, "name": "laptop-07"},
                        follow_redirects=True)
    assert "设备“laptop-07”已经登记过" in again.text
    client.post("/devices/laptop-07/revoke", data={"csrf_token": token})   # not confirmed
    assert registry.conn.execute("SELECT revoked_at FROM device WHERE name = 'laptop-07'"
                                 ).fetchone()[0] is None
    client.post("/devices/laptop-07/revoke", data={"csrf_token": token, "confirm": "1"})
    assert registry.conn.execute("SELECT revoked_at FROM device WHERE name = 'laptop-07'"
                                 ).fetchone()[0]
    assert "已吊销" in client.get("/devices").text
