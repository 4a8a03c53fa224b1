"""Facets of the public site answered from the counts computed at publish time.

A public.db is immutable, so the counts of its facets are fixed when `anju publish` writes it
(registry/publication/facets.py: the table `facet_count`). This plugin puts `PublishedFacet`
in the place of Datasette's own column facet: on an immutable database that has the counts, for
the table unfiltered or filtered by up to two equality filters on faceted columns, it reads the
answer from `facet_count` (an index lookup) instead of counting the rows again; for anything
else (other filters, a search, a page past the first, a mutable database, a facet that was not
precomputed) it runs Datasette's own query. The JSON and HTML are Datasette's, value for value:
the same dictionaries are built from the same rows, in the same order (count desc, value).
"""

from __future__ import annotations

import re

from anju.registry.publication.facets import MAX_FILTERS, filter_key
from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import ColumnFacet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args

# A filter's clause as datasette.filters writes it: "column" = :p0 (also a bare or [bracketed]
# name, as escape_sqlite writes one).
_CLAUSE = re.compile(r'(?P<col>"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_]*|\[[^\]]+\]) = '
                     r":(?P<param>p\d+)")
_CACHE_ATTR = "_anju_facet_columns"


def _unescape(col: str) -> str:
    if col.startswith('"'):
        return col[1:-1].replace('""', '"')
    return col[1:-1] if col.startswith("[") and col.endswith("]") else col


def parse_filters(sql: str, params, table: str) -> list[tuple[str, str]] | None:
    """The equality filters of a table view's facet SQL ([(column, value)]), or None when it
    holds anything else (a search, a range, a _where, the next page's clause)."""
    marker = f" from {escape_sqlite(table)} "
    if not sql.startswith("select ") or marker not in sql:
        return None
    tail = sql.rsplit(marker, 1)[1]
    params = dict(params or {})
    if tail == "":
        return [] if not params else None
    if not (tail.startswith("where ") and tail.endswith(" ")):
        return None
    pairs, used = [], set()
    for clause in tail[len("where "):-1].split(" and "):
        m = _CLAUSE.fullmatch(clause)
        if m is None or m["param"] in used or m["param"] not in params:
            return None
        value = params[m["param"]]
        if not isinstance(value, str):
            return None
        used.add(m["param"])
        pairs.append((_unescape(m["col"]), value))
    if used != set(params) or len({c for c, _ in pairs}) != len(pairs):
        return None
    return pairs


class PublishedFacet(ColumnFacet):
    """Datasette's column facet, answered from facet_count where the publication holds it."""

    async def _precomputed_columns(self) -> set[str]:
        """The columns of this table whose counts the (immutable) database holds."""
        db = self.ds.get_database(self.database)
        if db.is_mutable or not self.table:
            return set()
        cache = getattr(self.ds, _CACHE_ATTR, None)
        if cache is None:
            cache = {}
            setattr(self.ds, _CACHE_ATTR, cache)
        key = (self.database, self.table)
        if key not in cache:
            cache[key] = set()
            if await db.table_exists("facet_column"):  # absent from older publications
                rows = await db.execute("SELECT col FROM facet_column WHERE tbl = ?",
                                        [self.table])
                cache[key] = {r[0] for r in rows.rows}
        return cache[key]

    async def facet_results(self):
        covered = await self._precomputed_columns()
        filters = parse_filters(self.sql, self.params, self.table) if covered else None
        if filters is None or len(filters) > MAX_FILTERS or \
                any(c not in covered for c, _ in filters):
            return await super().facet_results()
        key = filter_key(filters)
        facet_results = []
        facets_timed_out = []
        qs_pairs = self.get_querystring_pairs()
        facet_size = self.get_facet_size()
        for source_and_config in self.get_configs():
            config = source_and_config["config"]
            source = source_and_config["source"]
            column = config.get("column") or config["simple"]
            try:
                if column in covered:
                    facet_rows_results = await self.ds.execute(
                        self.database,
                        "select value, count from facet_count where tbl = :t and filters = :f "
                        "and col = :c order by count desc, value limit :n",
                        {"t": self.table, "f": key, "c": column, "n": facet_size + 1},
                        truncate=False)
                else:
                    facet_rows_results = await self.ds.execute(
                        self.database, _facet_sql(column, self.sql, facet_size), self.params,
                        truncate=False,
                        custom_time_limit=self.ds.setting("facet_time_limit_ms"))
                facet_results_values = []
                facet_results.append({
                    "name": column,
                    "type": self.type,
                    "hideable": source != "metadata",
                    "toggle_url": self.ds.urls.path(
                        path_with_removed_args(self.request, {"_facet": column})),
                    "results": facet_results_values,
                    "truncated": len(facet_rows_results) > facet_size,
                })
                facet_rows = facet_rows_results.rows[:facet_size]
                values = [row["value"] for row in facet_rows]
                expanded = await self.ds.expand_foreign_keys(
                    self.database, self.table, column, values)
                for row in facet_rows:
                    column_qs = column
                    if column.startswith("_"):
                        column_qs = f"{column}__exact"
                    selected = (column_qs, str(row["value"])) in qs_pairs
                    if selected:
                        toggle_path = path_with_removed_args(
                            self.request, {column_qs: str(row["value"])})
                    else:
                        toggle_path = path_with_added_args(
                            self.request, {column_qs: row["value"]})
                    facet_results_values.append({
                        "value": row["value"],
                        "label": expanded.get((column, row["value"]), row["value"]),
                        "count": row["count"],
                        "toggle_url": self.ds.absolute_url(
                            self.request, self.ds.urls.path(toggle_path)),
                        "selected": selected,
                    })
            except QueryInterrupted:
                facets_timed_out.append(column)
        return facet_results, facets_timed_out


def _facet_sql(column: str, sql: str, facet_size: int) -> str:
    """Datasette's own facet query (datasette.facets.ColumnFacet), for a column not counted."""
    return """
                select {col} as value, count(*) as count from (
                    {sql}
                )
                where {col} is not null
                group by {col} order by count desc, value limit {limit}
            """.format(col=escape_sqlite(column), sql=sql, limit=facet_size + 1)


@hookimpl(hookwrapper=True)
def register_facet_classes():
    """Put PublishedFacet where Datasette's ColumnFacet was (its other facets stay)."""
    outcome = yield
    outcome.force_result([[PublishedFacet if klass is ColumnFacet else klass for klass in group]
                          for group in outcome.get_result()])
