"""The workflow of a household: which status moves are allowed, and making one.

A household moves along one path, 未调查 → 已登记 → 已公示 → 已评估 → 已签约 → 已交房 → 已拆除, one
step at a time, or into a side state (DOMAIN.md, "Stages of a household"):
- 异议中 (disputed): an objection to the survey or the valuation is open; entered from 已登记,
  已公示, 已评估 or 补偿决定; left to the stage the objection sent the household back to
  (已登记, 已公示, 已评估) or to a compensation decision.
- 补偿决定 (decision): a compensation decision was issued to a holdout (Art. 26); entered from
  已评估 or 异议中; left by a late agreement (已签约), by handing the house over (已交房), or by an
  objection to the decision (异议中).
Every move is a change of the household's `status` field, so it records who and when, and syncs.
The collector, the central office and the compensation screens all move a status through `move`.
"""

from __future__ import annotations

from anju.registry.core import localtime
from anju.registry.core.i18n import N_
from anju.registry.core.store import Registry, StoreError, transaction

PATH = ("unsurveyed", "surveyed", "published", "valued", "signed", "handed_over", "demolished")
SIDE_STATES = ("disputed", "decision")
STATUSES = PATH + SIDE_STATES
# Statuses that only the record behind them sets, and that record.
RECORDED = {"signed": "agreement", "handed_over": "handover", "demolished": "demolition"}
# The one definition of "signed" for every page, report and list: the household has reached
# 已签约 on the path (recording its agreement moves it there) and stays signed when it hands the
# house over and when the house is demolished. registry/review/daily.py's test holds every
# page to it.
SIGNED = ("signed", "handed_over", "demolished")


def is_signed(status: str | None) -> bool:
    """Whether a household in `status` counts as signed (SIGNED)."""
    return status in SIGNED

# Moves out of each status that are not the next step on the path.
_SIDE_MOVES = {
    "surveyed": ("disputed",),
    "published": ("disputed",),
    "valued": ("disputed", "decision"),
    "disputed": ("surveyed", "published", "valued", "decision"),
    "decision": ("signed", "handed_over", "disputed"),
}


class WorkflowError(StoreError):
    """A status move that the workflow does not allow; the message is for people."""

    zh = N_("状态不能这样改：%(detail)s")


def allowed_moves(status: str | None) -> list[str]:
    """The statuses a household in `status` may move to, in the order to offer them."""
    status = status or "unsurveyed"
    moves = []
    if status in PATH[:-1]:
        moves.append(PATH[PATH.index(status) + 1])
    moves.extend(m for m in _SIDE_MOVES.get(status, ()) if m not in moves)
    return moves


def move_values(reg: Registry, household_id: str, new_status: str) -> dict:
    """Check a move of one household and return the values to save for it.

    Raises WorkflowError when the household is missing, deleted, or may not move there. Callers
    that save other records in the same transaction (a visit) save these values with them.
    """
    row = reg.get("household", household_id)
    if row is None or row.get("deleted"):
        raise WorkflowError(f"no household {household_id}")
    current = row.get("status") or "unsurveyed"
    if new_status not in allowed_moves(current):
        raise WorkflowError(f"household {row.get('house_no') or household_id}: cannot move "
                            f"from {current} to {new_status}")
    values = {"status": new_status}
    if (new_status == "surveyed" and not row.get("survey_date")
            and reg.definition.record("household").has("survey_date")):
        # Surveyed today, in the project's time zone: the day 今日已调查 counts it.
        values["survey_date"] = localtime.today().isoformat()
    return values


def visit_edits(reg: Registry, household_id: str, visit_id: str,
                values: dict) -> list[tuple[str, str, dict]]:
    """The edits that record one visit: the visit, and for a surveying visit to a household not
    yet surveyed its move to 已登记 through the workflow's rule, dated the visit's day.

    The caller saves them together (`Registry.save_many`), so the visit and the move land in
    one transaction or not at all."""
    edits = [("visit", visit_id, values)]
    row = reg.get("household", household_id) or {}
    if values.get("outcome") == "surveyed" and (row.get("status") or "unsurveyed") == "unsurveyed":
        moved = move_values(reg, household_id, "surveyed")
        if "survey_date" in moved and values.get("visit_date"):
            moved["survey_date"] = values["visit_date"]  # the day of the surveying visit
        edits.append(("household", household_id, moved))
    return edits


def move(reg: Registry, household_id: str, new_status: str, by: str) -> None:
    """Move one household to a new status, as one change recording who moved it and from what."""
    # Check and write in one transaction, so two people moving the same household at once
    # cannot both make a move that was allowed only from the status before the other's move.
    if new_status in RECORDED:
        # These statuses follow records (an agreement, a handover, a demolition date), never a
        # bare status change: see registry/compensation/agreements.py, registry/completion/.
        raise WorkflowError(f"a household becomes {new_status} by recording its "
                            f"{RECORDED[new_status]}")
    with transaction(reg.conn):
        current = (reg.get("household", household_id) or {}).get("status") or "unsurveyed"
        values = move_values(reg, household_id, new_status)
        change = reg.make_change("household", household_id, values, by=by,
                                 note=f"{current} -> {new_status}")
        if change:
            reg.apply([change])
