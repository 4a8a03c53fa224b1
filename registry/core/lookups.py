"""The small query API on Registry: the lookups views, commands and reports repeat.

A mixin, so these read-only questions have one home (and one SQL each) without growing
store.py: every method reads `self.conn` and `self.definition` of the Registry it is part of.
Record types and columns come from the survey definition, never from a request, before they
reach any SQL text.
"""

from __future__ import annotations


class Lookups:
    """Read-only questions about a registry (mixed into `Registry`)."""

    def _table(self, record_type: str) -> str:
        """A record type's table name, checked against the survey (never a request's text)."""
        if record_type not in self.definition.records:
            raise KeyError(f"no record type {record_type}")
        return record_type

    def device_names(self) -> dict[str, str]:
        """{device id: its enrolled name}, for showing who made a change."""
        return dict(self.conn.execute("SELECT device_id, name FROM device"))

    def conflict_count(self) -> int:
        """How many merge conflicts wait for a person to settle them."""
        return self.conn.execute("SELECT count(*) FROM conflict").fetchone()[0]

    def record_type_of(self, record_id: str) -> str | None:
        """The type of the record an id belongs to, or None for an id nothing uses yet."""
        row = self.conn.execute("SELECT record_type FROM change WHERE record_id = ? LIMIT 1",
                                (record_id,)).fetchone()
        return row[0] if row else None

    def household_of(self, record_type: str, record_id: str) -> str | None:
        """The id of the household a record belongs to (itself for a household), or None."""
        if record_type == "household":
            return record_id
        row = self.conn.execute(f"SELECT household_id FROM [{self._table(record_type)}] "
                                "WHERE id = ?", (record_id,)).fetchone()
        return row[0] if row else None

    def house_no_of(self, record_type: str, record_id: str) -> str | None:
        """The house number of the household a record belongs to, or None."""
        household_id = self.household_of(record_type, record_id)
        if household_id is None:
            return None
        row = self.conn.execute("SELECT house_no FROM household WHERE id = ?",
                                (household_id,)).fetchone()
        return row[0] if row else None

    def house_numbers(self) -> dict[str, str]:
        """{household id: house number} of every household, deleted ones included."""
        return dict(self.conn.execute("SELECT id, house_no FROM household"))

    def distinct_values(self, column: str) -> list[str]:
        """The distinct non-empty values of a household column, in order, by skipping along its
        index (a few lookups per value instead of a scan of every household)."""
        if not self.definition.record("household").has(column):
            raise KeyError(f"no household field {column}")
        return [v for (v,) in self.conn.execute(
            f"WITH RECURSIVE v(x) AS (SELECT MIN([{column}]) FROM household WHERE "
            f"[{column}] != '' UNION ALL SELECT (SELECT MIN([{column}]) FROM household WHERE "
            f"[{column}] > x) FROM v WHERE x IS NOT NULL) SELECT x FROM v WHERE x IS NOT NULL")]
