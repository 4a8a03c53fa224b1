"""The query API on Registry (registry/core/lookups.py): the repeated lookups, one SQL each."""

import pytest
from anju.registry.core.changes import new_id
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import HOUSEHOLD


def test_a_record_leads_to_its_household_and_house_number(registry, household):
    visit = registry.save("visit", new_id(), {"household_id": household, "visit_date":
                                              "2026-11-03", "outcome": "not_home",
                                              "surveyor": "li"}, by="li", full=False)
    assert registry.household_of("visit", visit) == household
    assert registry.household_of("household", household) == household
    assert registry.house_no_of("visit", visit) == HOUSEHOLD["house_no"]
    assert registry.record_type_of(visit) == "visit"
    assert registry.record_type_of(new_id()) is None
    assert registry.house_no_of("visit", new_id()) is None
    assert registry.house_numbers() == {household: HOUSEHOLD["house_no"]}
    assert registry.conflict_count() == 0
    assert registry.device_names()[registry.device_id] == "central"


@pytest.mark.parametrize("hostile", ["household]; DROP TABLE change; --", "sqlite_master",
                                     "no_such_type"])
def test_only_the_survey_s_record_types_and_fields_reach_sql(registry, hostile):
    with pytest.raises(KeyError):
        registry.household_of(hostile, new_id())
    with pytest.raises(KeyError):
        registry.distinct_values(hostile)
    assert registry.conn.execute("SELECT count(*) FROM change").fetchone()[0] == 0


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["刘娜", "王磊", "蔡利", ""]), min_size=1, max_size=8))
def test_distinct_values_are_the_sorted_set_of_non_empty_values(registry, cadres):
    before = {r[0] for r in registry.conn.execute("SELECT cadre FROM household")}
    for i, cadre in enumerate(cadres):
        registry.save("household", None, {**HOUSEHOLD, "house_no": f"Z-{new_id()[:8]}-{i}",
                                          "cadre": cadre}, by="li", full=True)
    expected = sorted((before | set(cadres)) - {"", None})   # the oracle: a plain set
    assert registry.distinct_values("cadre") == expected
