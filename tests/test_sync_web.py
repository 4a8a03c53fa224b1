"""The sync pages: export download, many packs uploaded at once, central pack import, and the
conflict resolution screen the review queue links to."""

from __future__ import annotations

import io

import pytest
from anju.registry.sync.conflicts import open_conflicts

from tests.collector_helpers import csrf, login, make_app
from tests.syncing import Project, fingerprint


@pytest.fixture
def project(tmp_path):
    p = Project(tmp_path / "p", laptops=2, households=1)
    hid = p.households[0]
    p.lap(1).save("household", hid, {"structure": "simple"}, by="li")
    p.lap(2).save("household", hid, {"structure": "brick_wood"}, by="wang")
    yield p
    p.close()


def _upload(client, files, page="/sync"):
    data = {"csrf_token": csrf(client, page),
            "packs": [(io.BytesIO(content), name) for name, content in files]}
    return client.post("/sync/merge", data=data, content_type="multipart/form-data")


def test_central_merges_many_uploaded_packs_with_a_line_each(project):
    client = make_app(project.central).test_client()
    login(client, "boss")
    good1 = project.pack(project.lap(1)).read_bytes()
    good2 = project.pack(project.lap(2)).read_bytes()
    response = _upload(client, [("lap1.pack", good1), ("坏.pack", good1[:300]),
                                ("lap2.pack", good2)])
    assert response.status_code == 200
    html = response.text
    assert "“lap1.pack”已合并（来自 lap1）：新增 1 条修改，0 条本机已有，没有产生冲突" in html
    assert ("“lap2.pack”已合并（来自 lap2）：新增 1 条修改，0 条本机已有，"
            "产生 1 个待解决冲突") in html
    assert "“坏.pack”被拒收：数据包不完整" in html
    assert "共 3 个数据包，合并 2 个" in html
    english = client.post("/sync/merge?lang=en", data={
        "csrf_token": csrf(client, "/sync"), "packs": [(io.BytesIO(good1), "lap1.pack")]},
        content_type="multipart/form-data").text
    assert "lap1.pack: merged from lap1: 0 new changes, 1 already known" in english
    assert len(open_conflicts(project.central)) == 1
    assert "lap2.pack" in client.get("/sync").text  # the packs received table


def test_surveyor_cannot_merge_on_the_central_registry(project):
    client = make_app(project.central).test_client()
    login(client, "li")
    response = _upload(client, [("lap1.pack", project.pack(project.lap(1)).read_bytes())])
    assert response.status_code == 403
    assert client.get("/conflicts").status_code == 403


def test_laptop_exports_its_pack_and_imports_the_central_pack(project):
    client = make_app(project.lap(1)).test_client()
    login(client, "li")
    response = client.post("/sync/export", data={"csrf_token": csrf(client, "/sync")})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    pack = response.data
    assert pack.startswith(b"ANJUPACK") and response.headers["X-Anju-Changes"] == "1"
    (project.root / "web.pack").write_bytes(pack)
    project.merge(project.central, project.root / "web.pack")
    project.send(project.lap(2))
    central_pack = project.pack(project.central).read_bytes()
    response = _upload(client, [("central.pack", central_pack)])
    assert response.status_code == 200 and "已合并（来自 central）" in response.text
    assert fingerprint(project.lap(1)) == fingerprint(project.central)


def test_supervisor_resolves_a_conflict_by_keeping_one_value_or_entering_another(project):
    project.send(project.lap(1))
    project.send(project.lap(2))
    hid = project.households[0]
    client = make_app(project.central).test_client()
    login(client, "boss")
    assert "砖木" in client.get("/conflicts").text and "简易" in client.get("/conflicts").text
    url = f"/conflicts/household/{hid}/structure"
    page = client.get(url)
    assert page.status_code == 200 and "房屋结构" in page.text
    [c] = open_conflicts(project.central)
    keep = next(x for x in c["candidates"] if x["value"] == "simple")
    no_reason = client.post(url, data={"csrf_token": csrf(client, url),
                                       "choice": keep["change_id"], "reason": ""})
    assert no_reason.status_code == 400 and "请填写理由" in no_reason.text
    assert open_conflicts(project.central)
    done = client.post(url, data={"csrf_token": csrf(client, url), "choice": keep["change_id"],
                                  "reason": "现场复核为简易结构"})
    assert done.status_code == 302
    assert open_conflicts(project.central) == []
    assert project.central.get("household", hid)["structure"] == "simple"
    assert project.central.history(hid)[-1]["note"] == "现场复核为简易结构"
    # Another value, on a fresh conflict.
    project.lap(1).save("household", hid, {"floors": 1}, by="li")
    project.lap(2).save("household", hid, {"floors": 2}, by="wang")
    project.send(project.lap(1))
    project.send(project.lap(2))
    url = f"/conflicts/household/{hid}/floors"
    bad = client.post(url, data={"csrf_token": csrf(client, url), "choice": "other",
                                 "other": "99", "reason": "复核"})
    assert bad.status_code == 400 and "不能大于" in bad.text
    client.post(url, data={"csrf_token": csrf(client, url), "choice": "other", "other": "3",
                           "reason": "复核为三层"})
    assert project.central.get("household", hid)["floors"] == 3
    assert client.get(url).status_code == 302  # resolved: back to the list
