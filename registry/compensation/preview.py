"""What a rules change would mean: the rules being edited tried on a sample household.

The rules editor shows, before anything is saved, the money and swap breakdowns of one household
under the posted rules: a household of the project chosen by house number, else the first one
with a surveyed area, else a made-up household in the rules' first zone. Nothing is stored.
"""

from __future__ import annotations

import datetime as dt

from anju.registry.compensation import calculation as comp
from anju.registry.compensation.rules import parse_rules
from anju.registry.core.store import Registry

# A made-up household for a project with none yet: a brick-concrete house of 80 m² on the
# certificate, 10 m² unregistered, medium decoration.
SAMPLE = {"house_no": "示例", "owner_name": "示例住户", "structure": "brick_concrete",
          "cert_area": 80, "surveyed_area": 82, "unregistered_area": 10, "decoration": "medium",
          "year_built": 1995, "preferred_flat_size": 75}


def sample_household(reg: Registry, rules: comp.Rules, house_no: str = "") -> tuple[dict, bool]:
    """(household, is_real): the household to try rules on."""
    if house_no:
        row = reg.conn.execute("SELECT id FROM household WHERE house_no = ? AND deleted IS NULL",
                               (house_no.strip()[:40],)).fetchone()
        if row:
            return reg.get("household", row[0]), True
    row = reg.conn.execute("SELECT id FROM household WHERE deleted IS NULL AND cert_area > 0 "
                           "AND zone IS NOT NULL ORDER BY house_no LIMIT 1").fetchone()
    if row:
        return reg.get("household", row[0]), True
    zone = next(iter(rules.data.get("unit_prices") or {}), None)
    return {**SAMPLE, "zone": zone}, False


def preview(reg: Registry, text: str, house_no: str = "", on: dt.date | None = None) -> dict:
    """Check `text` and compute a sample household's breakdowns under it, storing nothing.

    Raises RulesError (as parse_rules) when the rules are invalid."""
    rules = parse_rules(text, reg.definition)
    household, real = sample_household(reg, rules, house_no)
    on = on or dt.date.today()
    settings = dict(reg.settings)
    assumed = not settings.get("signing_start") and not (rules.data.get("incentive") or {}
                                                          ).get("start")
    if assumed:  # no signing period yet: try it as if it started today (day 1)
        settings["signing_start"] = on.isoformat()
    breakdowns = [comp.calculate(rules, household, mode, on, settings=settings)
                  for mode in comp.MODES]
    return {"rules": rules, "household": household, "real": real, "on": on,
            "breakdowns": breakdowns, "assumed_start": assumed}
