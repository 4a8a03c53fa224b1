"""The day each household first reached each status, kept up to date from the change log.

Migration 011_scalepages.sql adds `household_stage` (household, status, first UTC day), its
per-day counts `stage_day` (kept by triggers on household_stage), `agreement_revised` (the
agreements with more than one change) and `stage_mark`, the change log's rowid up to which they
are up to date. Every reader first calls `catch_up`, which folds the changes added since (by
anyone: the store, a merge, a bulk builder) in one grouped statement, sorted by key: inserting
a change pays nothing for these tables, and the first page after a merge pays once for what
the merge added. So the progress trend and the 日报's "today" figures read a few hundred rows
instead of parsing every change's JSON. A deleted household keeps its rows (it may be
restored); readers subtract the deleted ones, which are few.

The tables are derived from the log: `rebuild` recomputes them, and the tests hold them to the
straightforward scan of the log (progress.trend_from_log). The change log's rowids only grow
(changes are never deleted), which the mark relies on.
"""

from __future__ import annotations

import sqlite3

from anju.registry.core.page_indexes import hinted
from anju.registry.core.store import Registry, transaction

TABLE = "household_stage"
FOLD_STAGES = (
    f"INSERT INTO {TABLE} (household_id, status, day) "
    "SELECT record_id, json_extract(fields, '$.status'), min(substr(at, 1, 10)) FROM change "
    "WHERE rowid > :mark AND record_type = 'household' AND json_valid(fields) "
    "AND json_type(fields, '$.status') = 'text' "
    "GROUP BY record_id, json_extract(fields, '$.status') ORDER BY 1, 2 "
    f"ON CONFLICT (household_id, status) DO UPDATE SET day = excluded.day "
    f"WHERE excluded.day < {TABLE}.day")
FOLD_REVISED = (
    "INSERT OR IGNORE INTO agreement_revised (agreement_id) "
    "SELECT DISTINCT c.record_id FROM change c WHERE c.rowid > :mark "
    "AND c.record_type = 'agreement' AND EXISTS (SELECT 1 FROM change o "
    "WHERE o.record_id = c.record_id AND o.change_id != c.change_id) ORDER BY 1")


def catch_up(reg: Registry) -> bool:
    """Fold the changes added since the tables were last brought up to date; False when this
    connection cannot write (read-only, or busy past the timeout): the caller then reads the
    log the straightforward way."""
    conn = reg.conn
    mark = conn.execute("SELECT last_rowid FROM stage_mark WHERE id = 1").fetchone()
    top = conn.execute("SELECT max(rowid) FROM change").fetchone()[0] or 0
    if mark is not None and mark[0] >= top:
        return True
    if conn.in_transaction:  # inside someone's transaction: never commit it from here
        return False
    try:
        with transaction(conn):
            row = conn.execute("SELECT last_rowid FROM stage_mark WHERE id = 1").fetchone()
            since = row[0] if row else 0
            top = conn.execute("SELECT max(rowid) FROM change").fetchone()[0] or 0
            if since < top:
                conn.execute(FOLD_STAGES.replace(":mark", str(int(since))))
                conn.execute(FOLD_REVISED.replace(":mark", str(int(since))))
                conn.execute("INSERT OR REPLACE INTO stage_mark (id, last_rowid) VALUES (1, ?)",
                             (top,))
    except sqlite3.OperationalError:
        return False
    return True


def day_counts(reg: Registry, statuses: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """{day: {status: households of the registry (live) that first reached `status` that
    day}} for the given statuses; days without any are absent."""
    marks = ", ".join("?" for _ in statuses)
    if not catch_up(reg):  # cannot bring the tables up to date: read the log whole
        days: dict[str, dict[str, int]] = {}
        for day, status, n in reg.conn.execute(f"""
                SELECT day, reached, count(*) FROM (
                    SELECT substr(min(c.at), 1, 10) AS day,
                           json_extract(c.fields, '$.status') AS reached
                    FROM change c JOIN household h ON h.id = c.record_id
                    WHERE c.record_type = 'household' AND h.deleted IS NULL
                      AND json_valid(c.fields) AND json_extract(c.fields, '$.status') IN ({marks})
                    GROUP BY c.record_id, reached)
                GROUP BY day, reached""", statuses):
            days.setdefault(day, dict.fromkeys(statuses, 0))[status] = n
        return days
    marks = ", ".join("?" for _ in statuses)
    days: dict[str, dict[str, int]] = {}
    for status, day, n in reg.conn.execute(
            f"SELECT status, day, n FROM stage_day WHERE status IN ({marks}) AND n != 0",
            statuses):
        days.setdefault(day, dict.fromkeys(statuses, 0))[status] = n
    # Deleted households are few: subtract theirs (their rows stay for a restore), read from
    # their partial index (the planner would probe every stage row instead).
    for status, day, n in reg.conn.execute(hinted(
            reg.conn, "SELECT s.status, s.day, count(*) FROM household h INDEXED BY "
            f"pages_household_deleted CROSS JOIN {TABLE} s ON s.household_id = h.id "
            f"WHERE h.deleted IS NOT NULL AND s.status IN ({marks}) GROUP BY s.status, s.day"),
            statuses):
        row = days.setdefault(day, dict.fromkeys(statuses, 0))
        row[status] -= n
    return {d: c for d, c in days.items() if any(c.values())}


def first_days_on(reg: Registry, day: str, stages: dict[str, tuple[str, ...]]
                  ) -> dict[str, set[str]]:
    """{stage: ids of households that first reached any status of the stage on `day`} — the
    day is the earliest of the stage's statuses (e.g. signed: signed, handed over or
    demolished, whichever came first)."""
    out: dict[str, set[str]] = {}
    if not catch_up(reg):  # cannot bring the tables up to date: read the log whole
        for stage, statuses in stages.items():
            marks = ", ".join("?" for _ in statuses)
            out[stage] = {hid for (hid,) in reg.conn.execute(
                "SELECT record_id FROM change WHERE record_type = 'household' "
                f"AND json_valid(fields) AND json_extract(fields, '$.status') IN ({marks}) "
                "GROUP BY record_id HAVING min(substr(at, 1, 10)) = ?", (*statuses, day))}
        return out
    for stage, statuses in stages.items():
        marks = ", ".join("?" for _ in statuses)
        out[stage] = {hid for (hid,) in reg.conn.execute(
            f"SELECT s.household_id FROM {TABLE} s WHERE s.status IN ({marks}) AND s.day = ? "
            f"AND NOT EXISTS (SELECT 1 FROM {TABLE} e WHERE e.household_id = s.household_id "
            f"AND e.status IN ({marks}) AND e.day < ?)", (*statuses, day, *statuses, day))}
    return out


def rebuild(reg: Registry) -> None:
    """Recompute the derived tables from the change log (after a repair, or to check them)."""
    with transaction(reg.conn):
        reg.conn.execute(f"DELETE FROM {TABLE}")
        reg.conn.execute("DELETE FROM stage_day")
        reg.conn.execute("DELETE FROM agreement_revised")
        reg.conn.execute(FOLD_STAGES.replace(":mark", "0"))
        reg.conn.execute(FOLD_REVISED.replace(":mark", "0"))
        reg.conn.execute("INSERT OR REPLACE INTO stage_mark (id, last_rowid) SELECT 1, "
                         "coalesce(max(rowid), 0) FROM change")

