"""Every check on crafted registries: a case that must be flagged and a near miss that must not."""

import datetime as dt
import json

import pytest
from anju.registry.core import settings
from anju.registry.core.validation import id_check_char
from anju.registry.review import checks
from anju.registry.review import decisions as review

N = 0


def rid(born: str = "19800101", seq: int = 1) -> str:
    """A valid resident ID."""
    body = f"110105{born}{seq:03d}"
    return body + id_check_char(body)


def house(reg, **values) -> str:
    """Save a household with sensible defaults; return its id."""
    global N
    N += 1
    data = {"house_no": f"T-{N:04d}", "zone": "东关片区A地块", "address": f"东关街{N}号",
            "structure": "brick_concrete", "owner_name": "张伟"}
    data.update(values)
    return reg.save("household", None, data, by="tester", full=True)


def member(reg, household_id: str, id_no: str, **values) -> str:
    data = {"household_id": household_id, "name": "李娜", "id_no": id_no, "relation": "child"}
    data.update(values)
    return reg.save("member", None, data, by="tester", full=True)


def kinds(reg, kind: str) -> list:
    return [f for f in checks.run_checks(reg) if f.kind == kind]


def test_duplicate_id_across_households(registry):
    a = house(registry, owner_id_no=rid(seq=11))
    b = house(registry)
    m = member(registry, b, rid(seq=11))
    [flag] = kinds(registry, "duplicate_id")
    assert set(flag.households) == {a, b}
    assert ("member", m) in flag.records
    assert "110105" in flag.reason_zh and "一" not in flag.reason_en
    assert rid(seq=11) not in flag.reason_zh  # the full ID is never in a reason


def test_duplicate_id_near_miss_same_household_and_tombstone(registry):
    a = house(registry, owner_id_no=rid(seq=21))
    member(registry, a, rid(seq=21), relation="head")   # the owner is also the head: one household
    gone = house(registry)
    member(registry, gone, rid(seq=21))
    registry.delete("household", gone, reason="录入错误", by="tester")
    assert kinds(registry, "duplicate_id") == []


def test_duplicate_cert_normalised(registry):
    a = house(registry, property_cert_no="鲁(2019)第1234567号")
    b = house(registry, property_cert_no="鲁（2019）第 1234567 号")  # full-width, spaces
    [flag] = kinds(registry, "duplicate_cert")
    assert set(flag.households) == {a, b}


def test_duplicate_cert_near_miss_other_type(registry):
    house(registry, property_cert_no="X-100")
    house(registry, land_cert_no="X-100")       # same text, a different certificate type
    house(registry, property_cert_no="X-101")
    assert kinds(registry, "duplicate_cert") == []


def test_freeze_member(registry):
    settings.set_value(registry, "freeze_date", "2021-03-01")
    h = house(registry)
    late = member(registry, h, rid(seq=31), registered_on="2021-03-02")
    member(registry, h, rid(seq=33), registered_on="2021-03-01")  # on the freeze day: allowed
    [flag] = kinds(registry, "freeze_member")
    assert ("member", late) in flag.records
    assert "2021-03-02" in flag.reason_zh


def test_freeze_member_needs_a_freeze_date(registry):
    h = house(registry)
    member(registry, h, rid(seq=35), registered_on="2024-01-01")
    assert kinds(registry, "freeze_member") == []


def test_freeze_building(registry):
    settings.set_value(registry, "freeze_date", "2020-06-01")
    late = house(registry, year_built=2021)
    house(registry, year_built=2020)
    [flag] = kinds(registry, "freeze_building")
    assert flag.households == (late,)


def test_area_mismatch_with_tolerance_setting(registry):
    off = house(registry, cert_area=100, surveyed_area=105.5)
    house(registry, cert_area=100, surveyed_area=105)      # exactly 5%: within the tolerance
    house(registry, cert_area=80, surveyed_area=76.5)
    [flag] = kinds(registry, "area_mismatch")
    assert flag.households == (off,) and "+5.5%" in flag.reason_zh
    settings.set_value(registry, "area_tolerance", "0.1")
    assert kinds(registry, "area_mismatch") == []


def test_use_mismatch(registry):
    shop = house(registry, registered_use="residential", actual_use="non_residential")
    house(registry, registered_use="residential", actual_use="residential")
    house(registry, registered_use="non_residential", actual_use="mixed")
    house(registry, registered_use="residential")                  # actual use not surveyed
    [flag] = kinds(registry, "use_mismatch")
    assert flag.households == (shop,) and "非住宅" in flag.reason_zh


def test_duplicate_house_by_number_and_by_address(registry):
    a = house(registry, house_no="A-0001", zone="西门片区", address="西门街1号")
    b = house(registry, house_no="a-0001", zone="西门片区", address="西门街2号")
    c = house(registry, address="北街 ３８ 号")
    d = house(registry, address="北街38号")
    found = {f.households for f in kinds(registry, "duplicate_house")}
    assert found == {tuple(sorted((a, b))), tuple(sorted((c, d)))}


def test_duplicate_house_near_miss(registry):
    house(registry, house_no="B-0001", zone="西门片区", address="西门街1号")
    house(registry, house_no="B-0010", zone="北街片区", address="北街1号")   # similar number
    house(registry, address="北街38号")
    house(registry, address="北街39号")
    assert kinds(registry, "duplicate_house") == []


def test_date_order(registry):
    bad = house(registry, valuation_commissioned="2024-05-10", valuation_date="2024-05-01")
    house(registry, valuation_commissioned="2024-05-10", valuation_date="2024-05-10")
    house(registry, survey_date="2024-04-01", valuation_commissioned="2024-03-01",
          valuation_date="2024-04-20")   # commissioned before the survey: allowed
    [flag] = kinds(registry, "date_order")
    assert flag.households == (bad,) and "评估报告日期" in flag.reason_zh


def test_tombstoned_records_ignored(registry):
    settings.set_value(registry, "freeze_date", "2021-03-01")
    h = house(registry, year_built=2022, cert_area=50, surveyed_area=90)
    m = member(registry, h, rid(seq=41), registered_on="2022-01-01")
    assert {f.kind for f in checks.run_checks(registry)} == {"freeze_building", "area_mismatch",
                                                             "freeze_member"}
    registry.delete("member", m, reason="重复录入", by="tester")
    registry.delete("household", h, reason="重复录入", by="tester")
    assert checks.run_checks(registry) == []


def test_flag_table_rebuilt_with_stable_keys(registry):
    h = house(registry, cert_area=100, surveyed_area=120)
    first = checks.run_checks(registry)
    found_at = registry.conn.execute("SELECT found_at FROM flag").fetchone()[0]
    again = checks.run_checks(registry)
    assert [f.key for f in first] == [f.key for f in again]
    assert registry.conn.execute("SELECT found_at FROM flag").fetchone()[0] == found_at
    stored = registry.conn.execute("SELECT kind, records FROM flag").fetchone()
    assert stored[0] == "area_mismatch" and json.loads(stored[1]) == [["household", h]]
    registry.save("household", h, {"surveyed_area": 130}, by="tester")
    [again] = checks.run_checks(registry)
    assert again.key == first[0].key
    row = registry.conn.execute("SELECT found_at, reason_zh FROM flag").fetchone()
    assert row[0] == found_at and "+30.0%" in row[1]   # same finding, reason up to date
    registry.save("household", h, {"surveyed_area": 101}, by="tester")
    checks.run_checks(registry)
    assert registry.conn.execute("SELECT count(*) FROM flag").fetchone()[0] == 0


def test_decision_closes_a_flag_across_rebuilds(registry):
    h = house(registry, registered_use="residential", actual_use="mixed")
    [flag] = checks.run_checks(registry)
    assert [i["key"] for i in review.open_items(registry, h)] == [flag.key]
    review.decide(registry, flag.key, "dismissed", "一楼临街小卖部，经核实按住宅补偿", by="sup")
    checks.run_checks(registry)
    assert review.open_items(registry, h) == []
    assert checks.summary(registry)["use_mismatch"] == {"open": 0, "closed": 1}
    with pytest.raises(Exception, match="reason"):
        review.decide(registry, flag.key, "reopened", "  ", by="sup")
    review.decide(registry, flag.key, "reopened", "群众举报，重新核查", by="sup")
    assert len(review.open_items(registry, h)) == 1


def test_checks_are_fast_enough_for_a_demo(tmp_path):
    """A smoke test on a demo registry: its planted abuses are found."""
    from anju.registry.core.store import Registry
    from anju.registry.field.demo import build_demo
    path = build_demo(tmp_path, households=150, devices=2, seed=3,
                      today=dt.date(2026, 6, 1))
    with Registry.open(path) as reg:
        found = {f.kind for f in checks.run_checks(reg)}
    assert {"duplicate_id", "duplicate_cert", "freeze_member"} <= found
