"""The lawful path on a demo project: the web pages (household box, queue, A4 decision for every
eligible household) and the public site (rounds and decisions, no personal data)."""

import datetime as dt
import html
import re
import sqlite3

import pytest
from anju.collector import create_app
from anju.registry.compensation.calculation import money
from anju.registry.core.store import Registry
from anju.registry.field.demo import build_demo
from anju.registry.legal import decisions, objections, rounds
from anju.registry.publication.privacy import mask_name
from anju.registry.publication.publish import publish
from anju.registry.publication.serve import build_datasette

from tests.collector_helpers import CSRF_RE
from tests.collector_helpers import login as login_as
from tests.test_privacy import _scan, _secrets


def today() -> dt.date:
    """Today, read when a test runs (a run may cross midnight)."""
    return dt.date.today()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A demo project of 160 households with its lawful path played, and its public.db."""
    directory = tmp_path_factory.mktemp("legal")
    path = build_demo(directory, households=160, seed=11)
    with Registry.open(path) as reg:
        publish(reg, directory / "public.db")
    return path


@pytest.fixture
def client(demo):
    app = create_app(demo, {"TESTING": True, "SECRET_KEY": "test"})
    c = app.test_client()
    login_as(c, "admin", "anju-demo")
    return c


def test_the_demo_plays_every_step(demo):
    with Registry.open(demo) as reg:
        kinds = {r["kind"] for r in rounds.rounds(reg)}
        assert kinds == {"plan", "survey", "valuation", "compensation", "decision"}
        c = objections.counts(reg)
        assert c["open"] >= 1 and c["answered"] >= 1
        issued = [d for d in decisions.all_decisions(reg) if d["issued_on"]]
        assert issued and all(reg.get("household", d["household_id"])["status"] == "decision"
                              for d in issued)
        for o in objections.open_objections(reg):
            assert reg.get("household", o["household_id"])["status"] == "disputed"
        # every valued household rests on a delivered valuation report
        valued = reg.conn.execute("SELECT count(*) FROM household h WHERE status = 'valued' "
                                  "AND NOT EXISTS (SELECT 1 FROM valuation v WHERE "
                                  "v.household_id = h.id AND v.delivered_on IS NOT NULL)"
                                  ).fetchone()[0]
        assert valued == 0


def test_the_decision_document_renders_for_every_eligible_household(demo, client):
    with Registry.open(demo) as reg:
        eligible = decisions.eligible(reg)
        deadline = decisions.signing_deadline(reg, eligible[0])
        expected = {h["id"]: decisions.draft_breakdown(reg, h["id"], h.get("compensation_mode")
                                                       or "money", today()).total
                    for h in eligible}
    assert len(eligible) >= 5
    for h in eligible:
        page = client.get(f"/legal/households/{h['id']}/decision")
        assert page.status_code == 200, h["house_no"]
        text = re.sub(r"<[^>]+>", "", html.unescape(page.text))
        assert h["house_no"] in text and "房屋征收补偿决定书" in text
        assert f"补偿合计 {money(expected[h['id']])} 元" in text
        assert "第二十六条" in text and "60 日内" in text and "6 个月内" in text
        assert str(deadline) in text


def test_a_served_decision_states_the_last_days_of_review_and_litigation(demo, client):
    with Registry.open(demo) as reg:
        served = next(d for d in decisions.all_decisions(reg) if d["served_on"])
    page = client.get(f"/legal/households/{served['household_id']}/decision"
                      f"?decision={served['id']}")
    assert page.status_code == 200
    served_on = dt.date.fromisoformat(served["served_on"])
    assert str(served_on + dt.timedelta(days=60)) in page.text
    assert served["number"] in html.unescape(page.text)
    # a decision of another household is refused, not shown
    with Registry.open(demo) as reg:
        other = reg.conn.execute("SELECT id FROM household WHERE id != ? AND deleted IS NULL "
                                 "LIMIT 1", (served["household_id"],)).fetchone()[0]
    bad = client.get(f"/legal/households/{other}/decision?decision={served['id']}")
    assert bad.status_code == 409 and "不属于" in bad.text


def test_the_overview_lists_open_objections_overdue_first(demo, client):
    page = client.get("/legal")
    assert page.status_code == 200
    with Registry.open(demo) as reg:
        queue = objections.queue(reg)
        houses = [r["house_no"] for r in queue]
    section = page.text.split('id="queue"')[1].split("</section>")[0]
    shown = re.findall(r'#legal">([A-Z]-\d{4})</a>', section)
    assert shown == houses and queue[0]["days_left"] == min(r["days_left"] for r in queue)


def test_the_review_queue_counts_open_objections(demo, client):
    with Registry.open(demo) as reg:
        c = objections.counts(reg)
    page = client.get("/review").text
    assert c["open"] and f"<b>{c['open']}</b>待答复异议" in page
    assert (f"逾期 {c['overdue']}" in page) == bool(c["overdue"])


def test_the_household_page_shows_the_steps_in_order(demo, client):
    with Registry.open(demo) as reg:
        served = next(d for d in decisions.all_decisions(reg) if d["served_on"])
    page = html.unescape(client.get(f"/households/{served['household_id']}").text)
    box = page.split('id="legal"')[1].split("</section>")[0]
    order = [box.index(word) for word in ("调查结果公示", "评估报告", "拟定补偿决定",
                                          "作出补偿决定", "送达补偿决定")]
    assert order == sorted(order)


def test_an_objection_from_the_web_and_its_answer(demo, client):
    with Registry.open(demo) as reg:
        hid = reg.conn.execute("SELECT id FROM household WHERE status = 'published' LIMIT 1"
                               ).fetchone()[0]
        before = reg.conn.execute("SELECT count(*) FROM change").fetchone()[0]
    page = client.get(f"/households/{hid}").text
    token = CSRF_RE.search(page).group(1)
    bad = client.post(f"/legal/households/{hid}/objection", data={
        "csrf_token": token, "kind": "record", "received_on": "2026-02-30",
        "disputed": "面积有误"}, follow_redirects=True)
    assert "提出日期格式应为 年-月-日" in bad.text
    with Registry.open(demo) as reg:
        assert reg.conn.execute("SELECT count(*) FROM change").fetchone()[0] == before
    ok = client.post(f"/legal/households/{hid}/objection", data={
        "csrf_token": token, "kind": "record", "received_on": str(today()), "field": "cert_area",
        "received_by": "office", "disputed": "证载面积有误"})
    assert ok.status_code == 302
    with Registry.open(demo) as reg:
        assert reg.get("household", hid)["status"] == "disputed"
        [o] = objections.open_objections(reg, hid)
        assert o["created_by"] == "admin"
    client.post(f"/legal/objections/{o['id']}/answer", data={
        "csrf_token": token, "reply": "已核实", "outcome": "rejected", "replied_on": str(today())})
    with Registry.open(demo) as reg:
        assert reg.get("household", hid)["status"] == "published"


def test_surveyors_do_not_see_the_lawful_path(demo):
    from werkzeug.security import generate_password_hash
    with Registry.open(demo) as reg:
        if not reg.conn.execute("SELECT 1 FROM user WHERE name = 'li2'").fetchone():
            reg.conn.execute("INSERT INTO user (name, password_hash, role, created_at) VALUES "
                             "('li2', ?, 'surveyor', '2026-01-01')",
                             (generate_password_hash("pw-123456", method="pbkdf2:sha256:1000"),))
    c = create_app(demo, {"TESTING": True, "SECRET_KEY": "test"}).test_client()
    login_as(c, "li2", "pw-123456")
    assert c.get("/legal").status_code == 403


async def test_the_public_site_shows_rounds_and_decisions_without_personal_data(demo):
    public = demo.parent / "public.db"
    ds = build_datasette(public)
    await ds.invoke_startup()
    name = public.stem
    rounds_json = (await ds.client.get(f"/{name}/publication_round.json?_shape=array")).json()
    with Registry.open(demo) as reg:
        expected = rounds.rounds(reg)
        owners = {r[0]: r[1] for r in reg.conn.execute("SELECT house_no, owner_name FROM "
                                                       "household")}
        secrets = _secrets(reg)
    assert [(r["number"], r["start_on"], r["end_on"], r["households"]) for r in rounds_json] \
        == [(r["number"], r["start_on"], r["end_on"], r["count"]) for r in expected]
    page = await ds.client.get(f"/{name}/compensation_decision")
    assert page.status_code == 200
    rows = (await ds.client.get(f"/{name}/compensation_decision.json?_shape=array")).json()
    assert rows and all(r["owner_name"] == mask_name(owners[r["house_no"]]) for r in rows)
    mine = (await ds.client.get(f"/{name}/round_household.json?_shape=array&house_no="
                                f"{rows[0]['house_no']}")).json()
    assert {r["round_number"] for r in mine} >= {rows[0]["round_number"]}
    conn = sqlite3.connect(public)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert {"publication_round", "round_household", "compensation_decision"} <= tables
    hits = _scan(public, secrets, only=("publication_round", "round_household",
                                        "compensation_decision"))
    assert hits == []
    assert _scan(public, secrets) == []
