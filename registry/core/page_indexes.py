"""Indexes that the central office's pages read their figures from (issue 21).

The record tables are derived from the survey definition after the migrations run, so their
indexes cannot live in a migration: `ensure` creates the missing ones (once, at the first page
or report; a few seconds on a million households) and is a cheap lookup after that.
"""

from __future__ import annotations

import re
import sqlite3

INDEXES = {
    # every count by zone / cadre / status of the progress page, the 日报 and /compensation:
    # one scan of this index, never of the wide table
    "pages_household_zone_cadre": "household (zone, cadre, status, deleted)",
    # a zone's list in its order, paged: the page's rows are a range of it
    "pages_household_zone_list": "household (zone, house_no, id, deleted)",
    # hardship households (a few in a hundred): their counts never read the other rows
    "pages_household_hardship": "household (hardship, status, deleted) "
                                "WHERE hardship IS NOT NULL",
    # deleted households are few: the trend subtracts theirs
    "pages_household_deleted": "household (id) WHERE deleted IS NOT NULL",
    # the agreements' heads per household and their totals, without reading a breakdown
    "pages_agreement_heads": "agreement (household_id, id, deleted, total)",
    # "is this agreement amended?" for agreements in force
    "pages_agreement_amends": "agreement (amends) WHERE amends IS NOT NULL",
}


def ensure(conn: sqlite3.Connection) -> bool:
    """Create the pages' indexes that are missing (tables that do not exist are skipped);
    False when some could not be made now (the database busy or read-only)."""
    have = {name for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'pages_%'")}
    missing = [name for name in INDEXES if name not in have]
    if not missing:
        return True
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master "
                                               "WHERE type = 'table'")}
    try:
        for name in missing:
            table = INDEXES[name].split(" ", 1)[0]
            if table in tables:
                conn.execute(f"CREATE INDEX IF NOT EXISTS [{name}] ON {INDEXES[name]}")
    except sqlite3.OperationalError:
        return False
    return True


HINT = re.compile(r"INDEXED BY \[?pages_\w+\]?\s*")


def hinted(conn: sqlite3.Connection, sql: str) -> str:
    """`sql` with its INDEXED BY hints when the pages' indexes exist, else without them (the
    planner's own choice: slower, the same answer)."""
    return sql if ensure(conn) else HINT.sub("", sql)
