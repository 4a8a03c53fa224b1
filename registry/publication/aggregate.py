"""The public aggregates, summed while the household rows stream past (bounded memory).

`anju publish` reads each household once, in publication order, and hands it to `Aggregates.add`;
what it keeps is one small entry per zone and status (the progress table), per zone and choice
(choice_total), per zone (zone) and, for the disclosure ledger, the sensitive contributions of
the counted households, never the rows themselves. `write` then writes the same tables, in the
same order and with the same values, as totals.write_totals over the materialised rows (the
straightforward path, kept as the reference the tests compare against): sums are added in the
same row order, so even float totals are identical.

`write_daily` is totals.write_daily as one SQL statement over the change log: the first day each
published household reached each stage, grouped inside SQLite (its temporary b-tree, on disk),
so no per-household map is held in Python.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

from anju.registry.core.definition import Field
from anju.registry.core.store import Registry
from anju.registry.publication.disclosure import Cell
from anju.registry.publication.privacy import suppress
from anju.registry.publication.totals import HANDED_OVER, SIGNED, SURVEYED, _complement


class Aggregates:
    """Running totals of the published households (see the module's docstring)."""

    def __init__(self, totalled: list[Field], status_field: Field, order: dict,
                 cells: list[Cell], population: frozenset = SURVEYED):
        self.numeric = [f for f in totalled if f.type in ("integer", "decimal")
                        and not f.sensitive]
        self.choices = [f for f in totalled if f.type in ("select_one", "select_multiple")
                        and not f.sensitive]
        self.status_field, self.order = status_field, order
        self.cells, self.population = cells, population
        # (zone, status) -> [households, [values counted, running sum] per numeric field]
        self.groups: dict[tuple, list] = {}
        # zone -> status -> households (zone order: first seen, sorted when written)
        self.zones: dict[str, Counter] = {}
        # field name -> zone -> choice -> households
        self.choice_counts: dict[str, dict[str, dict]] = {f.name: {} for f in self.choices}
        self.counted: set = set()
        self.contributions: dict[str, dict] = {c.key: {} for c in cells}
        self.households = 0

    def add(self, row: dict) -> None:
        """Count one published household (its stored values, by column name)."""
        self.households += 1
        zone, status = row["zone"], row["status"]
        group = self.groups.get((zone, status))
        if group is None:
            group = self.groups[(zone, status)] = [0, [[0, 0] for _ in self.numeric]]
        group[0] += 1
        for acc, f in zip(group[1], self.numeric):
            v = row[f.name]
            if v is not None:
                acc[0] += 1
                acc[1] = acc[1] + v
        statuses = self.zones.get(zone)
        if statuses is None:
            statuses = self.zones[zone] = Counter()
            for f in self.choices:
                self.choice_counts[f.name][zone] = dict.fromkeys(
                    (c.value for c in f.choices), 0)
        statuses[status] += 1
        for f in self.choices:
            v = row[f.name]
            if not v:
                continue
            counts = self.choice_counts[f.name][zone]
            for item in (json.loads(v) if f.type == "select_multiple" else [v]):
                counts[item] = counts.get(item, 0) + 1
        if status in self.population:
            self._contribute(row)

    def _contribute(self, row: dict) -> None:
        """disclosure.contributions for one counted household."""
        hid = row["id"]
        self.counted.add(hid)
        for cell in self.cells:
            v = row.get(cell.field.name)
            if cell.choice is None:
                if isinstance(v, int | float) and v:
                    self.contributions[cell.key][hid] = v
            else:
                items = json.loads(v) if cell.field.type == "select_multiple" and v else [v]
                if cell.choice in (items or []):
                    self.contributions[cell.key][hid] = 1

    def current(self) -> dict:
        """What disclosure.release needs: {"counted": ids, cell key: {id: value}}."""
        return {"counted": self.counted, **self.contributions}

    def write(self, conn, reg: Registry) -> None:
        """The progress, choice_total and zone tables (as totals.write_totals writes them)."""
        numeric, order, status_field = self.numeric, self.order, self.status_field
        conn.execute("CREATE TABLE progress (zone TEXT, status TEXT, status_code TEXT, "
                     "status_order INTEGER, households INTEGER{})".format(
                         "".join(f", [{f.name}] {'REAL' if f.type == 'decimal' else 'INTEGER'}"
                                 for f in numeric)))
        out = []
        for (zone, status), (households, accs) in sorted(
                self.groups.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 99))):
            sums = []
            for f, (n, total) in zip(numeric, accs):
                total = round(total, f.precision) if f.type == "decimal" else total
                sums.append(suppress(n, total))
            out.append([zone, status_field.choice_label(status) if status else None, status,
                        order.get(status, 99), households, *sums])
        conn.executemany("INSERT INTO progress VALUES ({})".format(
            ", ".join("?" for _ in range(5 + len(numeric)))), out)
        conn.execute("CREATE TABLE choice_total (zone TEXT, field TEXT, field_label TEXT, "
                     "choice TEXT, choice_label TEXT, households INTEGER)")
        for f in self.choices:
            for zone in sorted(self.zones):
                counts = self.choice_counts[f.name][zone]
                shown_counts = {k: suppress(n) for k, n in counts.items()}
                if f.type == "select_one":
                    _complement(counts, shown_counts)
                conn.executemany("INSERT INTO choice_total VALUES (?, ?, ?, ?, ?, ?)", [
                    (zone, f.name, f.label["zh"], k, f.choice_label(k), shown_counts[k])
                    for k in counts])
        self._write_zones(conn, reg)

    def _write_zones(self, conn, reg: Registry) -> None:
        settings = {z.get("name"): z for z in reg.settings.get("zones") or []}
        names = list(settings) + sorted(z for z in self.zones if z not in settings)
        conn.execute("CREATE TABLE zone (zone TEXT PRIMARY KEY, code TEXT, target INTEGER, "
                     "deadline TEXT, households INTEGER, surveyed INTEGER, signed INTEGER, "
                     "handed_over INTEGER, disputed INTEGER, signed_pct REAL)")
        out = []
        for name in names:
            statuses = self.zones.get(name, Counter())
            households = sum(statuses.values())
            z = settings.get(name, {})

            def among(group, statuses=statuses):
                return sum(n for s, n in statuses.items() if s in group)
            signed = among(SIGNED)
            base = z.get("target") or households
            out.append((name, z.get("code"), z.get("target"), z.get("deadline"), households,
                        among(SURVEYED), signed, among(HANDED_OVER),
                        among(("disputed", "decision")),
                        round(100 * signed / base, 1) if base else None))
        conn.executemany("INSERT INTO zone VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", out)


def write_daily(conn, reg: Registry) -> None:
    """Cumulative households surveyed, signed and handed over by day (see
    totals.write_daily: the first UTC day a change moved a published household into a stage
    it is still at), computed in the registry's SQLite, streamed.

    The change log is grouped by household first (the first day of each stage among its status
    changes), then joined with the households, so the join costs one lookup per household, not
    per change. A change can only carry a status if its JSON names the key `status`, literally
    or through a \\u escape: the instr() test skips the JSON parse of every other change and
    leaves the answer as it was. NOT INDEXED: one pass over the table and a sort beats walking
    change_record and reading each change at random (4x at 50,000 households)."""
    stages = (("surveyed", SURVEYED), ("signed", SIGNED), ("handed_over", HANDED_OVER))
    params: list = []

    def within(group: frozenset) -> str:
        params.extend(sorted(group))
        return f"s IN ({', '.join('?' for _ in group)})"
    firsts = ", ".join(f"min(CASE WHEN {within(group)} THEN day END)" for _, group in stages)
    cur = reg.conn.execute(
        f"SELECT h.status, g.* FROM (SELECT record_id, {firsts} FROM (SELECT record_id, "
        "substr(at, 1, 10) AS day, json_extract(fields, '$.status') AS s FROM change NOT INDEXED "
        "WHERE record_type = 'household' AND (instr(fields, '\"status\"') OR "
        "instr(fields, '\\u'))) WHERE s IS NOT NULL GROUP BY record_id) g "
        "JOIN household h ON h.id = g.record_id WHERE h.deleted IS NULL", params)
    counts = {name: defaultdict(int) for name, _ in stages}
    days: set = set()
    for now_status, _, *firsts_of_one in cur:
        for (name, group), day in zip(stages, firsts_of_one):
            if day is not None and now_status in group:
                counts[name][day] += 1
                days.add(day)
    conn.execute("CREATE TABLE daily_progress (date TEXT PRIMARY KEY, surveyed INTEGER, "
                 "signed INTEGER, handed_over INTEGER)")
    totals = dict.fromkeys(counts, 0)
    out = []
    for day in sorted(days):
        for name in counts:
            totals[name] += counts[name][day]
        out.append((day, totals["surveyed"], totals["signed"], totals["handed_over"]))
    conn.executemany("INSERT INTO daily_progress VALUES (?, ?, ?, ?)", out)
