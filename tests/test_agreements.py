"""Agreements: recorded once with the breakdown frozen; an amendment keeps the old one visible."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from anju.registry.compensation import agreements as ag
from anju.registry.compensation import calculation as comp
from anju.registry.core.changes import Change, new_id, now
from anju.registry.core.store import StoreError, transaction
from anju.registry.core.workflow import move


def today() -> dt.date:
    """Today, read when a test runs (a run may cross midnight)."""
    return dt.date.today()


@pytest.fixture
def valued(registry):
    """A surveyed household moved along the path to 已评估 (valued), ready to sign."""
    registry.set_meta("settings", json.dumps({"signing_start": str(today() - dt.timedelta(days=10)),
                                              "freeze_date": "2020-01-01"}))
    hid = registry.save("household", None, {
        "house_no": "A-0009", "zone": "东关片区A地块", "address": "东关街12号",
        "structure": "brick_concrete", "owner_name": "张伟", "decoration": "medium",
        "cert_area": 80.5, "surveyed_area": 81}, by="tester", full=True)
    for status in ("surveyed", "published", "valued"):
        move(registry, hid, status, by="tester")
    return hid


def sign(registry, hid, number="XY-001", mode="money", **kw):
    return ag.record_agreement(registry, hid, number=number, signed_on=str(today()), mode=mode,
                               by="boss", **kw)


def test_signing_freezes_the_breakdown_and_moves_the_status(registry, valued):
    expected = comp.breakdown_for(registry, valued, "swap", today(), flat="F90")
    aid = sign(registry, valued, mode="swap", flat="F90")
    assert registry.get("household", valued)["status"] == "signed"
    [a] = ag.agreements_of(registry, valued)
    assert a["id"] == aid and a["in_force"] and not a["tampered"]
    assert a["breakdown"] == expected and a["total"] == expected.total
    # The agreement is an ordinary change: it travels in packs like any other.
    [change] = registry.changes_of(aid)
    assert change.record_type == "agreement" and change.fields["household_id"] == valued
    # Later changes of the rules or of the survey do not touch the signed figures.
    comp.set_rules(registry, comp.default_rules_text().replace("9200", "12000"))
    registry.save("household", valued, {"cert_area": 200}, by="tester")
    [again] = ag.agreements_of(registry, valued)
    assert again["breakdown"] == expected and again["total"] == expected.total
    assert comp.breakdown_for(registry, valued, "swap", today(), flat="F90").total != a["total"]


def test_a_signed_agreement_cannot_be_edited_or_deleted(registry, valued):
    aid = sign(registry, valued)
    before = registry.conn.execute("SELECT count(*) FROM change").fetchone()[0]
    with pytest.raises(StoreError, match="cannot be changed"):
        registry.save("agreement", aid, {"total": "1.00"}, by="mallory")
    with pytest.raises(StoreError, match="cannot be changed"):
        registry.delete("agreement", aid, reason="oops", by="mallory")
    assert registry.conn.execute("SELECT count(*) FROM change").fetchone()[0] == before
    with pytest.raises(ag.AgreementError, match="已有协议 XY-001"):
        sign(registry, valued, number="XY-002")


def test_an_edit_smuggled_in_by_a_pack_does_not_change_what_is_shown(registry, valued):
    aid = sign(registry, valued)
    [original] = ag.agreements_of(registry, valued)
    first = registry.changes_of(aid)[0]
    forged = Change(change_id=new_id(), device_id="other-laptop", seq=1, record_type="agreement",
                    record_id=aid, fields={"total": 1.0}, base={"total": first.change_id},
                    at=now(), by="mallory")
    with transaction(registry.conn):
        registry.apply([forged])
    [shown] = ag.agreements_of(registry, valued)
    assert shown["total"] == original["total"] and shown["tampered"]
    assert ag.public_rows(registry)[valued]["compensation_total"] == float(original["total"])


def test_an_amendment_keeps_the_old_agreement_visible(registry, valued):
    first = sign(registry, valued, mode="swap", flat="F75")
    with pytest.raises(ag.AgreementError, match="理由"):
        sign(registry, valued, number="XY-001-1", amends=first)
    second = sign(registry, valued, number="XY-001-1", amends=first, reason="改为货币补偿")
    old, new = ag.agreements_of(registry, valued)
    assert (old["id"], new["id"]) == (first, second)
    assert not old["in_force"] and old["amended_by"] == "XY-001-1" and old["mode"] == "swap"
    assert new["in_force"] and new["amends"] == first and new["reason"] == "改为货币补偿"
    assert registry.get("household", valued)["status"] == "signed"
    with pytest.raises(ag.AgreementError, match="已被变更过"):
        sign(registry, valued, number="XY-001-2", amends=first, reason="again")
    assert ag.public_rows(registry)[valued]["agreement_no"] == "XY-001-1"


def test_refusals_write_nothing(registry, valued, household):
    count = registry.conn.execute("SELECT count(*) FROM change").fetchone()[0]
    with pytest.raises(ag.AgreementError, match="当前状态不能签约"):
        sign(registry, household)  # not valued yet
    registry.save("household", valued, {"decoration": None}, by="tester")
    count += 1
    with pytest.raises(ag.AgreementError, match="资料不全.*装修情况"):
        sign(registry, valued)
    with pytest.raises(ag.AgreementError, match="协议编号"):
        sign(registry, valued, number=" ")
    assert registry.conn.execute("SELECT count(*) FROM change").fetchone()[0] == count
    assert registry.get("household", valued)["status"] == "valued"


def test_agreement_numbers_are_unique(registry, valued):
    sign(registry, valued)
    other = registry.save("household", None, {
        "house_no": "A-0002", "zone": "东关片区A地块", "address": "东关街14号",
        "structure": "brick_wood", "owner_name": "李娜", "decoration": "none",
        "cert_area": 40, "status": "valued"}, by="tester", full=True)
    with pytest.raises(ag.AgreementError, match="XY-001 已被使用"):
        sign(registry, other)
    sign(registry, other, number="XY-002")
    rows = ag.public_rows(registry)
    assert set(rows) == {valued, other}
    assert rows[other]["compensation_total"] == float(
        ag.agreements_of(registry, other)[0]["total"])
    assert isinstance(rows[other]["compensation_total"], float)
    assert Decimal(str(rows[other]["compensation_total"])) == \
        ag.agreements_of(registry, other)[0]["total"]


def test_public_rows_hold_signed_households_only(registry, valued, household):
    assert ag.public_rows(registry) == {}
    sign(registry, valued)
    assert list(ag.public_rows(registry)) == [valued]
    assert ag.public_rows(registry)[valued]["compensation_mode"] == "货币补偿"


def test_a_paper_agreement_entered_late_keeps_the_status(registry, valued):
    # Records kept before anju (or merged from paper) may be past 已签约 with no agreement.
    registry.save("household", valued, {"status": "handed_over"}, by="tester")
    sign(registry, valued)
    assert registry.get("household", valued)["status"] == "handed_over"
    assert ag.agreements_of(registry, valued)[0]["in_force"]
