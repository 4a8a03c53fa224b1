"""The checks a command office relies on for money and households: each with a case that must be
flagged and a near miss that must not (the oracles are the test's own dates and numbers)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest
from anju.registry.compensation import agreements as ag
from anju.registry.compensation import calculation as comp
from anju.registry.compensation import freeze
from anju.registry.core.validation import id_check_char
from anju.registry.core.workflow import move
from anju.registry.review import checks
from hypothesis import given
from hypothesis import strategies as st

from tests.test_checks import house, kinds, member


def today() -> dt.date:
    """Today, read when a test runs (a run may cross midnight)."""
    return dt.date.today()


def old_and_new(area: str, born: dt.date, seq: int) -> tuple[str, str]:
    """The same person's 15-digit and 18-digit resident IDs, built by the test."""
    old = f"{area}{born:%y%m%d}{seq:03d}"
    body = f"{area}{born:%Y%m%d}{seq:03d}"
    return old, body + id_check_char(body)


def test_known_pairs_of_old_and_new_ids_match():
    assert checks.canonical_id("110105491231002") == "11010519491231002X"
    assert checks.canonical_id("440524800101001") == "440524198001010013"
    assert checks.canonical_id(" １１０１０５１９４９１２３１００２ｘ ") == "11010519491231002X"
    assert checks.birth_of("110105491231002") == "1949-12-31"


@given(born=st.dates(dt.date(1900, 1, 1), dt.date(1999, 12, 31)), seq=st.integers(0, 999))
def test_every_old_id_matches_its_new_form(born, seq):
    old, new = old_and_new("370102", born, seq)
    assert checks.canonical_id(old) == checks.canonical_id(new) == new
    assert checks.birth_of(old) == born.isoformat()


def test_one_person_under_an_old_and_a_new_id_in_two_households(registry):
    old, new = old_and_new("440524", dt.date(1980, 1, 1), 1)
    a = house(registry, owner_id_no=old)
    b = house(registry)
    member(registry, b, new, relation="other")
    [flag] = kinds(registry, "duplicate_id")
    assert set(flag.households) == {a, b}


def test_the_same_id_under_two_names_in_one_household(registry):
    _, new = old_and_new("110105", dt.date(1970, 3, 3), 7)
    h = house(registry, owner_id_no=new, owner_name="张伟")
    member(registry, h, new, name="张伟", relation="head")      # the owner again: fine
    assert kinds(registry, "id_two_names") == []
    member(registry, h, new[:6] + new[8:14] + new[14:17], name="张卫", relation="other")
    [flag] = kinds(registry, "id_two_names")
    assert flag.households == (h,) and "2 个姓名" in flag.reason_zh
    assert new not in flag.reason_zh


@pytest.mark.parametrize(("relation", "years", "flagged"), [
    ("child", -1, True), ("child", 25, False), ("grandchild", -3, True),
    ("grandchild", 50, False), ("parent", 2, True), ("parent", -25, False),
])
def test_impossible_relations(registry, relation, years, flagged):
    head_born = dt.date(1970, 6, 15)
    _, head = old_and_new("110105", head_born, 1)
    h = house(registry, owner_id_no=head)
    member(registry, h, head, name="张伟", relation="head")
    _, other = old_and_new("110105", head_born.replace(year=1970 + years), 3)
    member(registry, h, other, name="张小", relation=relation)
    assert bool(kinds(registry, "impossible_relation")) == flagged


def test_certificate_area_zero_with_a_surveyed_area(registry):
    flagged = house(registry, cert_area=0, surveyed_area=60)
    house(registry, cert_area=0)                       # nothing surveyed: nothing to compare
    house(registry, cert_area=0.5, surveyed_area=60)   # small, but not zero (area_mismatch's)
    assert [f.households for f in kinds(registry, "cert_area_zero")] == [(flagged,)]


def test_members_born_after_the_freeze_are_not_moves(registry):
    registry.set_meta("settings", json.dumps({"freeze_date": "2026-01-01"}))
    h = house(registry)
    _, baby = old_and_new("110105", dt.date(2026, 3, 1), 5)
    member(registry, h, baby, relation="grandchild", registered_on="2026-03-10")
    assert kinds(registry, "freeze_member") == []
    _, adult = old_and_new("110105", dt.date(1990, 3, 1), 7)
    mover = member(registry, h, adult, relation="other", registered_on="2026-01-02")
    [flag] = kinds(registry, "freeze_member")
    assert ("member", mover) in flag.records


def test_one_freeze_boundary_for_checks_and_compensation(registry):
    registry.set_meta("settings", json.dumps({"freeze_date": "2026-06-01"}))
    built = {year: house(registry, year_built=year, cert_area=50, unregistered_area=10,
                         decoration="none") for year in (2025, 2026)}
    flagged = {f.households[0] for f in kinds(registry, "freeze_building")}
    rules = comp.rules_of(registry)
    for year, hid in built.items():
        area = comp.recognised_area(rules.data["area"], registry.get("household", hid),
                                    registry.settings)[0]
        counted = area > 50
        assert (hid in flagged) == (not counted) == freeze.built_after_freeze(year, "2026-06-01")
    assert freeze.built_after_freeze(2026, "2026-06-01") and not freeze.built_after_freeze(
        2025, "2026-06-01")


# -- checks on agreements --------------------------------------------------------------------
@pytest.fixture
def signing(registry):
    """Settings with a signing period, and a helper that signs a valued household."""
    start = today() - dt.timedelta(days=20)
    registry.set_meta("settings", json.dumps({
        "signing_start": str(start), "signing_end": str(today() - dt.timedelta(days=2)),
        "signing_burst": 3}))

    def sign(on: dt.date, *, valued: dt.date | None = None, cadre="王干部", **values):
        hid = house(registry, **{"decoration": "none", "cert_area": 60, "cadre": cadre,
                                 "valuation_date": str(valued or start), **values})
        for status in ("surveyed", "published", "valued"):
            move(registry, hid, status, by="t")
        ag.record_agreement(registry, hid, number=f"N-{hid[:8]}", signed_on=str(on),
                            mode="money", by="t")
        return hid

    return start, sign


def test_agreements_before_their_valuation_or_outside_the_period(registry, signing):
    start, sign = signing
    early = sign(start - dt.timedelta(days=1))
    before_valuation = sign(start + dt.timedelta(days=3), valued=start + dt.timedelta(days=4))
    late = sign(today() - dt.timedelta(days=1))
    sign(start)                                             # the first day: fine
    sign(start + dt.timedelta(days=4), valued=start + dt.timedelta(days=4))  # same day: fine
    sign(today() - dt.timedelta(days=2))                      # the last day: fine
    flags = {f.households[0]: f for f in kinds(registry, "agreement_dates")}
    assert set(flags) == {early, before_valuation, late}
    assert "早于签约期开始" in flags[early].reason_zh
    assert "早于评估日期" in flags[before_valuation].reason_zh
    assert "晚于签约期截止" in flags[late].reason_zh


def test_a_status_contradicting_the_agreement(registry, signing):
    start, sign = signing
    hid = sign(start + dt.timedelta(days=1))
    assert kinds(registry, "status_agreement") == []
    registry.save("household", hid, {"status": "disputed"}, by="t")  # a forbidden move, forced
    [flag] = kinds(registry, "status_agreement")
    assert "异议中" in flag.reason_zh
    bare = house(registry, status="signed")
    assert {f.households[0] for f in kinds(registry, "status_agreement")} == {hid, bare}


def test_many_signings_by_one_cadre_on_one_day(registry, signing):
    start, sign = signing
    day = start + dt.timedelta(days=5)
    burst = [sign(day) for _ in range(4)]                   # 4 > the setting's 3
    for _ in range(3):
        sign(day, cadre="李干部")                            # 3: not more than 3
    sign(day + dt.timedelta(days=1))
    [flag] = kinds(registry, "signing_burst")
    assert set(flag.households) == set(burst) and "王干部" in flag.reason_zh


def test_compensation_per_m2_far_from_its_peers(registry, signing):
    start, sign = signing
    registry.set_meta("settings", json.dumps({"signing_start": str(start)}))
    for i in range(12):
        sign(start + dt.timedelta(days=i % 5), cadre=f"c{i}", cert_area=60 + i)
    registry.set_meta("compensation", comp.default_rules_text().replace(
        "brick_concrete: 9200", "brick_concrete: 19200"))
    odd = sign(start + dt.timedelta(days=1), cadre="x", cert_area=65)
    flags = kinds(registry, "rate_outlier")
    assert [f.households for f in flags] == [(odd,)]
    # The test's own robust statistic: per m² of each agreement, median and MAD.
    rates = sorted(float(a["total"]) / float(a["breakdown"].area)
                   for a in ag.all_agreements(registry))
    median = rates[len(rates) // 2]
    mad = sorted(abs(r - median) for r in rates)[len(rates) // 2] * 1.4826
    assert sum(abs(r - median) / mad > 5 for r in rates) == 1


def test_one_house_number_in_two_zones(registry, tmp_path):
    from anju.registry.core.changes import Change, new_id, now
    from anju.registry.core.store import transaction
    a = house(registry, house_no="A-0002", zone="东关片区A地块")
    # The same number made on another laptop meanwhile: it arrives by a merge, not a save.
    b = new_id()
    with transaction(registry.conn):
        registry.apply([Change(
            change_id=new_id(), device_id="other-laptop", seq=1, record_type="household",
            record_id=b, fields={"house_no": "A-0002", "zone": "西门片区", "address": "西门1号",
                                 "structure": "simple", "owner_name": "李娜"},
            base={}, at=now(), by="surveyor2")])
    house(registry, house_no="A-0003", zone="西门片区")
    [flag] = kinds(registry, "duplicate_house_no")
    assert set(flag.households) == {a, b}
    out = subprocess.run([sys.executable, "-m", "anju.registry.cli", "compensation",
                          str(registry.path), "calc", "A-0002"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2 and "used by 2 households" in out.stderr
    assert "Traceback" not in out.stderr
