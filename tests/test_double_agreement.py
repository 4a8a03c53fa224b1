"""One agreement in force per household, project-wide: a second agreement made on another device
is a double agreement (双重协议), shown and flagged, never two in force, none paid or published
as agreed until a supervisor keeps one; agreement numbers unique project-wide."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from anju.registry.compensation import agreements as ag
from anju.registry.compensation import lists
from anju.registry.core.workflow import move
from anju.registry.review import checks, decisions

from tests.syncing import Project


def today() -> dt.date:
    """Today, read when a test runs (a run may cross midnight)."""
    return dt.date.today()
SURVEY = {"zone": "东关片区A地块", "structure": "brick_concrete", "decoration": "medium",
          "cert_area": 80.5, "surveyed_area": 81, "preferred_flat_size": 90}


@pytest.fixture
def project(tmp_path):
    """A central registry and one laptop sharing two valued households."""
    # The laptop signs agreements in the field: the central office granted it that capability.
    p = Project(tmp_path / "p", laptops=1, households=2,
                capabilities=("survey", "status", "agreements", "decisions"))
    p.central.set_meta("settings", json.dumps({
        "signing_start": str(today() - dt.timedelta(days=10)), "freeze_date": "2020-01-01",
        "zones": [{"name": "东关片区A地块", "code": "A", "target": 2}]}, ensure_ascii=False))
    for hid in p.households:
        p.central.save("household", hid, SURVEY, by="admin")
        for status in ("surveyed", "published", "valued"):
            move(p.central, hid, status, by="admin")
    p.sync_back()
    yield p
    p.close()


def sign(reg, hid, number, mode="money", **kw):
    return ag.record_agreement(reg, hid, number=number, signed_on=str(today()), mode=mode,
                               by="boss", **kw)


def heads(reg) -> dict[str, list[str]]:
    """The test's own reading of the raw table: per household, the agreements nothing amends."""
    rows = reg.conn.execute("SELECT id, household_id, amends FROM agreement").fetchall()
    amended = {a for _, _, a in rows if a}
    out: dict[str, list[str]] = {}
    for aid, hid, _ in rows:
        if aid not in amended:
            out.setdefault(hid, []).append(aid)
    return out


def test_two_devices_signing_one_household_make_a_double_agreement(project):
    hid = project.households[0]
    central_id = sign(project.central, hid, "CEN-001")
    laptop_id = sign(project.lap(1), hid, "LAP-001", mode="swap")
    project.send(project.lap(1))
    reg = project.central
    assert sorted(heads(reg)[hid]) == sorted([central_id, laptop_id])  # the raw state
    # Never two in force: neither is.
    assert hid not in ag.agreements_in_force(reg)
    shown = {a["number"]: a for a in ag.agreements_of(reg, hid)}
    assert set(shown) == {"CEN-001", "LAP-001"}
    assert all(a["disputed"] and not a["in_force"] for a in shown.values())
    assert {a["id"] for a in ag.disputes(reg)[hid]} == {central_id, laptop_id}
    # The check flags it, with both agreements as records, under the key settle() uses.
    flags = [f for f in checks.run_checks(reg) if f.kind == "double_agreement"]
    assert len(flags) == 1 and flags[0].households == (hid,)
    assert {r for t, r in flags[0].records if t == "agreement"} == {central_id, laptop_id}
    assert flags[0].key == ag.dispute_key(hid, [central_id, laptop_id])
    assert "CEN-001" in flags[0].reason_zh and "LAP-001" in flags[0].reason_zh
    # Public data and the zone list say it is under dispute, with no amount.
    row = ag.public_rows(reg)[hid]
    assert row["agreement_status"] == "双重协议待核定" and row["compensation_total"] is None
    zl = lists.zone_list(reg, "东关片区A地块")
    mine = next(r for r in zl.rows if r["id"] == hid)
    assert mine["disputed"] and mine["total"] is None and "待核定" in mine["agreement_no"]
    assert zl.signed == 1 and zl.disputed == 1  # signed (twice), but no amount agreed
    # No third agreement and no amendment while in dispute.
    with pytest.raises(ag.AgreementError, match="待核定"):
        sign(reg, hid, "CEN-002")
    with pytest.raises(ag.AgreementError, match="待核定"):
        sign(reg, hid, "CEN-001-1", amends=central_id, reason="改")


def test_a_supervisor_keeps_one_and_the_decision_syncs(project):
    hid = project.households[0]
    central_id = sign(project.central, hid, "CEN-001")
    laptop_id = sign(project.lap(1), hid, "LAP-001", mode="swap")
    project.send(project.lap(1))
    reg = project.central
    [flag] = [f for f in checks.run_checks(reg) if f.kind == "double_agreement"]
    with pytest.raises(ag.AgreementError, match="理由"):
        ag.settle(reg, hid, laptop_id, " ", by="boss")
    with pytest.raises(ag.AgreementError, match="不是这户"):
        ag.settle(reg, hid, "nonsense", "x", by="boss")
    ag.settle(reg, hid, laptop_id, "以户主本人签字的协议为准", by="boss")
    assert ag.agreements_in_force(reg)[hid]["id"] == laptop_id
    kept, aside = (next(a for a in ag.agreements_of(reg, hid) if a["id"] == i)
                   for i in (laptop_id, central_id))
    assert kept["in_force"] and not kept["disputed"]
    assert aside["set_aside"] == laptop_id and not aside["in_force"]
    # The decision is the one the review queue knows for that flag: the flag is closed.
    assert decisions.decision_id(flag.key) == str(
        __import__("uuid").uuid5(ag.DECISION_NS, flag.key))
    assert reg.get("decision", decisions.decision_id(flag.key))["kept"] == laptop_id
    assert not [f for f in checks.run_checks(reg) if f.kind == "double_agreement"]
    assert ag.public_rows(reg)[hid]["agreement_no"] == "LAP-001"
    # The set-aside agreement cannot be amended; the kept one can, and stays alone in force.
    with pytest.raises(ag.AgreementError, match="不予执行"):
        sign(reg, hid, "CEN-001-1", amends=central_id, reason="改")
    sign(reg, hid, "LAP-001-1", amends=laptop_id, reason="改为货币补偿")
    assert ag.agreements_in_force(reg)[hid]["number"] == "LAP-001-1"
    # The settlement travels: the laptop sees the same single agreement in force.
    project.sync_back()
    lap = project.lap(1)
    assert ag.agreements_in_force(lap)[hid]["number"] == "LAP-001-1"
    assert not ag.disputes(lap)


def test_two_amendments_of_one_agreement_on_two_devices_are_a_double_agreement(project):
    hid = project.households[0]
    first = sign(project.central, hid, "CEN-001")
    project.sync_back()
    sign(project.central, hid, "CEN-001-1", amends=first, reason="面积更正")
    sign(project.lap(1), hid, "LAP-001-1", amends=first, reason="改为产权调换", mode="swap")
    project.send(project.lap(1))
    assert hid not in ag.agreements_in_force(project.central)
    assert len(heads(project.central)[hid]) == 2
    assert {a["number"] for a in ag.disputes(project.central)[hid]} == {"CEN-001-1",
                                                                        "LAP-001-1"}


def test_one_agreement_number_on_two_devices_is_flagged(project):
    h1, h2 = project.households
    sign(project.central, h1, "2026-00001")
    sign(project.lap(1), h2, " 2026-00001")  # the same number once spaces are dropped
    project.send(project.lap(1))
    flags = [f for f in checks.run_checks(project.central) if f.kind == "agreement_number"]
    assert len(flags) == 1 and set(flags[0].households) == {h1, h2}
    # One agreement per household each: both stay in force; the clash is for review.
    assert set(ag.agreements_in_force(project.central)) == {h1, h2}


def test_a_near_miss_is_not_flagged(project):
    h1, h2 = project.households
    sign(project.central, h1, "2026-00001")
    sign(project.lap(1), h2, "2026-00002")
    project.send(project.lap(1))
    kinds = {f.kind for f in checks.run_checks(project.central)}
    assert not kinds & {"agreement_number", "double_agreement"}
    assert set(ag.agreements_in_force(project.central)) == {h1, h2}


def test_proposed_numbers_differ_between_devices(project):
    h = project.central.get("household", project.households[0])
    assert ag.propose_number(project.central, h) != ag.propose_number(project.lap(1), h)


def test_the_household_page_shows_both_and_a_supervisor_keeps_one(project):
    from anju.collector import create_app
    from anju.registry.core.users import add_user

    from tests.collector_helpers import CSRF_RE
    from tests.collector_helpers import login as login_as
    hid = project.households[0]
    sign(project.central, hid, "CEN-001")
    laptop_id = sign(project.lap(1), hid, "LAP-001", mode="swap")
    project.send(project.lap(1))
    add_user(project.central, "boss", "secret-pass-1", "supervisor")
    client = create_app(project.central.path, {"TESTING": True, "SECRET_KEY": "t"}).test_client()
    login_as(client, "boss", "secret-pass-1")
    page = client.get(f"/households/{hid}")
    assert page.status_code == 200
    assert "双重协议,待核定" in page.text and "CEN-001" in page.text and "LAP-001" in page.text
    token = CSRF_RE.search(page.text).group(1)
    url = f"/compensation/households/{hid}/settle"
    refused = client.post(url, data={"keep": laptop_id, "reason": "", "csrf_token": token})
    assert refused.status_code in (302, 303) and hid not in ag.agreements_in_force(project.central)
    done = client.post(url, data={"keep": laptop_id, "reason": "以户主签字为准",
                                  "csrf_token": token})
    assert done.status_code == 302
    assert ag.agreements_in_force(project.central)[hid]["number"] == "LAP-001"
    page = client.get(f"/households/{hid}")
    assert "经核定不予执行" in page.text and "双重协议,待核定" not in page.text


def test_the_public_database_shows_the_household_under_review(project, tmp_path):
    import sqlite3

    from anju.registry.publication.publish import publish
    hid = project.households[0]
    sign(project.central, hid, "CEN-001")
    sign(project.lap(1), hid, "LAP-001", mode="swap")
    project.send(project.lap(1))
    sign(project.central, project.households[1], "CEN-002")
    out = tmp_path / "public.db"
    publish(project.central, out)
    conn = sqlite3.connect(out)
    cols = [r[1] for r in conn.execute("PRAGMA table_info(household)")]
    rows = {r[cols.index("house_no")]: dict(zip(cols, r, strict=True))
            for r in conn.execute("SELECT * FROM household")}
    disputed, fine = rows["A-0000"], rows["A-0001"]
    assert disputed["agreement_status"] == "双重协议待核定"
    assert disputed["compensation_total"] is None and disputed["agreement_no"] is None
    assert fine["agreement_status"] == "有效" and fine["compensation_total"] > 0
    assert fine["settlement"].startswith("应支付被征收人")


def test_neither_agreement_is_paid_until_one_is_kept(project):
    from anju.registry.completion import payments
    hid = project.households[0]
    sign(project.central, hid, "CEN-001")
    laptop_id = sign(project.lap(1), hid, "LAP-001")
    project.send(project.lap(1))
    pay = {"amount": "1000.00", "paid_on": str(today()), "method": "bank_transfer",
           "voucher_no": "ZF-1", "by": "cashier"}
    with pytest.raises(payments.PaymentError, match="没有现行协议"):
        payments.record_payment(project.central, hid, **pay)
    ag.settle(project.central, hid, laptop_id, "以户主签字为准", by="boss")
    payments.record_payment(project.central, hid, **pay)
    assert payments.account(project.central, hid).agreement_id == laptop_id
