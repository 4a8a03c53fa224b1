"""The swap settlement (产权调换差价结算) recomputed from the flat(s) a household chose.

The one place that turns chosen flats into a settlement, so that the call can be switched to
the compensation room's own function for a list of flats when it exists (branch money2 is
adding one to registry/compensation/calculation.py). Until then the settlement goes through the
existing calculation's swap path: the plan's flat type of the chosen flat, with the chosen
flat's real floor area and unit price in place of the type's nominal ones, under the same rules
version and computing date as the agreement in force (so only the flat differs), and the
household's valuation in force.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
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
    if len(flats) != 1:
        raise SettlementError("目前每户按一套安置房结算")
    flat = flats[0]
    rules, on = _rules_of_agreement(reg, agreement)
    kind = rules.flat(flat["flat_type"])
    if kind is None:
        raise SettlementError(f"补偿方案中没有房型 {flat['flat_type']}")
    real = {**kind, "area": Decimal(str(flat["area"])),
            "unit_price": Decimal(str(flat["unit_price"])),
            "label": f"{kind['label']} {flat['label']}"}
    data = {**rules.data, "flats": [real if f["code"] == kind["code"] else f
                                    for f in rules.data["flats"]]}
    chosen_rules = dataclasses.replace(rules, data=data)
    household = reg.get("household", household_id) or {}
    breakdown = calculate(chosen_rules, household, "swap", on, settings=reg.settings,
                          flat=kind["code"],
                          transition_flat=bool(agreement["breakdown"].options.get(
                              "transition_flat")),
                          valuation=valuation_of(reg, household_id))
    if not breakdown.complete:
        raise SettlementError("资料不全,无法结算:" + "、".join(breakdown.missing))
    breakdown.flat = {**(breakdown.flat or {}), "flat_id": flat["id"]}
    return breakdown
