"""The demo builder follows the workflow: every status move it makes is one the workflow allows,
a household is signed only with an agreement, signed within the signing period after its
valuation, and its members' ages fit their relations (the checks find nothing of that)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from anju.registry.core.store import Registry
from anju.registry.core.workflow import allowed_moves
from anju.registry.field.demo import build_demo
from anju.registry.review import checks

TODAY = dt.date(2026, 11, 20)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = build_demo(tmp_path_factory.mktemp("demo"), households=300, seed=11, today=TODAY)
    with Registry.open(path) as reg:
        yield reg


def test_every_status_move_is_allowed(demo):
    moves: dict[str, list[str]] = {}
    for record_id, fields in demo.conn.execute(
            "SELECT record_id, fields FROM change WHERE record_type = 'household' "
            "ORDER BY record_id, substr(at, 1, 10), seq"):  # by day, then order of saving
        status = json.loads(fields).get("status")
        if status:
            moves.setdefault(record_id, []).append(status)
    assert len(moves) == 300
    for path in moves.values():
        assert path[0] == "unsurveyed"
        for before, after in zip(path, path[1:], strict=False):
            assert after in allowed_moves(before), path


def test_signed_households_hold_one_agreement_signed_in_the_period(demo):
    settings = demo.settings
    rows = demo.conn.execute("""
        SELECT h.status, h.valuation_date, count(a.id), min(a.signed_on) FROM household h
        LEFT JOIN agreement a ON a.household_id = h.id GROUP BY h.id""").fetchall()
    signed = [r for r in rows if r[0] in ("signed", "handed_over", "demolished")]
    assert signed and all(n == 1 for _, _, n, _ in signed)
    assert all(n == 0 for status, _, n, _ in rows if status not in
               ("signed", "handed_over", "demolished"))
    for _, valued, _, on in signed:
        assert valued <= on and settings["signing_start"] <= on < str(TODAY)


def test_the_checks_find_no_workflow_or_relation_faults_in_the_demo(demo):
    found = {f.kind for f in checks.find_flags(demo)}
    assert not found & {"status_agreement", "agreement_dates", "impossible_relation",
                        "double_agreement", "agreement_number"}
    # The planted abuses are still there.
    assert {"duplicate_id", "duplicate_cert", "freeze_member"} <= found
