"""Facet counts of the public database, computed once when it is published.

The public.db is immutable: every count a facet shows on the public site is fixed the moment the
file is written. Datasette counts them per request (a GROUP BY over the filtered rows: at
1,000,000 households, hundreds of milliseconds per page). `write_counts` computes them once, at
publish time, into `facet_count`, for the table unfiltered and for every combination of up to
`MAX_FILTERS` equality filters on the faceted columns; plugins/facets.py answers the site's
facet requests from it, and leaves every other request to Datasette.

All of it comes from one GROUP BY over the faceted columns together (the "cube": one row per
combination that occurs, a few thousand at most), whose marginals are summed here. The counts
are of rows already published, so the table reveals nothing the household table does not.

Tables:
- facet_count (tbl, filters, col, value, count): filters is the canonical JSON list of
  [column, value] pairs sorted by column (`filter_key`), "[]" for none; value keeps its SQLite
  type (the column has no affinity), so ORDER BY count DESC, value sorts as Datasette does.
- facet_column (tbl, col): the columns the counts cover, as facets and as filters.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from pathlib import Path

import yaml

MAX_FILTERS = 2
# A cube larger than this is not precomputed (a faceted column with too many values): the site
# then counts per request, as plain Datasette does.
MAX_CUBE = 200_000
METADATA = Path(__file__).resolve().parent.parent.parent / "schema" / "metadata.yaml"


def filter_key(pairs) -> str:
    """The canonical text of a set of equality filters: [[column, value], ...] by column."""
    return json.dumps(sorted([list(p) for p in pairs]), ensure_ascii=False,
                      separators=(",", ":"))


def metadata_facets(table: str = "household") -> list[str]:
    """The facets schema/metadata.yaml names for a public table."""
    raw = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
    tables = raw["public"]["databases"]["public"].get("tables") or {}
    return list((tables.get(table) or {}).get("facets") or [])


def metadata_sort(table: str = "household") -> str | None:
    """The column schema/metadata.yaml sorts a public table by."""
    raw = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
    tables = raw["public"]["databases"]["public"].get("tables") or {}
    return (tables.get(table) or {}).get("sort")


def sort_indexes(conn, table: str = "household") -> None:
    """An index (facet column, sort column) per faceted column: a page filtered by a facet
    value reads its first rows in the site's order and counts its rows from one index range,
    instead of sorting every matching row (a second at 250,000 households)."""
    sort = metadata_sort(table)
    columns = {r[1] for r in conn.execute(f"PRAGMA table_info({_quote(table)})")}
    if sort not in columns:
        return
    for col in metadata_facets(table):
        if col in columns and col != sort:
            conn.execute(f"CREATE INDEX {_quote(f'{table}_{col}_by_{sort}')} ON "
                         f"{_quote(table)} ({_quote(col)}, {_quote(sort)})")


def _quote(name: str) -> str:
    return "[" + name.replace("]", "]]") + "]"


def eligible_columns(conn, table: str, columns: list[str]) -> list[str]:
    """The columns that can be precomputed: declared TEXT and holding only text or NULL, so an
    equality filter's text parameter matches exactly the values the counts are keyed by."""
    declared = {r[1]: (r[2] or "").upper() for r in conn.execute(
        f"PRAGMA table_info({_quote(table)})")}
    out = []
    for col in dict.fromkeys(columns):
        if declared.get(col) != "TEXT":
            continue
        other = conn.execute(f"SELECT 1 FROM {_quote(table)} WHERE {_quote(col)} IS NOT NULL "
                             f"AND typeof({_quote(col)}) != 'text' LIMIT 1").fetchone()
        if other is None:
            out.append(col)
    return out


def write_counts(conn, table: str = "household", columns: list[str] | None = None) -> int:
    """Write facet_count and facet_column for `table` (in the caller's connection, its own
    transaction); return the number of count rows written (0 when nothing was precomputed)."""
    columns = eligible_columns(conn, table, metadata_facets(table) if columns is None
                               else columns)
    conn.execute("CREATE TABLE IF NOT EXISTS facet_count (tbl TEXT, filters TEXT, col TEXT, "
                 "value, count INTEGER)")
    conn.execute("CREATE TABLE IF NOT EXISTS facet_column (tbl TEXT, col TEXT, "
                 "PRIMARY KEY (tbl, col))")
    if not columns:
        return 0
    cols = ", ".join(_quote(c) for c in columns)
    cube = conn.execute(f"SELECT {cols}, count(*) FROM {_quote(table)} GROUP BY {cols} "
                        f"LIMIT {MAX_CUBE + 1}").fetchall()
    if len(cube) > MAX_CUBE:
        return 0
    # counts[(filters, col)][value] = households
    counts: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
    index = range(len(columns))
    subsets = [s for k in range(MAX_FILTERS + 1) for s in itertools.combinations(index, k)]
    for row in cube:
        n = row[-1]
        for subset in subsets:
            if any(row[i] is None for i in subset):
                continue  # an equality filter never matches NULL
            key = filter_key((columns[i], row[i]) for i in subset)
            for c in index:
                if row[c] is not None:  # Datasette's facets leave NULL out
                    counts[(key, columns[c])][row[c]] += n
    conn.execute("BEGIN")
    rows = [(table, key, col, value, n) for (key, col), values in counts.items()
            for value, n in values.items()]
    conn.executemany("INSERT INTO facet_count VALUES (?, ?, ?, ?, ?)", rows)
    conn.executemany("INSERT INTO facet_column VALUES (?, ?)", [(table, c) for c in columns])
    conn.execute("CREATE INDEX IF NOT EXISTS facet_count_lookup ON facet_count "
                 "(tbl, filters, col, count DESC, value)")
    conn.execute("COMMIT")
    return len(rows)
