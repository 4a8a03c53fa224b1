"""The freeze boundary (Art. 16 and local rules): the one place that says whether a house was
built, or a person registered, after the freeze. Compensation (unregistered area not recognised)
and the checks (抢建, 突击落户 flags) both ask here, so they can never disagree.

A house records only the year it was built: a house built in the freeze year may be from before
or after the freeze date, so it counts as after (not compensated as built before, and flagged
for someone to look at the documents). A member registered after the freeze date is a
突击落户 unless born after it: a newborn's registration is not a move.
"""

from __future__ import annotations

import datetime as dt


def _date(value) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def freeze_year(freeze_date) -> int | None:
    """The year of the freeze date, or None without a (valid) freeze date."""
    day = _date(freeze_date)
    return day.year if day else None


def built_after_freeze(year_built, freeze_date) -> bool:
    """Whether a house built in `year_built` counts as built after the freeze (the freeze year
    included); False when either is unknown."""
    year = freeze_year(freeze_date)
    try:
        built = int(year_built)
    except (TypeError, ValueError):
        return False
    return year is not None and built >= year


def registered_after_freeze(registered_on, freeze_date, born=None) -> bool:
    """Whether a member's registration at the address is a move after the freeze (突击落户):
    registered after the freeze date and not born after it."""
    on, freeze, birth = _date(registered_on), _date(freeze_date), _date(born)
    if on is None or freeze is None or on <= freeze:
        return False
    return not (birth is not None and birth > freeze)
