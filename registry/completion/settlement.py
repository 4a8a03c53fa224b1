"""The swap settlement (产权调换差价结算) recomputed from the flat(s) a household chose.

The one place that turns chosen flats into a settlement. Where the compensation room's
`calculate` takes a list of flats (`flats=`, branch money2), the chosen flats go there, each
with its real floor area and unit price; otherwise the single-flat swap path runs with the
chosen flat's real area and price in place of its type's nominal ones. Either way under the
same rules version and computing date as the agreement in force (so only the flats differ) and
the household's valuation in force.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
from decimal import Decimal

from anju.registry.compensation.agreements import agreements_of
from anju.registry.compensation.calculation import Breakdown, calculate, valuation_of
from anju.registry.compensation.rules import Rules, rules_on, rules_version
from anju.registry.core.store import Registry, StoreError


class SettlementError(StoreError):
    """A settlement that cannot be computed; the message is for people (Chinese)."""


def _rules_of_agreement(reg: Registry, agreement: dict) -> tuple[Rules, dt.date]:
    frozen = agreement["breakdown"].rules or {}
    on = dt.date.fromisoformat(agreement["breakdown"].on)
    rules = rules_version(reg, frozen.get("version"), frozen.get("hash")) \
        if frozen.get("version") else None
    return rules or rules_on(reg, on), on


def swap_settlement(reg: Registry, household_id: str, flats: list[dict]) -> Breakdown:
    """The breakdown of a household's swap with the chosen flats (each a flats.get_flat row)."""
    agreement = next((a for a in agreements_of(reg, household_id) if a["in_force"]), None)
    if agreement is None or agreement["mode"] != "swap":
        raise SettlementError("这户没有产权调换的现行协议")
    if not flats:
        raise SettlementError("请至少选择一套安置房")
    several = "flats" in inspect.signature(calculate).parameters  # money2's list of flats
    if len(flats) != 1 and not several:
        raise SettlementError("目前每户按一套安置房结算")
    rules, on = _rules_of_agreement(reg, agreement)
    real = []
    for flat in flats:
        kind = rules.flat(flat["flat_type"])
        if kind is None:
            raise SettlementError(f"补偿方案中没有房型 {flat['flat_type']}")
        real.append({**kind, "area": Decimal(str(flat["area"])),
                     "unit_price": Decimal(str(flat["unit_price"])),
                     "label": f"{kind['label']} {flat['label']}"})
    household = reg.get("household", household_id) or {}
    common = {"settings": reg.settings, "valuation": valuation_of(reg, household_id),
              "transition_flat": bool(agreement["breakdown"].options.get("transition_flat"))}
    if several:
        # The compensation room's own settlement of a list of flats, each with its real area
        # and price (registry/compensation/calculation.py, branch money2).
        breakdown = calculate(rules, household, "swap", on, flats=real, **common)
    else:
        # The single-flat swap path, with the chosen flat in place of its type's nominal one.
        data = {**rules.data, "flats": [real[0] if f["code"] == real[0]["code"] else f
                                        for f in rules.data["flats"]]}
        breakdown = calculate(dataclasses.replace(rules, data=data), household, "swap", on,
                              flat=real[0]["code"], **common)
    if not breakdown.complete:
        raise SettlementError("资料不全,无法结算:" + "、".join(breakdown.missing))
    breakdown.flat = {**(breakdown.flat or {}), "flat_id": flats[0]["id"]}
    return breakdown
