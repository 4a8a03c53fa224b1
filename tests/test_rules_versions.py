"""Rules versions with an effective date: an agreement is computed under the version in force on
its signing date and freezes it; an amendment uses its original's version and date unless it
says otherwise, and its breakdown says which."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from anju.registry.compensation import agreements as ag
from anju.registry.compensation import calculation as comp
from anju.registry.compensation import rules as rules_mod
from anju.registry.core.workflow import move

from tests.syncing import Project

TODAY = dt.date.today()
START = TODAY - dt.timedelta(days=60)          # the signing period began 60 days ago
SIGN = START + dt.timedelta(days=29)           # day 30: the 30,000 tier
V1 = comp.default_rules_text()
V2_FROM = TODAY - dt.timedelta(days=20)        # day 41 on: a later tier anyway
V2 = (V1.replace('version: "2026-1"', f'version: "2026-2"\neffective_from: {V2_FROM}')
        .replace("brick_concrete: 9200", "brick_concrete: 9500")
        .replace("{until_day: 30, amount: 30000}", "{until_day: 30, amount: 25000}"))
HOUSE = {"house_no": "A-0014", "zone": "东关片区A地块", "address": "东关街14号",
         "structure": "brick_concrete", "owner_name": "张伟", "decoration": "none",
         "cert_area": 80.5, "surveyed_area": 81}


def item(agreement: dict, key: str) -> Decimal:
    return next(i.amount for i in agreement["breakdown"].items if i.key == key)


@pytest.fixture
def signed(registry):
    """A household signed on day 30 under version 2026-1; then version 2026-2 is stored."""
    registry.set_meta("settings", json.dumps({"signing_start": str(START)}))
    rules_mod.set_rules(registry, V1, by="admin")
    hid = registry.save("household", None, HOUSE, by="t", full=True)
    for status in ("surveyed", "published", "valued"):
        move(registry, hid, status, by="t")
    aid = ag.record_agreement(registry, hid, number="A-0014-1", signed_on=str(SIGN),
                              mode="money", by="boss")
    rules_mod.set_rules(registry, V2, by="admin")
    return hid, aid


def test_the_registry_keeps_each_version_with_its_date(registry, signed):
    listed = [(v["version"], v["effective_from"]) for v in rules_mod.versions(registry)]
    assert listed == [("2026-1", None), ("2026-2", str(V2_FROM))]
    assert rules_mod.rules_on(registry, V2_FROM - dt.timedelta(days=1)).version == "2026-1"
    assert rules_mod.rules_on(registry, V2_FROM).version == "2026-2"


def test_an_amendment_keeps_the_originals_version_and_date(registry, signed):
    hid, first = signed
    [original] = ag.agreements_of(registry, hid)
    # The test's own figures from the YAML numbers: 80.5 m² × 9,200 and the day-30 tier.
    assert item(original, "house_value") == Decimal("740600.00")
    assert item(original, "incentive") == Decimal("30000.00")
    later = V2_FROM + dt.timedelta(days=1)  # day 42, under 2026-2: it would pay 1% only
    ag.record_agreement(registry, hid, number="A-0014-2", signed_on=str(later), mode="money",
                        by="boss", amends=first, reason="更正装修情况")
    amendment = next(a for a in ag.agreements_of(registry, hid) if a["in_force"])
    assert amendment["signed_on"] == str(later)
    assert item(amendment, "house_value") == Decimal("740600.00")
    assert item(amendment, "incentive") == Decimal("30000.00")
    frozen = amendment["breakdown"].rules
    assert frozen["version"] == "2026-1" and frozen["computed_on"] == str(SIGN)
    assert "A-0014-1" in frozen["basis"] and "2026-1" in frozen["basis"]
    assert "计算依据" in comp.breakdown_text(amendment["breakdown"])


def test_an_amendment_may_name_another_version_and_date(registry, signed):
    hid, first = signed
    later = V2_FROM + dt.timedelta(days=5)  # day 46 of the period: 1% of the house value
    ag.record_agreement(registry, hid, number="A-0014-2", signed_on=str(later), mode="money",
                        by="boss", amends=first, reason="按新方案", rules_version="2026-2",
                        computed_on=str(later))
    amendment = next(a for a in ag.agreements_of(registry, hid) if a["in_force"])
    assert item(amendment, "house_value") == Decimal("764750.00")  # 80.5 × 9,500
    assert item(amendment, "incentive") == Decimal("7647.50")
    assert amendment["breakdown"].rules["version"] == "2026-2"
    with pytest.raises(ag.AgreementError, match="没有补偿方案版本 2099"):
        ag.record_agreement(registry, hid, number="A-0014-3", signed_on=str(later),
                            mode="money", by="boss", amends=amendment["id"], reason="x",
                            rules_version="2099")


def test_a_paper_agreement_entered_late_uses_the_version_of_its_date(registry):
    registry.set_meta("settings", json.dumps({"signing_start": str(START)}))
    rules_mod.set_rules(registry, V1, by="admin")
    rules_mod.set_rules(registry, V2, by="admin")
    hid = registry.save("household", None, HOUSE, by="t", full=True)
    for status in ("surveyed", "published", "valued"):
        move(registry, hid, status, by="t")
    day = V2_FROM - dt.timedelta(days=3)  # signed on paper before 2026-2 took effect
    ag.record_agreement(registry, hid, number="P-1", signed_on=str(day), mode="money", by="b")
    [a] = ag.agreements_of(registry, hid)
    assert a["breakdown"].rules["version"] == "2026-1"
    assert item(a, "house_value") == Decimal("740600.00")


def test_a_version_used_by_an_agreement_cannot_change(registry, signed):
    with pytest.raises(comp.RulesError) as caught:
        rules_mod.set_rules(registry, V1.replace("rate: 12 ", "rate: 13 "))
    assert caught.value.problems[0][0] == "version"
    # An unused version may still be corrected.
    rules_mod.set_rules(registry, V2.replace("rate: 12 ", "rate: 13 "))


def test_versions_travel_to_laptops_and_amendments_there_use_them(tmp_path):
    project = Project(tmp_path / "p", laptops=1, households=0,
                      capabilities=("survey", "status", "agreements"))
    central = project.central
    central.set_meta("settings", json.dumps({"signing_start": str(START)}))
    rules_mod.set_rules(central, V1, by="admin")
    hid = central.save("household", None, HOUSE, by="t", full=True)
    for status in ("surveyed", "published", "valued"):
        move(central, hid, status, by="t")
    first = ag.record_agreement(central, hid, number="A-0014-1", signed_on=str(SIGN),
                                mode="money", by="boss")
    rules_mod.set_rules(central, V2, by="admin")
    project.sync_back()
    lap = project.lap(1)
    assert [v["version"] for v in rules_mod.versions(lap)] == ["2026-1", "2026-2"]
    assert comp.rules_of(lap).version == "2026-2"
    ag.record_agreement(lap, hid, number="A-0014-2", signed_on=str(TODAY), mode="money",
                        by="boss", amends=first, reason="更正")
    amendment = next(a for a in ag.agreements_of(lap, hid) if a["in_force"])
    assert amendment["breakdown"].rules["version"] == "2026-1"
    assert item(amendment, "incentive") == Decimal("30000.00")
    project.close()


def test_the_signing_forms_preview_is_what_gets_frozen(registry, signed):
    hid, first = signed
    later = V2_FROM + dt.timedelta(days=1)
    shown = ag.preview(registry, hid, signed_on=str(later), mode="money", amends=first)
    ag.record_agreement(registry, hid, number="A-0014-2", signed_on=str(later), mode="money",
                        by="boss", amends=first, reason="更正")
    amendment = next(a for a in ag.agreements_of(registry, hid) if a["in_force"])
    assert shown == amendment["breakdown"] and shown.rules["version"] == "2026-1"


def test_rules_stored_before_versions_were_kept_become_the_first_version(registry):
    registry.set_meta("compensation", V1)  # as an older anju stored them: no version row
    rules_mod.set_rules(registry, V2, by="admin")
    assert [v["version"] for v in rules_mod.versions(registry)] == ["2026-1", "2026-2"]
    assert rules_mod.rules_on(registry, V2_FROM - dt.timedelta(days=1)).version == "2026-1"
