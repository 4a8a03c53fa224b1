"""The aggregate tables of the public database: what `publish: total` fields become.

progress (households per zone and status, sums of numeric total fields), choice_total (per zone
counts of each choice of a total choice field, such as wishes; sensitive fields never appear in
either: registry.publication.disclosure releases them at project level) and zone (targets,
deadlines, progress figures). Every total over fewer than privacy.MIN_GROUP households is
suppressed.
"""

from __future__ import annotations

import json
from collections import defaultdict

from anju.registry.core import workflow
from anju.registry.core.definition import Field
from anju.registry.core.store import Registry
from anju.registry.publication.privacy import suppress

# Statuses that count as having reached a stage (side states count as surveyed).
SURVEYED = frozenset({"surveyed", "published", "valued", "signed", "handed_over", "demolished",
                      "disputed", "decision"})
SIGNED = frozenset(workflow.SIGNED)  # the one definition of "signed"
HANDED_OVER = frozenset({"handed_over", "demolished"})


def write_totals(conn, reg: Registry, rows: list[dict], totalled: list[Field],
                 status_field: Field, order: dict) -> None:
    """The aggregate tables: progress per zone and status, choice totals per zone, zones."""
    # Sensitive fields are never totalled per zone or status: registry.publication.disclosure
    # releases them at project level only, checked against the ledger.
    numeric = [f for f in totalled if f.type in ("integer", "decimal") and not f.sensitive]
    choices = [f for f in totalled if f.type in ("select_one", "select_multiple")
               and not f.sensitive]
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["zone"], row["status"])].append(row)
    conn.execute("CREATE TABLE progress (zone TEXT, status TEXT, status_code TEXT, "
                 "status_order INTEGER, households INTEGER{})".format(
                     "".join(f", [{f.name}] {'REAL' if f.type == 'decimal' else 'INTEGER'}"
                             for f in numeric)))
    out = []
    for (zone, status), members in sorted(groups.items(),
                                          key=lambda kv: (kv[0][0], order.get(kv[0][1], 99))):
        sums = []
        for f in numeric:
            vals = [r[f.name] for r in members if r[f.name] is not None]
            total = round(sum(vals), f.precision) if f.type == "decimal" else sum(vals)
            sums.append(suppress(len(vals), total))
        out.append([zone, status_field.choice_label(status) if status else None, status,
                    order.get(status, 99), len(members), *sums])
    conn.executemany("INSERT INTO progress VALUES ({})".format(
        ", ".join("?" for _ in range(5 + len(numeric)))), out)
    conn.execute("CREATE TABLE choice_total (zone TEXT, field TEXT, field_label TEXT, "
                 "choice TEXT, choice_label TEXT, households INTEGER)")
    by_zone: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_zone[row["zone"]].append(row)
    for f in choices:
        for zone in sorted(by_zone):
            counts = dict.fromkeys((c.value for c in f.choices), 0)
            for r in by_zone[zone]:
                v = r[f.name]
                if not v:
                    continue
                for item in (json.loads(v) if f.type == "select_multiple" else [v]):
                    counts[item] = counts.get(item, 0) + 1
            shown_counts = {k: suppress(n) for k, n in counts.items()}
            if f.type == "select_one":
                _complement(counts, shown_counts)
            conn.executemany("INSERT INTO choice_total VALUES (?, ?, ?, ?, ?, ?)", [
                (zone, f.name, f.label["zh"], k, f.choice_label(k), shown_counts[k])
                for k in counts])
    _zones(conn, reg, by_zone)


def _complement(counts: dict, shown: dict) -> None:
    """Suppress a second cell when only one is hidden: a single hidden count of a select_one
    could otherwise be rebuilt by subtraction from the published number of households."""
    hidden = [k for k, v in shown.items() if v is None and counts[k] > 0]
    if len(hidden) == 1:
        rest = sorted((counts[k], k) for k, v in shown.items() if v is not None)
        if rest:
            shown[rest[0][1]] = None


def _zones(conn, reg: Registry, by_zone: dict[str, list[dict]]) -> None:
    """One row per zone: target, deadline and how far its households have come."""
    settings = {z.get("name"): z for z in reg.settings.get("zones") or []}
    names = list(settings) + sorted(z for z in by_zone if z not in settings)
    conn.execute("CREATE TABLE zone (zone TEXT PRIMARY KEY, code TEXT, target INTEGER, "
                 "deadline TEXT, households INTEGER, surveyed INTEGER, signed INTEGER, "
                 "handed_over INTEGER, disputed INTEGER, signed_pct REAL)")
    out = []
    for name in names:
        rows = by_zone.get(name, [])
        z = settings.get(name, {})
        statuses = [r["status"] for r in rows]
        signed = sum(s in SIGNED for s in statuses)
        base = z.get("target") or len(rows)
        out.append((name, z.get("code"), z.get("target"), z.get("deadline"), len(rows),
                    sum(s in SURVEYED for s in statuses), signed,
                    sum(s in HANDED_OVER for s in statuses),
                    sum(s in ("disputed", "decision") for s in statuses),
                    round(100 * signed / base, 1) if base else None))
    conn.executemany("INSERT INTO zone VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", out)


def write_daily(conn, reg: Registry, rows: list[dict]) -> None:
    """Cumulative households surveyed, signed and handed over by day (UTC date of the change
    that first moved each into that stage), for the dashboard's progress-over-time chart.

    Only households whose current status is at that stage count, so the last day equals today's
    figures; project-wide daily totals identify no one.
    """
    current = {r["id"]: r["status"] for r in rows}
    stages = (("surveyed", SURVEYED), ("signed", SIGNED), ("handed_over", HANDED_OVER))
    first: dict[str, dict[str, str]] = {name: {} for name, _ in stages}
    cur = reg.conn.execute(
        "SELECT record_id, substr(at, 1, 10), json_extract(fields, '$.status') FROM change "
        "WHERE record_type = 'household' AND json_extract(fields, '$.status') IS NOT NULL")
    for hid, day, status in cur:
        now_status = current.get(hid)
        if now_status is None:
            continue
        for name, reached in stages:
            if status in reached and now_status in reached:
                seen = first[name].get(hid)
                if seen is None or day < seen:
                    first[name][hid] = day
    days = sorted({d for per in first.values() for d in per.values()})
    conn.execute("CREATE TABLE daily_progress (date TEXT PRIMARY KEY, surveyed INTEGER, "
                 "signed INTEGER, handed_over INTEGER)")
    counts = {name: defaultdict(int) for name, _ in stages}
    for name, per in first.items():
        for day in per.values():
            counts[name][day] += 1
    totals = dict.fromkeys(counts, 0)
    out = []
    for day in days:
        for name in counts:
            totals[name] += counts[name][day]
        out.append((day, totals["surveyed"], totals["signed"], totals["handed_over"]))
    conn.executemany("INSERT INTO daily_progress VALUES (?, ?, ?, ?)", out)
