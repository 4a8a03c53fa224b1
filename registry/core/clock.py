"""Time in the change log: the wall clock people read, and a hybrid logical clock that orders.

Every change keeps `at`, the wall-clock UTC time of the computer that made it (for display and
reports), and `hlc`, a hybrid logical clock in the same text format: never below the computer's
wall clock, and always after every change this database holds (its own and every change it has
merged). So an edit made after seeing a value orders after it, however slow or fast the clock of
the laptop that made either; among concurrent changes the greatest (hlc, device_id, change_id)
wins. A laptop whose wall clock is far ahead is not refused: its changes are merged and flagged
(`clock_ahead`, registry/review/time_checks.py).

`OFFSET` shifts this process's wall clock; only tests set it, to play a laptop with a wrong clock.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
OFFSET = dt.timedelta(0)
# A change whose wall clock is further ahead of the receiving database's is flagged.
AHEAD_LIMIT = dt.timedelta(hours=24)
TICK = dt.timedelta(microseconds=1)


def wall_datetime() -> dt.datetime:
    """This computer's UTC time (as far as its clock can be trusted)."""
    return dt.datetime.now(dt.UTC) + OFFSET


def wall() -> str:
    """This computer's UTC time in the change log's format."""
    return format_time(wall_datetime())


def today() -> dt.date:
    """This computer's local calendar day."""
    return (dt.datetime.now() + OFFSET).date()


def format_time(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime(FORMAT)


def parse_time(text: str) -> dt.datetime | None:
    """A change-log time as an aware datetime, or None if it is not one."""
    try:
        return dt.datetime.strptime(text, FORMAT).replace(tzinfo=dt.UTC)
    except (TypeError, ValueError):
        return None


def after(text: str) -> str:
    """The smallest clock value after `text`."""
    when = parse_time(text)
    if when is None:
        return text
    if when.year >= 9999:
        return text
    return format_time(when + TICK)


def next_hlc(conn: sqlite3.Connection, wall_time: str | None = None) -> str:
    """The clock value of a change made now: after every change this database holds, and never
    below the wall clock."""
    wall_time = wall_time or wall()
    row = conn.execute("SELECT MAX(hlc) FROM change").fetchone()
    seen = row[0] if row and row[0] else ""
    return max(wall_time, after(seen)) if seen else wall_time


def ahead(at: str, received_at: str) -> bool:
    """Whether a change's wall clock was implausibly far ahead of the receiver's when received."""
    made, got = parse_time(at), parse_time(received_at)
    return made is not None and got is not None and made - got > AHEAD_LIMIT
