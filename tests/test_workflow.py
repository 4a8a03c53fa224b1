"""The workflow rule: status moves only along the path or into a side state."""

import datetime as dt

import pytest
from anju.registry.core.workflow import PATH, STATUSES, WorkflowError, allowed_moves, move


def test_path_moves_one_step_forward():
    for here, there in zip(PATH, PATH[1:]):
        assert allowed_moves(here)[0] == there
    assert allowed_moves("demolished") == []
    assert allowed_moves(None) == ["surveyed"]


def test_no_move_skips_a_stage_or_goes_back_on_the_path():
    for status in STATUSES:
        for target in allowed_moves(status):
            assert target in STATUSES and target != status
            if status in PATH and target in PATH:
                assert PATH.index(target) == PATH.index(status) + 1


def test_side_states():
    assert "disputed" in allowed_moves("published")
    assert "decision" in allowed_moves("valued")
    assert "decision" not in allowed_moves("surveyed")
    assert set(allowed_moves("disputed")) == {"surveyed", "published", "valued", "decision"}
    assert "signed" in allowed_moves("decision")


def test_move_records_who_and_refuses_a_jump(registry, household):
    move(registry, household, "surveyed", by="li")
    assert registry.get("household", household)["status"] == "surveyed"
    last = registry.changes_of(household)[-1]
    # the move dates the survey, in the project's day (Beijing: UTC+8 all year)
    today = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).date().isoformat()
    assert last.by == "li" and last.fields == {"status": "surveyed", "survey_date": today}
    assert last.note == "unsurveyed -> surveyed"
    with pytest.raises(WorkflowError, match="cannot move from surveyed to valued"):
        move(registry, household, "valued", by="li")
    with pytest.raises(WorkflowError, match="recording its agreement"):
        move(registry, household, "signed", by="li")
    assert registry.get("household", household)["status"] == "surveyed"
    with pytest.raises(WorkflowError):
        move(registry, "no-such-household", "surveyed", by="li")
