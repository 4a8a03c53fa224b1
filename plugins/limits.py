"""Bounds of the public site's SQL: what one anonymous query may cost, and what it may see.

Datasette's time limit is a progress handler, called between SQLite's steps: it cannot stop one
long step (`randomblob(999999999)` ran 9.5 s past the 1 s limit and took 1 GB). SQLite's own
limits stop such a step before it starts (a value is at most LENGTH bytes), and a heap limit
caps the memory of everything the site's SQLite does. The authorizer blanks the pragma column
that names the server's files and refuses printf, whose width alone can run for seconds in one step.
No hooks here: anju_site.py calls `bound` and `databases`;
`anju serve` calls `limit_heap`.
"""

from __future__ import annotations

import sqlite3

from anju.registry.core.store import connect

# (limit, value): sizes a published table never comes near.
LIMITS = (
    (sqlite3.SQLITE_LIMIT_LENGTH, 10_000_000),          # one string or blob: 10 MB
    (sqlite3.SQLITE_LIMIT_SQL_LENGTH, 100_000),         # the text of one statement
    (sqlite3.SQLITE_LIMIT_COLUMN, 500),
    (sqlite3.SQLITE_LIMIT_EXPR_DEPTH, 100),
    (sqlite3.SQLITE_LIMIT_COMPOUND_SELECT, 50),
    (sqlite3.SQLITE_LIMIT_VDBE_OP, 100_000),
    (sqlite3.SQLITE_LIMIT_FUNCTION_ARG, 64),
    (sqlite3.SQLITE_LIMIT_ATTACHED, 0),                 # no ATTACH of another file
    (sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 1_000),
    (sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 500),
)
# All of SQLite's memory in the public site's process (page caches included): a query that
# needs more fails with "out of memory" instead of taking the machine's. A process-wide setting,
# made by `anju serve` (registry.publication.serve.run) for the public site only.
HEAP_LIMIT = 256 * 1024 * 1024
# Columns of pragma tables that hold file paths: read as NULL. (Datasette runs `PRAGMA
# database_list` itself and only reads the names; user SQL reaches the pragma_* table form.)
PATH_COLUMNS = frozenset({("pragma_database_list", "file")})
# Functions that can spend seconds in one step, out of the progress handler's reach:
# printf('%.*c', 999999999, 'x') took 25 s before SQLite noticed its result was too long.
SLOW_FUNCTIONS = frozenset({"printf", "format"})


def bound(conn: sqlite3.Connection) -> None:
    """Put the public site's limits on one of its connections."""
    for limit, value in LIMITS:
        conn.setlimit(limit, value)

    def authorizer(action, arg1, arg2, _db, _source):
        if action == sqlite3.SQLITE_READ and (arg1, arg2) in PATH_COLUMNS:
            return sqlite3.SQLITE_IGNORE
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in SLOW_FUNCTIONS:
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    conn.set_authorizer(authorizer)


def limit_heap(limit: int = HEAP_LIMIT) -> None:
    """Cap the memory SQLite may take in this whole process."""
    conn = connect(":memory:", wal=False)
    try:
        conn.execute(f"PRAGMA hard_heap_limit = {int(limit)}")
    finally:
        conn.close()


def databases(datasette) -> list[dict]:
    """What /-/databases.json says, without the server's file paths."""
    return [{k: v for k, v in d.items() if k != "path"}
            for d in datasette._connected_databases()]
