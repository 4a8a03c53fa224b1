"""The day each household first reached each status, kept as changes are inserted.

Migration 011_scalepages.sql adds `household_stage` (household, status, first UTC day), its
per-day counts `stage_day`, and triggers on the change log that keep both as any change is
inserted (the store, a merge, a bulk builder): so the progress trend and the 日报's "today"
figures read a few hundred rows instead of parsing every change's JSON. A household that is
deleted keeps its rows (it may be restored); readers subtract the deleted ones, which are few.

Both tables are derived from the log: `rebuild` recomputes them, and the tests hold them to the
straightforward scan of the log (progress.trend_from_log).
"""

from __future__ import annotations

from anju.registry.core.store import Registry, transaction

TABLE = "household_stage"


def day_counts(reg: Registry, statuses: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """{day: {status: households of the registry (live) that first reached `status` that
    day}} for the given statuses; days without any are absent."""
    marks = ", ".join("?" for _ in statuses)
    days: dict[str, dict[str, int]] = {}
    for status, day, n in reg.conn.execute(
            f"SELECT status, day, n FROM stage_day WHERE status IN ({marks}) AND n != 0",
            statuses):
        days.setdefault(day, dict.fromkeys(statuses, 0))[status] = n
    # Deleted households are few: subtract theirs (their rows stay for a restore).
    for status, day, n in reg.conn.execute(
            f"SELECT s.status, s.day, count(*) FROM household h JOIN {TABLE} s "
            f"ON s.household_id = h.id WHERE h.deleted IS NOT NULL AND s.status IN ({marks}) "
            "GROUP BY s.status, s.day", statuses):
        row = days.setdefault(day, dict.fromkeys(statuses, 0))
        row[status] -= n
    return {d: c for d, c in days.items() if any(c.values())}


def first_days_on(reg: Registry, day: str, stages: dict[str, tuple[str, ...]]
                  ) -> dict[str, set[str]]:
    """{stage: ids of households that first reached any status of the stage on `day`} — the
    day is the earliest of the stage's statuses (e.g. signed: signed, handed over or
    demolished, whichever came first)."""
    out: dict[str, set[str]] = {}
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
        reg.conn.execute(
            f"INSERT INTO {TABLE} (household_id, status, day) "
            "SELECT record_id, json_extract(fields, '$.status'), min(substr(at, 1, 10)) "
            "FROM change WHERE record_type = 'household' AND json_valid(fields) "
            "AND json_type(fields, '$.status') = 'text' "
            "GROUP BY record_id, json_extract(fields, '$.status')")
        reg.conn.execute("DELETE FROM agreement_revised")
        reg.conn.execute("INSERT INTO agreement_revised (agreement_id) SELECT record_id "
                         "FROM change WHERE record_type = 'agreement' GROUP BY record_id "
                         "HAVING count(*) > 1")
