"""The staff site masks IDs, phones and GPS points in the data it serves (HTML, JSON, CSV and
SQL results, the change log's JSON included); full values only for an admin, each view logged."""

import re
import sqlite3
from urllib.parse import quote

import pytest
from anju.registry.core.store import Registry
from anju.registry.field.demo import build_demo
from anju.registry.publication import staffmask
from anju.registry.publication.serve import build_datasette


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = build_demo(tmp_path_factory.mktemp("staffmask"), households=60, seed=5)
    with Registry.open(path) as reg:
        q = reg.conn.execute
        ids = {v for (v,) in q("SELECT owner_id_no FROM household") if v}
        ids |= {v for (v,) in q("SELECT id_no FROM member") if v}
        phones = {v for (v,) in q("SELECT owner_phone FROM household") if v}
        gps = {v for (v,) in q("SELECT location FROM household") if v}
        hid, id_no = q("SELECT id, owner_id_no FROM household WHERE owner_id_no IS NOT NULL "
                       "LIMIT 1").fetchone()
    return {"path": path, "secrets": ids | phones | gps, "ids": ids, "phones": phones,
            "hid": hid, "id_no": id_no}


@pytest.fixture
async def staff(demo):
    ds = build_datasette(demo["path"], staff=True)
    await ds.invoke_startup()
    return ds


def _as(ds, name, role):
    """A staff session of a registry account `name` with `role` (created if missing), opened the
    way the login opens it: a forged Datasette actor cookie logs nobody in."""
    from anju.registry.core.users import add_user, start_session
    with Registry.open(ds.plugin_config("anju")["registry"]) as reg:
        if not reg.conn.execute("SELECT 1 FROM user WHERE name = ?", (name,)).fetchone():
            add_user(reg, name, "a-long-test-password", role)
        return {"anju_staff": start_session(reg, name, "staff")}


def _leaks(text, secrets):
    return [s for s in secrets if s in text]


SQL = ("select owner_id_no, owner_phone, location from household",
       "select owner_id_no from main.household",
       "select substr(owner_id_no, 1, 18) as x from main.household",
       "with h as (select * from main.household) select owner_id_no, owner_phone from h",
       "select id_no from member", "select * from main.member",
       "select fields from change", "select fields from main.change",
       "select candidates from conflict",
       "with household as (select * from main.household) select owner_id_no from household",
       "select sql from temp.sqlite_master", "select * from sqlite_temp_master")


async def test_every_page_and_format_serves_masked_values(staff, demo):
    cookies = _as(staff, "sup", "supervisor")
    paths = ["/registry/household", "/registry/household.json?_shape=array&_size=max",
             "/registry/household.csv?_size=max", "/registry/member.json?_shape=array",
             "/registry/change.json?_shape=array&_size=max", "/registry/change_log.json",
             "/registry/household?_search=&_sort=owner_id_no"]
    paths += [f"/registry.json?_shape=array&sql={quote(sql)}" for sql in SQL]
    paths += [f"/registry.csv?sql={quote(sql)}" for sql in SQL]
    for path in paths:
        r = await staff.client.get(path, cookies=cookies)
        assert r.status_code == 200, (path, r.text[:300])
        assert _leaks(r.text, demo["secrets"]) == [], path
        assert staffmask._TOKEN not in r.text, path  # the masking view cannot be borrowed
    r = await staff.client.get("/registry.json?_shape=array&sql=" + quote(SQL[0]),
                               cookies=cookies)
    shown = [row["owner_id_no"] for row in r.json() if row["owner_id_no"]]
    assert shown and all(re.fullmatch(r"\d{6}\*{8}[\dX]{4}", v) for v in shown)
    assert any(row["owner_phone"] and "****" in row["owner_phone"] for row in r.json())
    r = await staff.client.get("/registry.json?_shape=array&sql=" + quote(SQL[1]),
                               cookies=cookies)
    assert all(row["owner_id_no"] is None for row in r.json())


async def test_full_values_only_for_admins_and_every_view_logged(staff, demo):
    path = f"/-/full/household/{demo['hid']}"
    r = await staff.client.get(path, cookies=_as(staff, "sup", "supervisor"))
    assert r.status_code == 403 and "只有管理员" in r.text
    before = sqlite3.connect(demo["path"]).execute(
        "SELECT count(*) FROM full_view_log").fetchone()[0]
    r = await staff.client.get(path, cookies=_as(staff, "boss", "admin"))
    assert r.status_code == 200 and demo["id_no"] in r.text and "审计日志" in r.text
    conn = sqlite3.connect(demo["path"])
    rows = conn.execute("SELECT actor, record_type, record_id FROM full_view_log").fetchall()
    conn.close()
    assert len(rows) == before + 1 and rows[-1] == ("boss", "household", demo["hid"])
    assert (await staff.client.get("/-/full/user/admin",
                                   cookies=_as(staff, "boss", "admin"))).status_code == 404
    assert (await staff.client.get(path)).status_code in (302, 403)
