"""Scopes and recipients on the central registry's pages: the devices page shows and sets a
laptop's scope (admin only), the sync page exports a pack for one scoped laptop."""

from __future__ import annotations

import json

from anju.registry.core.changes import now
from anju.registry.sync.merge import merge_pack
from werkzeug.security import generate_password_hash

from tests.collector_helpers import PASSWORD, csrf, login, make_app
from tests.test_scopes import Zoned


def _admin(reg) -> None:
    reg.conn.execute("INSERT INTO user (name, password_hash, role, created_at) VALUES "
                     "(?, ?, 'admin', ?)",
                     ("wang", generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"),
                      now()))


def test_devices_page_sets_a_scope_and_the_sync_page_exports_for_it(tmp_path):
    z = Zoned(tmp_path / "z")
    try:
        app = make_app(z.central)
        _admin(z.central)
        client = app.test_client()
        login(client, "wang")
        page = client.get("/devices").text
        assert "数据范围" in page and "片区 东区" in page and "全项目" in page
        token = csrf(client, "/devices")
        response = client.post("/devices/east/scope", data={"csrf_token": token,
                                                            "zone": ["西区", "南区"]})
        assert response.status_code == 302
        page = client.get("/devices").text
        assert "设备 east 的数据范围已改为：片区 南区、西区" in page
        assert json.loads(z.central.conn.execute(
            "SELECT scope FROM device WHERE name = 'east'").fetchone()[0])["zones"] == [
                "南区", "西区"]
        # An unknown zone: a Chinese sentence, nothing changed.
        client.post("/devices/east/scope", data={"csrf_token": csrf(client, "/devices"),
                                                 "team": ["九组"]})
        assert "未能修改数据范围" in client.get("/devices").text
        # The sync page offers a pack for east alone; it opens on east and carries its scope.
        sync = client.get("/sync").text
        assert '<option value="east">east（片区 南区、西区）</option>' in sync
        response = client.post("/sync/export", data={"csrf_token": csrf(client, "/sync"),
                                                      "for": "east"})
        assert response.status_code == 200
        pack = tmp_path / "east.pack"
        pack.write_bytes(response.data)
        assert merge_pack(z.laptops["east"], pack).ok
        assert z.held("east") == z.in_zones({"西区", "南区"})
        assert not merge_pack(z.laptops["west"], pack).ok
        # A revoked or unknown laptop: a Chinese sentence, no download.
        response = client.post("/sync/export", data={"csrf_token": csrf(client, "/sync"),
                                                      "for": "nobody"}, follow_redirects=True)
        assert "导出失败：所选笔记本不存在" in response.text
    finally:
        z.close()


def test_a_supervisor_sees_scopes_but_cannot_set_them(tmp_path):
    z = Zoned(tmp_path / "z", per_zone=1)
    try:
        client = make_app(z.central).test_client()
        login(client, "boss")
        page = client.get("/devices").text
        assert "片区 东区" in page and "保存范围" not in page
        response = client.post("/devices/east/scope", data={"csrf_token": csrf(client, "/devices"),
                                                            "zone": ["西区"]})
        assert response.status_code == 403
        assert json.loads(z.central.conn.execute(
            "SELECT scope FROM device WHERE name = 'east'").fetchone()[0])["zones"] == ["东区"]
    finally:
        z.close()
