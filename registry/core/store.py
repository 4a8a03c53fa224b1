"""The registry store: one SQLite database holding the change log and the records it folds into.

`Registry.open` creates or opens a database (WAL, foreign keys), applies the numbered migrations
in schema/migrations and derives the record tables from the survey definition stored in the
database. Every write goes through `Registry.save` / `Registry.apply`: change rows and record rows
in one transaction.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from anju.registry.core import atrest, clock
from anju.registry.core import definition as definition_mod
from anju.registry.core.capabilities import CAPABILITIES, may_resolve, missing_here
from anju.registry.core.changes import DELETED, Change, State, dumps, fold, new_id, now
from anju.registry.core.definition import Definition
from anju.registry.core.errors import AnjuError
from anju.registry.core.i18n import N_
from anju.registry.core.lookups import Lookups
from anju.registry.core.signing import sign_change
from anju.registry.core.validation import validate

MIGRATIONS = Path(__file__).resolve().parent.parent.parent / "schema" / "migrations"
# The highest migration number: engineers own separate numbers, so a gap must not lower it.
SCHEMA_VERSION = max((int(p.name[:3]) for p in MIGRATIONS.glob("[0-9][0-9][0-9]_*.sql")),
                     default=0)

# Record types written once and never changed: a signed agreement is amended by a new record.
WRITE_ONCE = frozenset({"agreement", "payment"})


class StoreError(AnjuError):
    """A database that cannot be opened or written as asked; the message is for people."""

    code = "store"
    zh = N_("登记库拒绝了这次操作：%(detail)s")


class InvalidChange(StoreError):
    """Values that fail validation; `errors` maps field -> error codes."""

    zh = N_("填写的内容不符合要求：%(detail)s")

    def __init__(self, record_type: str, errors: dict):
        self.record_type = record_type
        self.errors = errors
        detail = ", ".join(f"{k}: {'/'.join(map(str, v))}" for k, v in errors.items())
        super().__init__(f"invalid {record_type}: {detail}")


class InvalidEdits(InvalidChange):
    """Several records of one save failing validation; `by_record` maps record id ->
    (record type, {field: error codes}), so a form can show every error beside its input."""

    def __init__(self, by_record: dict[str, tuple[str, dict]]):
        self.by_record = by_record
        record_type, errors = next(iter(by_record.values()))
        super().__init__(record_type, errors)


def refuse_outside_capabilities(reg: Registry, change: Change) -> None:
    """A database makes no change that its device was not granted (the centre would refuse it:
    registry/core/capabilities.py); StoreError, for people, if it would."""
    missing = missing_here(reg.conn, reg.device_id, change)
    if missing:
        names = "、".join(CAPABILITIES[m][0] if m in CAPABILITIES else "中心库专属"
                         for m in missing)
        raise StoreError(f"本设备无权写入此项(缺少权限:{names});请由中心库授权"
                         f"(This device lacks the capability {', '.join(missing)}; "
                         "the central office grants it)")


_FROM_KEY_FILE = object()


def connect(path: str | Path, *, readonly: bool = False, wal: bool = True,
            timeout_ms: int | None = None, key: bytes | None | object = _FROM_KEY_FILE
            ) -> sqlite3.Connection:
    """The one way anju opens a SQLite file: a connection set up the way every part of anju uses
    it (a write waits up to $ANJU_BUSY_TIMEOUT_MS, 30 s by default, for another's lock).

    An encrypted laptop database (registry/core/atrest.py) is opened with the key this process
    unlocked; a locked one raises StoreError. `readonly` opens the file read-only (no journal
    change); `wal=False` leaves the journal mode alone (a new backup file, a public copy);
    `key` gives the key of a file that has no key file yet (a backup being written)."""
    busy_ms = timeout_ms if timeout_ms is not None else int(
        os.environ.get("ANJU_BUSY_TIMEOUT_MS") or 30000)
    target = f"{Path(path).resolve().as_uri()}?mode=ro" if readonly else str(path)
    if key is _FROM_KEY_FILE:
        try:
            key = atrest.key_for(path) if str(path) != ":memory:" else None
        except atrest.AtRestError as exc:
            raise StoreError(f"{path}: {exc}") from None
    if key is None:
        conn = sqlite3.connect(target, isolation_level=None, timeout=busy_ms / 1000,
                               check_same_thread=False, uri=readonly)
    else:
        try:
            conn = atrest.open_encrypted(target, key, uri=readonly, timeout=busy_ms / 1000,
                                         isolation_level=None, check_same_thread=False)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: 无法用此密钥打开 (cannot be opened with its key: {exc})"
                             ) from None
    if not readonly and wal:
        conn.execute("PRAGMA journal_mode=WAL")
    if not readonly:
        conn.execute("PRAGMA synchronous=FULL")  # an acknowledged save survives a power cut
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={busy_ms}")
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the numbered SQL migrations this database has not had yet."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise StoreError(f"database schema version {current} is newer than this anju "
                         f"({SCHEMA_VERSION}); upgrade anju")
    for path in sorted(MIGRATIONS.glob("[0-9][0-9][0-9]_*.sql")):
        number = int(path.name[:3])
        if number <= current:
            continue
        with transaction(conn):
            for statement in _statements(path.read_text(encoding="utf-8")):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")


def _statements(sql: str) -> list[str]:
    out, buf = [], []
    for line in sql.splitlines():
        buf.append(line)
        if sqlite3.complete_statement("\n".join(buf)):
            out.append("\n".join(buf))
            buf = []
    return out


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (nothing half-written)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # SQLite itself rolls back on a full disk (SQLITE_FULL)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def derive_tables(conn: sqlite3.Connection, defn: Definition) -> None:
    """Create record tables and add columns for fields new to the definition (data kept)."""
    for statement in _table_statements(conn, defn):
        conn.execute(statement)


def _table_statements(conn: sqlite3.Connection, defn: Definition) -> list[str]:
    """The SQL that brings the record tables up to the definition; empty when they match."""
    out = []
    for rtype in defn.records.values():
        existing = {r[1]: r[2] for r in conn.execute(f"PRAGMA table_info([{rtype.name}])")}
        parent = f"{rtype.parent}_id" if rtype.parent else None
        if not existing:
            cols = ["id TEXT PRIMARY KEY"]
            if parent:
                cols.append(f"{parent} TEXT")
            cols += [f"[{f.name}] {f.sql_type}" for f in rtype.columns]
            cols += ["deleted TEXT", "created_at TEXT", "created_by TEXT", "updated_at TEXT",
                     "updated_by TEXT"]
            out.append(f"CREATE TABLE [{rtype.name}] ({', '.join(cols)})")
            if parent:
                out.append(f"CREATE INDEX [{rtype.name}_{parent}] ON [{rtype.name}] ({parent})")
            continue
        for f in rtype.columns:
            if f.name not in existing:
                out.append(f"ALTER TABLE [{rtype.name}] ADD COLUMN [{f.name}] {f.sql_type}")
            elif existing[f.name].upper() != f.sql_type:
                raise StoreError(f"field {rtype.name}.{f.name} changes type from "
                                 f"{existing[f.name]} to {f.sql_type}; not allowed")
    return out


class Registry(Lookups):
    """An open anju database: its definition, its change log and its records."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self.conn = conn
        self.path = path
        self.definition = definition_mod.parse(self.meta("survey"), f"{path} survey")

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, *, project: str, role: str, device_name: str,
               project_id: str | None = None, device_id: str | None = None,
               survey_text: str | None = None) -> Registry:
        """Create a new database for a project; refuse to overwrite an existing file."""
        path = Path(path)
        if path.exists():
            raise StoreError(f"{path}: already exists; not overwriting it")
        if not path.parent.is_dir():
            raise StoreError(f"{path.parent}: no such directory")
        survey_text = survey_text or definition_mod.DEFAULT_PATH.read_text(encoding="utf-8")
        defn = definition_mod.parse(survey_text)
        try:
            conn = connect(path)
            migrate(conn)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot create database ({exc})") from None
        device_id = device_id or new_id()
        with transaction(conn):
            derive_tables(conn, defn)
            conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [
                ("project_id", project_id or new_id()), ("project_name", project),
                ("role", role), ("device_id", device_id), ("device_name", device_name),
                ("survey", survey_text), ("created_at", now()), ("settings", "{}"),
            ])
            # A central registry's own device is the central (it holds every capability).
            conn.execute("INSERT OR IGNORE INTO device (device_id, name, enrolled_at, role) "
                         "VALUES (?, ?, ?, ?)", (device_id, device_name, now(),
                                                 "central" if role == "central" else "laptop"))
        return cls(conn, path)

    @classmethod
    def open(cls, path: str | Path) -> Registry:
        """Open an existing anju database, migrating it to this version of anju."""
        path = Path(path)
        if not path.is_file():
            raise StoreError(f"{path}: no such database (create it with `anju init`)")
        try:
            conn = connect(path)
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name='meta'").fetchone():
                raise StoreError(f"{path}: not an anju database")
            migrate(conn)
            reg = cls(conn, path)
            # The web app opens the database once per request and nearly always finds the
            # tables complete: look first, so that a page does not wait for the write lock
            # (held through a long merge) only to learn that nothing is missing.
            if _table_statements(conn, reg.definition):
                with transaction(conn):
                    derive_tables(conn, reg.definition)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: not a usable SQLite database ({exc})") from None
        return reg

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- meta ----------------------------------------------------------------------------------
    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO "
                          "UPDATE SET value = excluded.value", (key, value))

    @property
    def device_id(self) -> str:
        return self.meta("device_id")

    @property
    def project_id(self) -> str:
        return self.meta("project_id")

    @property
    def settings(self) -> dict:
        """Project settings: zones (targets, deadlines), freeze date, signing start, ..."""
        return json.loads(self.meta("settings") or "{}")

    # -- reading -------------------------------------------------------------------------------
    def changes_of(self, record_id: str) -> list[Change]:
        """Every change of one record, oldest first."""
        rows = self.conn.execute(
            "SELECT change_id, device_id, seq, record_type, record_id, fields, base, at, by, "
            "note, hlc FROM change WHERE record_id = ? ORDER BY at, device_id, change_id",
            (record_id,))
        return [Change.from_row(r) for r in rows]

    def state(self, record_id: str) -> State:
        return fold(self.changes_of(record_id))

    def get(self, record_type: str, record_id: str) -> dict | None:
        """One record row as a dict (select_multiple values decoded), or None."""
        self.definition.record(record_type)
        cur = self.conn.execute(f"SELECT * FROM [{record_type}] WHERE id = ?", (record_id,))
        row = cur.fetchone()
        if row is None:
            return None
        return self._decode(record_type, dict(zip([d[0] for d in cur.description], row)))

    def children(self, record_type: str, household_id: str, *, deleted: bool = False) -> list:
        """The member, visit or attachment records of one household."""
        cond = "" if deleted else " AND deleted IS NULL"
        cur = self.conn.execute(f"SELECT * FROM [{record_type}] WHERE household_id = ?{cond} "
                                "ORDER BY created_at, id", (household_id,))
        cols = [d[0] for d in cur.description]
        return [self._decode(record_type, dict(zip(cols, r))) for r in cur]

    def _decode(self, record_type: str, row: dict) -> dict:
        for f in self.definition.record(record_type).columns:
            if f.type == "select_multiple" and row.get(f.name):
                row[f.name] = json.loads(row[f.name])
        return row

    def history(self, record_id: str) -> list[dict]:
        """A record's history: each change with the old and new value of every field."""
        seen: dict[str, Any] = {}
        out = []
        for c in self.changes_of(record_id):
            diffs = [{"field": k, "old": seen.get(k), "new": v} for k, v in c.fields.items()]
            for k, v in c.fields.items():
                seen[k] = v
            out.append({**c.as_dict(), "diffs": diffs})
        return out

    # -- writing -------------------------------------------------------------------------------
    @property
    def origin_id(self) -> str:
        """The id this database writes its own changes under: its device id, or after a restore
        from backup a new generation of it (registry/field/generation.py), so that no
        (device, seq) is ever used twice."""
        return self.meta("origin_id") or self.device_id

    def next_seq(self) -> int:
        row = self.conn.execute("SELECT MAX(seq) FROM change WHERE device_id = ?",
                                (self.origin_id,)).fetchone()
        return (row[0] or 0) + 1

    def make_change(self, record_type: str, record_id: str | None, values: dict, *, by: str,
                    note: str | None = None, base: dict | None = None,
                    full: bool = False) -> Change | None:
        """Validate values for a record and build the change to write (None if nothing changed).

        `full` checks the whole record (required fields), as a form save does; otherwise only
        the given fields are checked. The base of each field is what its editor saw: every
        current head of the field (the winner and any value in conflict with it) unless `base`
        says otherwise, so the edit supersedes them all; on a device without the `resolutions`
        capability, the winner alone (closing a conflict is a resolution). The change is made
        under this database's origin (a generation after a restore) and signed.
        """
        record_id = record_id or new_id()
        state = self.state(record_id)
        if record_type in WRITE_ONCE and state.values:
            raise StoreError(f"{record_type} {record_id} is signed and cannot be changed; "
                             "record an amendment instead")
        current = {k: v for k, v in state.values.items() if k != DELETED}
        meta_fields = {k: v for k, v in values.items() if k == DELETED}
        data = {k: v for k, v in values.items() if k != DELETED}
        if not state.values:  # a new record starts from the definition's defaults
            for f in self.definition.record(record_type).columns:
                if f.default is not None and data.get(f.name) in (None, ""):
                    data[f.name] = f.default
        clean, errors = validate(self.definition, record_type, data,
                                 partial=not full and bool(state.values), current=current)
        if record_type == "household" and "house_no" not in errors and clean.get("house_no") \
                and self.house_no_taken(clean["house_no"], record_id):
            errors["house_no"] = ["duplicate_house_no"]
        if errors:
            raise InvalidChange(record_type, errors)
        clean.update(meta_fields)
        changed = {k: v for k, v in clean.items()
                   if k not in state.values or dumps(state.values[k]) != dumps(v)}
        if not changed:
            return None
        bases = dict(base or {})
        for k in changed:
            if k not in bases:
                heads = sorted(h.change_id for h in state.heads.get(k, ()))
                if len(heads) > 1 and not may_resolve(self.conn, self.device_id):
                    # Superseding every head resolves the conflict: only a device granted
                    # `resolutions` may; others supersede the winner and leave it open.
                    w = state.winner(k)
                    heads = [w.change_id] if w else []
                bases[k] = (heads[0] if len(heads) == 1 else heads) if heads else None
        at = now()
        change = Change(change_id=new_id(), device_id=self.origin_id, seq=self.next_seq(),
                        record_type=record_type, record_id=record_id, fields=changed,
                        base={k: bases[k] for k in changed}, at=at, by=by, note=note,
                        hlc=clock.next_hlc(self.conn, at))
        refuse_outside_capabilities(self, change)
        return sign_change(self, change)

    def save(self, record_type: str, record_id: str | None, values: dict, *, by: str,
             note: str | None = None, full: bool = False) -> str:
        """Validate and save values of one record as one change; return the record id."""
        record_id = record_id or new_id()
        with transaction(self.conn):
            change = self.make_change(record_type, record_id, values, by=by, note=note,
                                      full=full)
            if change:
                self._write([change])
        return record_id

    def save_many(self, edits: Iterable[tuple[str, str, dict]], *, by: str,
                  full: bool = True) -> list[Change]:
        """Save several records (a household and its members) in one transaction.

        Every edit is validated (once, here: callers do not validate first) even after one
        fails, so InvalidEdits carries the errors of all of them; then nothing is written."""
        written, failed = [], {}
        with transaction(self.conn):
            for record_type, record_id, values in edits:
                try:
                    change = self.make_change(record_type, record_id, values, by=by, full=full)
                except InvalidChange as exc:
                    failed[record_id] = (exc.record_type, exc.errors)
                    continue
                if change and not failed:
                    self._write([change])  # written at once: the next change takes the next seq
                    written.append(change)
            if failed:
                raise InvalidEdits(failed)  # rolls back what this transaction wrote
        return written

    def house_no_taken(self, house_no: str, household_id: str | None = None) -> bool:
        """Whether another live household of this registry has this house number."""
        return self.conn.execute(
            "SELECT 1 FROM household WHERE house_no = ? AND id != ? AND deleted IS NULL",
            (house_no, household_id or "")).fetchone() is not None

    def household_by_number(self, house_no: str) -> dict | None:
        """The live household with this house number (the lookup people make), or None."""
        row = self.conn.execute("SELECT id FROM household WHERE house_no = ? AND deleted IS NULL "
                                "ORDER BY created_at LIMIT 1", (house_no,)).fetchone()
        return self.get("household", row[0]) if row else None

    def delete(self, record_type: str, record_id: str, *, reason: str, by: str) -> None:
        """Tombstone a record with a reason (never a physical delete)."""
        if not reason or not reason.strip():
            raise StoreError("a deletion needs a reason")
        if self.get(record_type, record_id) is None:
            raise StoreError(f"no {record_type} {record_id}")
        self.save(record_type, record_id, {DELETED: reason.strip()}, by=by, note=reason.strip())

    def apply(self, changes: list[Change]) -> tuple[int, int]:
        """Add changes made elsewhere (already validated by the caller) inside the caller's
        transaction; return (new, already known)."""
        ids = list(dict.fromkeys(c.change_id for c in changes))
        known_ids: set[str] = set()
        for chunk in _chunks(ids):
            known_ids.update(r[0] for r in self.conn.execute(
                f"SELECT change_id FROM change WHERE change_id IN ({_marks(chunk)})", chunk))
        fresh, seen = [], set(known_ids)
        for c in changes:
            if c.change_id not in seen:
                seen.add(c.change_id)
                fresh.append(c)
        self._write(fresh)
        return len(fresh), len(changes) - len(fresh)

    def _write(self, changes: list[Change]) -> None:
        """Insert change rows and refold the records they touch (inside a transaction)."""
        if not changes:
            return
        touched = list(dict.fromkeys((c.record_type, c.record_id) for c in changes))
        ids = [rid for _, rid in touched]
        # Records with changes already stored are refolded from the log; the others from the
        # batch in memory (a bulk merge of new records then reads nothing back).
        stored: set[str] = set()
        for chunk in _chunks(ids):
            stored.update(r[0] for r in self.conn.execute(
                f"SELECT DISTINCT record_id FROM change WHERE record_id IN ({_marks(chunk)})",
                chunk))
        stamp = now()
        self.conn.executemany(
            "INSERT INTO change (change_id, device_id, seq, record_type, record_id, fields, base,"
            " at, by, note, hlc, received_at, prev, sig)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [c.row() + (stamp, c.prev, c.sig) for c in changes])
        by_record: dict[str, list[Change]] = {}
        for c in changes:
            if c.record_id not in stored:
                by_record.setdefault(c.record_id, []).append(c)
        for chunk in _chunks([rid for rid in ids if rid in stored]):
            for row in self.conn.execute(
                    "SELECT change_id, device_id, seq, record_type, record_id, fields, base, at, "
                    f"by, note, hlc FROM change WHERE record_id IN ({_marks(chunk)})", chunk):
                by_record.setdefault(row[4], []).append(Change.from_row(row))
        self._store_states([(t, rid, by_record[rid]) for t, rid in touched])

    def refold(self, record_type: str, record_id: str) -> State:
        """Rewrite one record's row and open conflicts from its change set."""
        return self._store_states([(record_type, record_id, self.changes_of(record_id))])[0]

    def _store_states(self, records: list[tuple[str, str, list[Change]]]) -> list[State]:
        """Fold each record's changes and write its row and open conflicts, batched by type."""
        rows: dict[str, list] = {}
        conflicts = []
        states = []
        layout: dict[str, tuple] = {}
        for record_type, record_id, changes in records:
            if any(c.record_type != record_type for c in changes):
                raise StoreError(f"record {record_id} has changes of two record types")
            state = fold(changes)
            states.append(state)
            if record_type not in layout:
                rtype = self.definition.record(record_type)
                layout[record_type] = ((f"{rtype.parent}_id",) if rtype.parent else ()) + tuple(
                    f.name for f in rtype.columns)
            vals = [record_id]
            for name in layout[record_type]:
                v = state.values.get(name)
                vals.append(dumps(v) if isinstance(v, list) else v)
            vals += [state.deleted, state.created.at, state.created.by, state.updated.at,
                     state.updated.by]
            rows.setdefault(record_type, []).append(vals)
            for name, heads in state.conflicts().items():
                cands = [{"change_id": h.change_id, "value": h.fields[name],
                          "device_id": h.device_id, "by": h.by, "at": h.at} for h in heads]
                conflicts.append((record_type, record_id, name, heads[0].change_id,
                                  dumps(cands)))
        for record_type, vals in rows.items():
            rtype = self.definition.record(record_type)
            cols = (["id"] + ([f"{rtype.parent}_id"] if rtype.parent else [])
                    + [f.name for f in rtype.columns]
                    + ["deleted", "created_at", "created_by", "updated_at", "updated_by"])
            self.conn.executemany(
                f"INSERT OR REPLACE INTO [{record_type}] ({', '.join(f'[{c}]' for c in cols)}) "
                f"VALUES ({', '.join('?' for _ in cols)})", vals)
        self.conn.executemany("DELETE FROM conflict WHERE record_type = ? AND record_id = ?",
                              [(t, rid) for t, rid, _ in records])
        self.conn.executemany("INSERT INTO conflict (record_type, record_id, field, winner, "
                              "candidates) VALUES (?, ?, ?, ?, ?)", conflicts)
        return states


def _chunks(items: list, size: int = 500) -> Iterator[list]:
    """Slices of a list small enough for one SQL statement's parameters."""
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _marks(chunk: list) -> str:
    return ", ".join("?" for _ in chunk)
