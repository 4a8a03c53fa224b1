"""The lawful path: rounds, objections, valuations and decisions as records of the change log.

Oracles are independent of registry/legal: deadlines are written out by hand from a calendar,
month periods are checked against the calendar's own month lengths by stepping day by day.
"""

import datetime as dt
import hashlib
import json
import sqlite3
from decimal import Decimal

import pytest
from anju.registry.cli import main
from anju.registry.compensation.agreements import record_agreement
from anju.registry.core.store import Registry
from anju.registry.core.workflow import move
from anju.registry.legal import decisions, objections, rounds, valuations
from anju.registry.legal.common import LegalError, add_days, add_months
from anju.registry.legal.path import counts, timeline
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

D = dt.date.fromisoformat
def today() -> dt.date:
    """Today, read when a test runs (a run may cross midnight)."""
    return dt.date.today()


def _household(reg, no="A-0001", status="surveyed", **extra):
    hid = reg.save("household", None, {
        "house_no": no, "zone": "东关片区A地块", "address": f"东关街{no}号",
        "structure": "brick_concrete", "owner_name": "张伟", "decoration": "medium",
        "cert_area": 80.5, "surveyed_area": 81, "survey_date": "2026-01-05", **extra},
        by="tester", full=True)
    path = ("surveyed", "published", "valued")
    for s in path[:path.index(status) + 1] if status in path else ():
        move(reg, hid, s, by="tester")
    return hid


def _status(reg, hid):
    return reg.get("household", hid)["status"]


def _valuation(reg, hid, no="PG-001", delivered="2026-01-25", **kw):
    values = dict(firm="鲁信评估有限公司", report_no=no, value_date="2026-01-10",
                  unit_price="9350.00", total="752675.00", appraiser="王静",
                  reported_on="2026-01-20", delivered_on=delivered, by="office")
    values.update(kw)
    return valuations.record_valuation(reg, hid, **values)


# -- periods -----------------------------------------------------------------------------------
@pytest.mark.parametrize("start, days, end", [
    ("2026-01-25", 10, "2026-02-04"),   # across a month end
    ("2026-02-20", 10, "2026-03-02"),   # February of a common year
    ("2028-02-20", 10, "2028-03-01"),   # leap year
    ("2026-12-28", 10, "2027-01-07"),   # across a year end
    ("2026-03-31", 60, "2026-05-30"),
])
def test_periods_of_days_start_the_day_after(start, days, end):
    assert add_days(D(start), days) == D(end)


@pytest.mark.parametrize("start, end", [
    ("2026-08-31", "2027-02-28"), ("2027-08-31", "2028-02-29"), ("2026-03-15", "2026-09-15"),
    ("2026-10-31", "2027-04-30"), ("2026-07-01", "2027-01-01")])
def test_six_months_end_on_the_same_day_or_the_month_end(start, end):
    assert add_months(D(start), 6) == D(end)


@given(st.dates(dt.date(1990, 1, 1), dt.date(2090, 12, 31)), st.integers(0, 40))
def test_month_periods_against_the_calendar(start, months):
    got = add_months(start, months)
    # Walk forward day by day, counting month changes: an oracle without month arithmetic.
    walked, day, changes = [], start, 0
    while changes <= months:
        nxt = day + dt.timedelta(days=1)
        if nxt.month != day.month:
            changes += 1
        if changes == months:
            walked.append(nxt if changes else day)
        day = nxt
        if changes == 0 and months == 0:
            break
    if months == 0:
        assert got == start
        return
    target_month = [d for d in walked if d.day == 1][0]
    month_days = [target_month + dt.timedelta(days=i) for i in range(31)
                  if (target_month + dt.timedelta(days=i)).month == target_month.month]
    assert got.year == target_month.year and got.month == target_month.month
    assert got.day == min(start.day, len(month_days))


# -- publication rounds --------------------------------------------------------------------------
def test_a_survey_round_makes_its_households_published(registry):
    a = _household(registry, "A-0001")
    b = _household(registry, "A-0002", status="unsurveyed")
    rid, moved = rounds.open_round(registry, "survey", days=7, by="office",
                                   start_on="2026-02-01")
    assert moved == [a] and _status(registry, a) == "published"
    assert _status(registry, b) == "unsurveyed"
    [r] = rounds.rounds(registry)
    assert (r["number"], r["start_on"], r["end_on"], r["household_ids"]) == (
        1, "2026-02-01", "2026-02-08", [a])
    assert [x["id"] for x in rounds.rounds_of(registry, a)] == [rid]
    # the status move is a change of the log, naming the round
    last = registry.changes_of(a)[-1]
    assert last.fields == {"status": "published"} and last.note == "round 1"


def test_round_validation(registry):
    _household(registry)
    with pytest.raises(LegalError, match="30"):
        rounds.open_round(registry, "plan", days=20, by="office")
    with pytest.raises(LegalError, match="今天"):
        rounds.open_round(registry, "survey", days=7, by="office",
                          start_on=str(today() + dt.timedelta(days=1)))
    with pytest.raises(LegalError, match="没有可列入"):
        rounds.open_round(registry, "compensation", days=7, by="office")
    with pytest.raises(LegalError):
        rounds.open_round(registry, "survey", days=7, by="office", households=["nope"])
    assert rounds.rounds(registry) == []


# -- valuations ------------------------------------------------------------------------------------
def test_valuation_dates_must_run_in_order(registry):
    hid = _household(registry, status="published")
    with pytest.raises(LegalError, match="价值时点"):
        _valuation(registry, hid, value_date="2026-01-21")
    with pytest.raises(LegalError, match="出具日期"):
        _valuation(registry, hid, delivered="2026-01-19")
    with pytest.raises(LegalError, match="正数"):
        _valuation(registry, hid, total="-5")
    with pytest.raises(LegalError, match="两位小数"):
        _valuation(registry, hid, unit_price="9350.001")
    assert valuations.valuation_in_force(registry, hid) is None
    assert _status(registry, hid) == "published"


def test_delivery_values_the_household_and_review_supersedes(registry):
    hid = _household(registry, status="published")
    vid = _valuation(registry, hid, delivered=None)
    assert _status(registry, hid) == "published"
    valuations.deliver(registry, vid, "2026-01-25", by="office")
    assert _status(registry, hid) == "valued"
    v = valuations.valuation_in_force(registry, hid)
    assert (v["id"], v["unit_price"], v["total"]) == (vid, Decimal("9350.00"),
                                                      Decimal("752675.00"))
    with pytest.raises(LegalError, match="已于"):
        valuations.deliver(registry, vid, "2026-01-26", by="office")
    # review request within 10 days of delivery: the deadline crosses the month end
    oid = objections.record_objection(registry, hid, kind="valuation_review", against=vid,
                                      received_on="2026-02-04", disputed="单价偏低", by="cadre1")
    o = registry.get("objection", oid)
    assert (o["filing_deadline"], o["late"]) == ("2026-02-04", 0)
    assert _status(registry, hid) == "disputed"
    with pytest.raises(LegalError, match="取代"):
        _valuation(registry, hid, no="PG-001-F", basis="review", supersedes="x", result_of=oid)
    rid = _valuation(registry, hid, no="PG-001-F", basis="review", supersedes=vid,
                     result_of=oid, unit_price="9600.00", total="772800.00",
                     reported_on="2026-02-10", delivered="2026-02-11")
    objections.answer(registry, oid, reply="复核后调整单价", outcome="upheld",
                      replied_on="2026-02-11", by="office")
    assert _status(registry, hid) == "valued"
    now = valuations.valuation_in_force(registry, hid)
    assert now["id"] == rid and now["total"] == Decimal("772800.00")
    old, new = valuations.valuations_of(registry, hid)
    assert (old["in_force"], old["superseded_by"], new["in_force"]) == (False, "PG-001-F", True)
    # an appraisal against the review result, 10 days from its delivery
    aid = objections.record_objection(registry, hid, kind="appraisal", against=rid,
                                      received_on="2026-02-22", disputed="仍有异议", by="office")
    a = registry.get("objection", aid)
    assert (a["filing_deadline"], a["late"]) == ("2026-02-21", 1)


def test_appraisal_needs_a_review_first(registry):
    hid = _household(registry, status="published")
    vid = _valuation(registry, hid)
    with pytest.raises(LegalError, match="复核"):
        objections.record_objection(registry, hid, kind="appraisal", against=vid,
                                    received_on="2026-01-28", disputed="x", by="office")


# -- objections ------------------------------------------------------------------------------------
def test_a_late_objection_is_recorded_and_marked_late(registry):
    hid = _household(registry, status="published")
    vid = _valuation(registry, hid, delivered="2026-01-25")
    oid = objections.record_objection(registry, hid, kind="valuation_review", against=vid,
                                      received_on="2026-02-05", disputed="单价偏低", by="cadre1")
    row = registry.get("objection", oid)
    assert row["late"] == 1 and row["filing_deadline"] == "2026-02-04"
    assert _status(registry, hid) == "disputed"
    assert [e["what"] for e in timeline(registry, hid)] == [
        "评估报告 PG-001(初次评估)", "评估报告 PG-001 送达", "复核评估申请"]


def test_objection_validation(registry):
    hid = _household(registry, status="published")
    other = _household(registry, "A-0002")
    blob = registry.save("attachment", None, {"household_id": other, "field": "photos",
                                              "filename": "a.jpg", "mime": "image/jpeg",
                                              "size": 1, "sha256": "0" * 64}, by="t", full=True)
    kw = dict(kind="record", received_on="2026-02-01", disputed="面积有误", by="cadre1")
    with pytest.raises(LegalError, match="不属于"):
        objections.record_objection(registry, hid, evidence=[blob], **kw)
    with pytest.raises(LegalError, match="字段"):
        objections.record_objection(registry, hid, field="no_such_field", **kw)
    with pytest.raises(LegalError, match="今天"):
        objections.record_objection(registry, hid, **{**kw, "received_on": str(
            today() + dt.timedelta(days=1))})
    with pytest.raises(LegalError, match="异议内容"):
        objections.record_objection(registry, hid, **{**kw, "disputed": "  "})
    with pytest.raises(LegalError, match="送达"):
        vid = _valuation(registry, hid, delivered=None)
        objections.record_objection(registry, hid, kind="valuation_review", against=vid,
                                    received_on="2026-02-01", disputed="x", by="c")
    assert objections.open_objections(registry) == []
    assert _status(registry, hid) == "published"


def test_status_returns_only_when_the_last_objection_is_answered(registry):
    registry.set_meta("settings", json.dumps({"objection_reply_days": 15}))
    hid = _household(registry)
    rid, _ = rounds.open_round(registry, "survey", days=7, by="office", start_on="2026-01-28")
    first = objections.record_objection(registry, hid, kind="round", against=rid,
                                        received_on="2026-01-30", disputed="面积有误",
                                        field="cert_area", by="cadre1")
    row = registry.get("objection", first)
    assert (row["filing_deadline"], row["late"], row["reply_due"], row["return_status"]) == (
        "2026-02-04", 0, "2026-02-14", "published")
    second = objections.record_objection(registry, hid, kind="record", field="structure",
                                         received_on="2026-02-06", disputed="结构应为砖混",
                                         by="office")
    assert registry.get("objection", second)["late"] == 1  # after the survey round ended
    assert registry.get("objection", second)["return_status"] == "published"
    objections.answer(registry, first, reply="已复核面积", outcome="rejected",
                      replied_on="2026-02-10", by="office")
    assert _status(registry, hid) == "disputed"
    with pytest.raises(LegalError, match="已于"):
        objections.answer(registry, first, reply="再答", outcome="upheld",
                          replied_on="2026-02-10", by="office")
    with pytest.raises(LegalError, match="不能早于"):
        objections.answer(registry, second, reply="x", outcome="upheld",
                          replied_on="2026-02-01", by="office")
    objections.answer(registry, second, reply="已更正", outcome="upheld",
                      replied_on="2026-02-12", by="office")
    assert _status(registry, hid) == "published"
    c = counts(registry)
    assert (c["objections_open"], c["objections_answered"], c["objections_late"]) == (0, 2, 1)


def test_the_queue_puts_overdue_objections_first(registry):
    registry.set_meta("settings", json.dumps({"objection_reply_days": 10}))
    ids = []
    for n, days_ago in ((1, 3), (2, 30), (3, 12)):
        hid = _household(registry, f"A-000{n}")
        ids.append(objections.record_objection(
            registry, hid, kind="record", received_on=str(today() - dt.timedelta(days=days_ago)),
            disputed="面积有误", by="cadre1"))
    q = objections.queue(registry)
    assert [r["id"] for r in q] == [ids[1], ids[2], ids[0]]
    assert [r["days_left"] for r in q] == [-20, -2, 7]
    assert [r["overdue"] for r in q] == [True, True, False]
    assert counts(registry)["objections_overdue"] == 2


# -- decisions -------------------------------------------------------------------------------------
def _holdout(registry, deadline="2026-03-01"):
    registry.set_meta("settings", json.dumps({"signing_start": "2026-01-01",
                                              "signing_deadline": deadline}))
    hid = _household(registry, status="published")
    _valuation(registry, hid)
    assert _status(registry, hid) == "valued"
    return hid


def test_a_decision_follows_the_signing_deadline(registry):
    hid = _holdout(registry, deadline=str(today()))
    assert decisions.eligible(registry) == []
    with pytest.raises(LegalError, match="尚未届满"):
        decisions.draft(registry, hid, number="JD-1", mode="money", drafted_on=str(today()),
                        by="office")
    registry.set_meta("settings", json.dumps({"signing_start": "2026-01-01",
                                              "signing_deadline": "2026-03-01"}))
    assert [h["id"] for h in decisions.eligible(registry)] == [hid]
    signed = _household(registry, "A-0002", status="valued")
    record_agreement(registry, signed, number="XY-1", signed_on="2026-02-01", mode="money",
                     by="office")
    assert [h["id"] for h in decisions.eligible(registry)] == [hid]


def test_draft_issue_serve_and_rights(registry):
    hid = _holdout(registry)
    did = decisions.draft(registry, hid, number="JD-2026-001", mode="money",
                          drafted_on="2026-08-20", by="office")
    d = decisions.decisions_of(registry, hid)[0]
    from anju.registry.compensation.calculation import breakdown_for
    plan = breakdown_for(registry, hid, "money", "2026-08-20")
    reward = next(i.amount for i in plan.items if i.key == "incentive")
    assert d["total"] == plan.total - reward  # a holdout gets no signing reward
    assert "incentive" not in {i.key for i in d["breakdown"].items}
    assert _status(registry, hid) == "valued"  # a draft changes nothing yet
    with pytest.raises(LegalError, match="尚未作出"):
        decisions.serve(registry, did, "2026-08-30", by="office")
    with pytest.raises(LegalError, match="不能早于"):
        decisions.issue(registry, did, "2026-08-19", by="office")
    decisions.issue(registry, did, "2026-08-25", by="office")
    assert _status(registry, hid) == "decision"
    with pytest.raises(LegalError, match="不能早于"):
        decisions.serve(registry, did, "2026-08-24", by="office")
    decisions.serve(registry, did, "2026-08-31", by="office")
    d = decisions.decisions_of(registry, hid)[0]
    assert (d["review_until"], d["litigation_until"]) == (D("2026-10-30"), D("2027-02-28"))
    with pytest.raises(LegalError, match="已有"):
        decisions.draft(registry, hid, number="JD-2026-002", mode="money",
                        drafted_on="2026-08-20", by="office")
    assert [e["kind"] for e in timeline(registry, hid)] == [
        "valuation", "delivery", "decision", "issued", "served"]
    c = counts(registry)
    assert (c["decisions_drafted"], c["decisions_issued"], c["decisions_served"]) == (1, 1, 1)


def test_a_decision_breakdown_stays_as_drafted(registry):
    hid = _holdout(registry)
    did = decisions.draft(registry, hid, number="JD-9", mode="money", drafted_on="2026-08-20",
                          by="office")
    drafted = decisions.decisions_of(registry, hid)[0]["total"]
    registry.save("compensation_decision", did, {"total": "1.00", "breakdown": "{}"}, by="x")
    assert decisions.decisions_of(registry, hid)[0]["total"] == drafted


# -- publication -------------------------------------------------------------------------------
def test_publish_round_digest_matches_its_public_db(registry, tmp_path):
    hid = _household(registry)
    registry.close()
    out = tmp_path / "public.db"
    result = CliRunner().invoke(main, ["publish", str(tmp_path / "registry.db"), "--out",
                                       str(out), "--round", "survey", "--days", "10"])
    assert result.exit_code == 0, result.output
    with Registry.open(tmp_path / "registry.db") as reg:
        [r] = rounds.rounds(reg)
        assert reg.get("household", hid)["status"] == "published"
    assert r["public_digest"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert r["public_file"] == "public.db"
    conn = sqlite3.connect(out)
    assert conn.execute("SELECT number, kind, households FROM publication_round").fetchall() \
        == [(1, "调查结果公示", 1)]
    assert conn.execute("SELECT round_number, house_no FROM round_household").fetchall() == [
        (1, "A-0001")]
    assert conn.execute("SELECT status FROM household").fetchall() == [("已公示",)]
    conn.close()


def test_publish_round_refuses_bad_input_with_one_line(registry, tmp_path):
    _household(registry)
    registry.close()
    db = str(tmp_path / "registry.db")
    bad = CliRunner().invoke(main, ["publish", db, "--out", str(tmp_path / "no" / "p.db"),
                                    "--round", "survey"])
    assert bad.exit_code == 2 and "no such directory" in bad.output
    short = CliRunner().invoke(main, ["publish", db, "--out", str(tmp_path / "p.db"),
                                      "--round", "plan", "--days", "10"])
    assert short.exit_code == 2 and "30" in short.output
    assert "Traceback" not in short.output
    with Registry.open(db) as reg:
        assert rounds.rounds(reg) == []
        assert reg.conn.execute("SELECT status FROM household").fetchone()[0] == "surveyed"


def test_periods_come_from_the_settings_command(registry, tmp_path):
    hid = _household(registry)
    registry.close()
    db = str(tmp_path / "registry.db")
    ok = CliRunner().invoke(main, ["settings", db, "set", "objection_reply_days", "20"])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(main, ["settings", db, "set", "objection_reply_days", "0"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    with Registry.open(db) as reg:
        oid = objections.record_objection(reg, hid, kind="record", received_on="2026-01-31",
                                          disputed="面积有误", by="office")
        assert reg.get("objection", oid)["reply_due"] == "2026-02-20"


# -- sync and hostile input ----------------------------------------------------------------------
def test_an_objection_recorded_on_a_laptop_syncs_and_disputes_the_household(tmp_path):
    from tests.syncing import Project
    # Recording objections in the field is granted at enrolment (registry/core/capabilities.py:
    # `legal` for the record, `status` for the move to 异议中).
    project = Project(tmp_path, laptops=1, households=1,
                      capabilities=("survey", "legal", "status"))
    hid = project.households[0]
    project.central.save("household", hid, {"status": "surveyed"}, by="admin")
    rounds.open_round(project.central, "survey", days=7, by="admin", start_on="2026-02-01")
    project.sync_back()
    lap = project.lap(1)
    assert lap.get("household", hid)["status"] == "published"
    oid = objections.record_objection(lap, hid, kind="record", field="cert_area",
                                      received_on="2026-02-03", disputed="面积有误",
                                      received_by="cadre", by="surveyor1")
    project.send(lap)
    central = project.central
    assert central.get("household", hid)["status"] == "disputed"
    [o] = objections.queue(central)
    assert (o["id"], o["late"], o["filing_deadline"]) == (oid, False, "2026-02-08")
    objections.answer(central, oid, reply="已复核", outcome="rejected", replied_on="2026-02-05",
                      by="admin")
    project.sync_back()
    assert lap.get("household", hid)["status"] == "published"
    assert lap.get("objection", oid)["outcome"] == "rejected"


@settings(max_examples=40, deadline=None)
@given(st.dates(dt.date(2020, 1, 1), dt.date(2026, 6, 30)),
       st.integers(-5, 5), st.integers(-5, 5))
def test_valuation_dates_are_accepted_only_in_order(tmp_path_factory, value_day, to_report,
                                                     to_delivery):
    reg = Registry.create(tmp_path_factory.mktemp("v") / "r.db", project="p", role="central",
                          device_name="c")
    try:
        hid = _household(reg, status="published")
        reported = value_day + dt.timedelta(days=to_report)
        delivered = reported + dt.timedelta(days=to_delivery)
        ordered = to_report >= 0 and to_delivery >= 0
        try:
            _valuation(reg, hid, value_date=str(value_day), reported_on=str(reported),
                       delivered=str(delivered))
        except LegalError:
            assert not ordered
            assert reg.conn.execute("SELECT count(*) FROM valuation").fetchone()[0] == 0
            assert _status(reg, hid) == "published"
        else:
            assert ordered
            assert _status(reg, hid) == "valued"
    finally:
        reg.close()


def test_a_delivery_during_an_objection_returns_the_household_to_valued(registry):
    hid = _household(registry)
    rid, _ = rounds.open_round(registry, "survey", days=7, by="office", start_on="2026-01-02")
    oid = objections.record_objection(registry, hid, kind="round", against=rid,
                                      received_on="2026-01-05", disputed="地址有误", by="c")
    vid = _valuation(registry, hid, delivered=None)
    valuations.deliver(registry, vid, "2026-01-25", by="office")
    assert _status(registry, hid) == "disputed"
    objections.answer(registry, oid, reply="已更正地址", outcome="upheld",
                      replied_on="2026-01-26", by="office")
    assert _status(registry, hid) == "valued"


def test_a_decision_grants_no_signing_reward(registry):
    from anju.registry.compensation.calculation import breakdown_for
    hid = _holdout(registry, deadline="2026-01-20")  # a period shorter than the reward tiers
    decisions.draft(registry, hid, number="JD-7", mode="money", drafted_on="2026-01-25",
                    by="office")
    plan = breakdown_for(registry, hid, "money", "2026-01-25")
    reward = next(i.amount for i in plan.items if i.key == "incentive")
    assert reward == Decimal("30000.00")  # day 25 of the period: the first tier of the plan
    assert decisions.decisions_of(registry, hid)[0]["total"] == plan.total - reward


def test_hostile_records_from_a_pack_do_not_break_the_pages_or_the_publication(registry,
                                                                                 tmp_path):
    """Records written around registry/legal (as a forged pack could): garbage ids lists,
    impossible dates in the text fields, missing pieces. Everything still reads and publishes."""
    from anju.registry.publication.publish import publish
    hid = _household(registry)
    registry.save("publication_round", None, {
        "number": 1, "kind": "survey", "start_on": "2026-01-01", "end_on": "2026-13-45",
        "households": "{not json"}, by="forger", full=True)
    registry.save("publication_round", None, {
        "number": 2, "kind": "decision", "start_on": "2026-01-01", "end_on": "2026-01-09",
        "households": json.dumps([hid, 5, "nobody"])}, by="forger", full=True)
    registry.save("objection", None, {
        "household_id": hid, "kind": "record", "received_on": "2026-01-02",
        "disputed": "x", "reply_due": "2026-02-31"}, by="forger", full=True)
    registry.save("compensation_decision", None, {
        "household_id": hid, "number": "F-1", "drafted_on": "2026-01-02", "mode": "money",
        "breakdown": "not a breakdown", "total": "1.00", "issued_on": "2026-01-03"},
        by="forger", full=True)
    assert [r["household_ids"] for r in rounds.rounds(registry)] == [[], [hid, "nobody"]]
    [o] = objections.queue(registry)
    assert o["days_left"] is None and not o["overdue"]
    assert len(timeline(registry, hid)) >= 3
    counts(registry)
    summary = publish(registry, tmp_path / "public.db")
    assert summary["households"] == 1
    conn = sqlite3.connect(tmp_path / "public.db")
    assert conn.execute("SELECT count(*) FROM compensation_decision").fetchone()[0] == 1
    assert conn.execute("SELECT round_number, house_no FROM round_household").fetchall() == [
        (2, "A-0001")]
    conn.close()
    with pytest.raises(LegalError, match="损坏"):
        decisions.document(registry, hid, decision_id=decisions.all_decisions(registry)[0]["id"])
