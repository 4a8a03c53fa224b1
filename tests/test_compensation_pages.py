"""The compensation pages on a small demo project: every household's printable notice and
breakdown render, zone lists show masked names only, agreements are recorded from the web."""

import datetime as dt
import html
import io
import re

import pytest
from anju.collector import create_app
from anju.registry.compensation import agreements as ag
from anju.registry.core.store import Registry
from anju.registry.field.demo import build_demo
from anju.registry.publication.privacy import mask_name
from openpyxl import load_workbook

from tests.collector_helpers import CSRF_RE
from tests.collector_helpers import login as login_as


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A demo project of 48 households (every status, six zones), built once for this module."""
    return build_demo(tmp_path_factory.mktemp("demo"), households=48, seed=7)


@pytest.fixture
def app(demo):
    return create_app(demo, {"TESTING": True, "SECRET_KEY": "test"})


def login(client, name="admin"):
    login_as(client, name, "anju-demo")


def token(page: str) -> str:
    return CSRF_RE.search(page).group(1)


def households(demo) -> list[dict]:
    with Registry.open(demo) as reg:
        cur = reg.conn.execute("SELECT id, house_no, zone, owner_name, status FROM household "
                               "WHERE deleted IS NULL ORDER BY house_no")
        return [dict(zip(("id", "house_no", "zone", "owner_name", "status"), r)) for r in cur]


def test_every_household_page_and_notice_renders(app, demo):
    client = app.test_client()
    login(client)
    rows = households(demo)
    assert len({r["status"] for r in rows}) >= 5
    with Registry.open(demo) as reg:
        signed = dict(reg.conn.execute("SELECT household_id, number FROM agreement"))
    assert signed  # the demo signs agreements for households past 已签约
    for h in rows:
        page = client.get(f"/households/{h['id']}")
        assert page.status_code == 200, h
        assert 'id="compensation"' in page.text
        notice = client.get(f"/compensation/households/{h['id']}/notice")
        assert notice.status_code == 200, h
        assert h["house_no"] in notice.text and "被征收人(签字)" in notice.text
        assert "http://" not in notice.text and "https://" not in notice.text  # offline
        if h["status"] == "unsurveyed":  # no areas yet: said, not guessed
            assert "资料不全" in notice.text
        elif h["id"] in signed:  # the agreement's frozen breakdown, not a new estimate
            assert "房屋征收补偿安置协议明细" in notice.text and signed[h["id"]] in notice.text
        else:
            # Each estimate's settlement says who pays whom, in figures and in 大写.
            assert "应支付被征收人 人民币" in notice.text and "结算" in notice.text
        assert client.get(f"/compensation/households/{h['id']}/agreement").status_code == 200


def test_zone_lists_show_masked_names_only(app, demo):
    client = app.test_client()
    login(client, "supervisor")
    rows = households(demo)
    zones = sorted({r["zone"] for r in rows})
    assert len(zones) == 6
    book = load_workbook(io.BytesIO(client.get("/compensation/lists.xlsx").data))
    cells = " ".join(str(c.value) for sheet in book for row in sheet.iter_rows() for c in row
                     if c.value is not None)
    for zone in zones:
        page = client.get(f"/compensation/zones/{zone}/list")
        assert page.status_code == 200
        for h in rows:
            assert h["owner_name"] not in page.text and h["owner_name"] not in cells
            if h["zone"] == zone:
                assert f"<td>{mask_name(h['owner_name'])}</td>" in page.text
                assert h["house_no"] in page.text
        one = load_workbook(io.BytesIO(client.get(f"/compensation/lists.xlsx?zone={zone}")
                                       .data))
        assert len(one.sheetnames) == 1
    assert len(book.sheetnames) == 6
    assert client.get("/compensation/zones/nowhere/list").status_code == 404


def test_record_an_agreement_from_the_web_then_amend_it(app, demo):
    client = app.test_client()
    login(client, "supervisor")
    h = next(r for r in households(demo) if r["status"] == "valued")
    url = f"/compensation/households/{h['id']}/agreement"
    form = token(client.get(url).text)
    today = dt.date.today().isoformat()
    data = {"csrf_token": form, "number": f"T-{h['house_no']}", "signed_on": today,
            "mode": "swap", "flat": "F90"}
    preview = client.post(url, data={**data, "action": "preview"})
    assert preview.status_code == 200 and "试算结果" in preview.text and "期房" in preview.text
    with Registry.open(demo) as reg:
        assert reg.get("household", h["id"])["status"] == "valued"  # a preview writes nothing
    signed = client.post(url, data={**data, "action": "sign"})
    assert signed.status_code == 302
    with Registry.open(demo) as reg:
        assert reg.get("household", h["id"])["status"] == "signed"
        [first] = ag.agreements_of(reg, h["id"])
    assert first["breakdown"].flat["code"] == "F90"
    again = client.post(url, data={**data, "number": "T-other", "action": "sign"})
    assert again.status_code == 400 and "已有协议" in again.text
    amend_url = f"{url}?amends={first['id']}"
    no_reason = client.post(amend_url, data={**data, "number": "T-2", "mode": "money",
                                             "action": "sign"})
    assert no_reason.status_code == 400 and "理由" in no_reason.text
    client.post(amend_url, data={**data, "number": "T-2", "mode": "money", "reason": "改货币",
                                 "action": "sign"})
    page = client.get(f"/households/{h['id']}").text
    assert "T-2" in page and f"T-{h['house_no']}" in page and "已被" in page
    notice = client.get(f"/compensation/households/{h['id']}/notice").text
    assert "协议编号 T-2" in notice and "变更理由:改货币" in notice
    listed = client.get(f"/compensation/zones/{h['zone']}/list").text
    assert "T-2" in listed


def test_rules_editor_refuses_bad_rules_naming_the_key(app, demo):
    client = app.test_client()
    login(client)
    page = client.get("/compensation/rules")
    text = html.unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", page.text, re.S).group(1))
    with Registry.open(demo) as reg:
        stored = reg.meta("compensation")
    bad = client.post("/compensation/rules", data={
        "csrf_token": token(page.text), "rules": text.replace("rate: 12 ", "rate: twelve ")})
    assert bad.status_code == 400 and "moving.rate" in bad.text and "应为数字" in bad.text
    with Registry.open(demo) as reg:
        assert reg.meta("compensation") == stored  # unchanged
    login(client, "supervisor")
    assert client.get("/compensation/rules").status_code == 403


def test_surveyors_see_no_compensation(app, demo):
    client = app.test_client()
    login(client, "surveyor1")
    h = households(demo)[0]
    assert client.get("/compensation").status_code == 403
    assert client.get(f"/compensation/households/{h['id']}/notice").status_code == 403
    assert 'id="compensation"' not in client.get(f"/households/{h['id']}").text
