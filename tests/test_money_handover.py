"""The on-time handover reward, transition months from the handover date, the valuation in
force read by compensation, and resident IDs stored canonical. Oracles are the test's own:
calendar arithmetic by monthrange, products of the configured numbers, and a 15→18 ID
conversion written here."""

from __future__ import annotations

import calendar
import datetime as dt
import json
from decimal import Decimal

import pytest
import yaml
from anju.registry.compensation import agreements as ag
from anju.registry.compensation import calculation as comp
from anju.registry.compensation import rules as rules_mod
from anju.registry.completion import handover as ho
from anju.registry.completion import payments as pay
from anju.registry.completion import rewards
from anju.registry.core.workflow import move
from anju.registry.legal import valuations
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_compensation import calc, item, rules

TIERS = {"tiers": [{"until_day": 15, "amount": 10000}, {"until_day": 30, "amount": 5000}]}


def rules_text(**changes) -> str:
    """The example rules with some top-level sections replaced whole."""
    raw = yaml.safe_load(comp.default_rules_text())
    raw.update(changes)
    return yaml.safe_dump(raw, allow_unicode=True)


# -- the rules ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("reward", "key", "words"), [
    ({}, "handover_reward", "tiers"),
    ({"deadline": "2027-01-31"}, "handover_reward", "tiers"),
    ({"deadline": "2027-01-31", "amount": 1, "tiers": [{"until_day": 3, "amount": 1}]},
     "handover_reward", "tiers"),
    ({"deadline": "2027-02-30", "amount": 8000}, "handover_reward.deadline", "日期"),
    ({"tiers": [{"until_day": 15, "amount": 1}, {"until_day": 15, "amount": 1}]},
     "handover_reward.tiers[1].until_day", "递增"),
    ({"tiers": [{"until_day": 15, "amount": -1}]}, "handover_reward.tiers[0].amount", "负数"),
    ({"tiers": [{"until_day": 15, "amount": 1, "percent": 2}]},
     "handover_reward.tiers[0].percent", "不是方案中的项"),
])
def test_a_bad_reward_is_refused_naming_the_key(reward, key, words):
    with pytest.raises(rules_mod.RulesError) as err:
        rules_mod.parse_rules(rules_text(handover_reward=reward))
    lines = dict(err.value.lines("zh"))
    assert key in lines and words in lines[key], lines


def test_a_later_reward_tier_paying_more_is_warned():
    r = rules_mod.parse_rules(rules_text(handover_reward={"tiers": [
        {"until_day": 15, "amount": 5000}, {"until_day": 30, "amount": 8000}]}))
    assert ("handover_reward.tiers[1].amount", "reward_more") in rules_mod.rule_warnings(r)
    assert not [w for w in rules_mod.rule_warnings(rules(handover_reward=TIERS))
                if w[0].startswith("handover_reward")]


# -- the conditional line and the reward by its date -------------------------------------------
def test_before_the_handover_the_reward_is_conditional_and_not_in_the_total():
    b = calc(r=rules(handover_reward=TIERS))
    [line] = b.conditional
    assert line.key == "handover_reward" and "按期交房可得" in line.basis
    assert line.amount == Decimal(10000)
    assert b.total == sum(i.amount for i in b.items)
    assert b.total == calc().total  # the reward adds nothing to what is signed
    again = comp.Breakdown.from_json(b.to_json())
    assert again.conditional == b.conditional


SIGNED = dt.date(2026, 10, 10)


@pytest.mark.parametrize(("days", "amount"), [
    (0, 10000), (15, 10000), (16, 5000), (30, 5000), (31, 0)])
def test_the_reward_by_days_after_signing_at_each_boundary(days, amount):
    rule = rules(handover_reward=TIERS).data["handover_reward"]
    line = comp.handover_reward_item(rule, SIGNED, SIGNED + dt.timedelta(days=days))
    assert line.amount == Decimal(amount)
    assert f"签约后第 {days} 天" in line.basis


@pytest.mark.parametrize(("handed", "amount"), [
    ("2027-01-30", 8000), ("2027-01-31", 8000), ("2027-02-01", 0)])
def test_the_reward_by_a_deadline_date(handed, amount):
    rule = rules_mod.parse_rules(rules_text(handover_reward={
        "deadline": "2027-01-31", "amount": 8000})).data["handover_reward"]
    assert comp.handover_reward_item(rule, SIGNED, handed).amount == Decimal(amount)
    assert "按期交房可得" in comp.handover_reward_item(rule, SIGNED, None).basis


# -- transition months -------------------------------------------------------------------------
def months_oracle(start: dt.date, end: dt.date) -> int:
    """The fewest whole months m with start + m months (clamped to the month's end) >= end."""
    if end <= start:
        return 0
    m = 0
    while True:
        y, mo = start.year + (start.month - 1 + m) // 12, (start.month - 1 + m) % 12 + 1
        d = min(start.day, calendar.monthrange(y, mo)[1])
        if dt.date(y, mo, d) >= end:
            return m
        m += 1


@settings(max_examples=300, deadline=None)
@given(start=st.dates(dt.date(2024, 1, 1), dt.date(2030, 12, 31)),
       span=st.integers(-40, 1500))
def test_months_between_matches_the_calendar_oracle(start, span):
    end = start + dt.timedelta(days=span)
    assert comp.months_between(start, end) == months_oracle(start, end)


@pytest.mark.parametrize(("start", "end", "months"), [
    ("2026-01-31", "2026-02-28", 1), ("2026-01-31", "2026-03-01", 2),
    ("2026-03-15", "2026-04-15", 1), ("2026-03-15", "2026-04-16", 2),
    ("2026-03-15", "2026-03-15", 0)])
def test_months_at_month_ends(start, end, months):
    assert comp.months_between(dt.date.fromisoformat(start), dt.date.fromisoformat(end)) \
        == months


FUTURE = [{"code": "F90", "label": "90㎡三室两厅(期房)", "area": 90, "unit_price": 6500,
           "ready": False, "delivery_on": "2028-04-20"},
          {"code": "F60", "label": "60㎡两室一厅(现房)", "area": 60, "unit_price": 6200,
           "ready": True}]


def test_the_transition_counts_from_the_handover_to_the_flat_delivery():
    r = rules(flats=FUTURE)
    unknown = calc(mode="swap", flat="F90", r=r)
    assert "按方案假定过渡 36 个月" in item(unknown, "temporary").basis
    # 80 m², 15 yuan/m²/month, doubled after 18 months (the example rules)
    known = calc(mode="swap", flat="F90", r=r, handover_on="2026-10-20")
    months = months_oracle(dt.date(2026, 10, 20), dt.date(2028, 4, 20))
    assert months == 18
    assert item(known, "temporary").amount == Decimal(80 * 15 * 18)
    later = calc(mode="swap", flat="F90", r=r, handover_on="2026-10-19")
    assert item(later, "temporary").amount == Decimal(80 * 15 * 18 + 80 * 15 * 2 * 1)
    assert "2028-04-20" in item(later, "temporary").basis
    money = calc(handover_on="2026-10-20")
    assert "自交房日 2026-10-20 起按方案 6 个月(至 2027-04-20)" in item(money, "temporary").basis


# -- on a registry: the frozen agreement and what the handover adds ----------------------------
def _signed(registry, text: str, **house) -> tuple[str, str]:
    registry.set_meta("settings", json.dumps({
        "signing_start": str(dt.date.today() - dt.timedelta(days=40)),
        "freeze_date": "2020-01-01"}))
    rules_mod.set_rules(registry, text, by="admin")
    hid = registry.save("household", None, {
        "house_no": "A-0300", "zone": "东关片区A地块", "address": "东关街300号",
        "structure": "brick_concrete", "owner_name": "张伟", "decoration": "simple",
        "cert_area": 80, "surveyed_area": 80, **house}, by="tester", full=True)
    for status in ("surveyed", "published", "valued"):
        move(registry, hid, status, by="tester")
    return hid, str(dt.date.today() - dt.timedelta(days=20))


def test_the_reward_comes_from_the_frozen_version_and_the_signed_total_stays(registry):
    hid, signed = _signed(registry, rules_text(version="v1", handover_reward=TIERS))
    ag.record_agreement(registry, hid, number="HO-1", signed_on=signed, mode="money", by="boss")
    [a] = ag.agreements_of(registry, hid)
    signed_total = a["total"]
    before = rewards.after_handover(registry, a)
    assert before.lines == [] and before.conditional[0].amount == 10000
    assert pay.account(registry, hid).due == signed_total
    # A new version pays less; the handover 10 days after signing earns the frozen 10,000.
    rules_mod.set_rules(registry, rules_text(version="v2", handover_reward={
        "tiers": [{"until_day": 15, "amount": 2000}]}), by="admin")
    handed = str(dt.date.fromisoformat(signed) + dt.timedelta(days=10))
    ho.record_handover(registry, hid, handed_over_on=handed, utilities_cut="yes",
                       keys_received="yes", by="clerk")
    [a] = ag.agreements_of(registry, hid)
    assert a["total"] == signed_total  # the signed figure is what was signed
    after = rewards.after_handover(registry, a)
    reward = next(i for i in after.lines if i.key == "handover_reward")
    assert reward.amount == Decimal(10000) and "签约后第 10 天" in reward.basis
    adjust = next(i for i in after.lines if i.key == "temporary_adjustment")
    assert adjust.amount == 0  # money: the rules' 6 months, now counted from the handover
    assert pay.account(registry, hid).due == signed_total + 10000
    zone = next(z for z in pay.zone_totals(registry) if z["zone"] == "东关片区A地块")
    assert zone["due"] == signed_total + 10000


def test_a_late_handover_earns_nothing_and_a_future_flat_recounts_the_fee(registry):
    text = rules_text(version="v1", handover_reward=TIERS, flats=FUTURE)
    hid, signed = _signed(registry, text)
    ag.record_agreement(registry, hid, number="HO-2", signed_on=signed, mode="swap",
                        flat="F90", by="boss")
    [a] = ag.agreements_of(registry, hid)
    frozen = next(i for i in a["breakdown"].items if i.key == "temporary").amount
    assert frozen == Decimal(80 * 15 * 18 + 80 * 15 * 2 * 18)  # 36 months assumed
    ho.record_handover(registry, hid, handed_over_on=str(dt.date.today()),
                       utilities_cut="yes", keys_received="yes", by="clerk")
    after = rewards.after_handover(registry, next(
        x for x in ag.agreements_of(registry, hid) if x["in_force"]))
    reward = next(i for i in after.lines if i.key == "handover_reward")
    assert reward.amount == 5000  # 20 days after signing: the second tier
    months = months_oracle(dt.date.today(), dt.date(2028, 4, 20))
    normal, doubled = min(months, 18), max(months - 18, 0)
    recounted = Decimal(80 * 15 * normal + 80 * 15 * 2 * doubled)
    adjust = next(i for i in after.lines if i.key == "temporary_adjustment")
    assert adjust.amount == recounted - frozen
    assert after.settled_total == a["total"] + 5000 + recounted - frozen


# -- the valuation in force --------------------------------------------------------------------
def _valuation(registry, hid, no, total, reported, **kw):
    return valuations.record_valuation(
        registry, hid, firm="鲁信评估有限公司", report_no=no, value_date="2026-01-10",
        unit_price="9350.00", total=total, appraiser="王静", reported_on=reported,
        by="office", **kw)


def test_compensation_reads_the_valuation_in_force_and_signing_freezes_it(registry):
    hid, signed = _signed(registry, rules_text(version="v1"))
    _valuation(registry, hid, "PG-1", "752675.00", "2026-01-20")
    b = comp.breakdown_for(registry, hid, "money", signed)
    assert item(b, "house_value").amount == Decimal("752675.00")
    assert "PG-1" in item(b, "house_value").basis
    # Not in force yet on a day before the report was issued.
    early = comp.valuation_of(registry, hid, "2026-01-19")
    assert early is None
    ag.record_agreement(registry, hid, number="VAL-1", signed_on=signed, mode="money",
                        by="boss")
    [a] = ag.agreements_of(registry, hid)
    assert next(i for i in a["breakdown"].items if i.key == "house_value").amount \
        == Decimal("752675.00")


# -- resident IDs stored canonical -------------------------------------------------------------
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def eighteen(old: str) -> str:
    """GB 11643: insert the century 19, then the check character of the 17 digits."""
    body = old[:6] + "19" + old[6:]
    total = sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def test_the_oracle_knows_the_documented_pairs():
    assert eighteen("110105491231002") == "11010519491231002X"
    assert eighteen("440524800101001") == "440524198001010013"


@settings(max_examples=60, deadline=None)
@given(born=st.dates(dt.date(1901, 1, 1), dt.date(1999, 12, 31)), seq=st.integers(0, 999),
       area=st.sampled_from(["110105", "370102", "440524"]))
def test_an_old_id_is_stored_in_its_18_character_form(tmp_path_factory, born, seq, area):
    from anju.registry.core.store import Registry
    reg = Registry.create(tmp_path_factory.mktemp("ids") / "r.db", project="p", role="central",
                          device_name="central")
    try:
        old = f"{area}{born:%y%m%d}{seq:03d}"
        hid = reg.save("household", None, {
            "house_no": "A-0001", "zone": "东关片区A地块", "address": "x",
            "structure": "brick_concrete", "owner_name": "张伟", "owner_id_no": old},
            by="t", full=True)
        assert reg.get("household", hid)["owner_id_no"] == eighteen(old)
        mid = reg.save("member", None, {"household_id": hid, "name": "张伟",
                                        "id_no": old, "relation": "head"},
                       by="t", full=True)
        assert reg.get("member", mid)["id_no"] == eighteen(old)
        new = eighteen(old).lower()  # a lower-case x is stored upper-case
        reg.save("household", hid, {"owner_id_no": new}, by="t")
        assert reg.get("household", hid)["owner_id_no"] == eighteen(old)
    finally:
        reg.close()
