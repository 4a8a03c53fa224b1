"""Scopes: which households a laptop may receive (data minimisation).

A laptop's scope is a set of zones and/or teams (`{"zones": [...], "teams": [...]}`; None is
the whole project), set by the central office at enrolment (`anju device enroll ... --scope
zone=A,B`), with `anju device scope`, or on the devices page. A household is in a scope when its
zone is one of the zones, or its responsible cadre belongs to one of the teams (the project
settings' teams). A record is in scope with its household: members, visits, attachments and
every system record whose parent is the household, and a parentless record naming a household
in a `household` field (review decisions). Parentless records naming no household (publication
rounds, project-wide decisions) go to every laptop.

The central registry's pack for a scoped laptop carries only the changes of records in its
scope, plus the changes the laptop itself made, plus the list of household ids in its scope
(ids only). On merging it the laptop removes every household it holds that is not listed —
unless it holds changes of its own to it that the central registry does not hold yet — with
its dependents: their rows, their conflicts, every change of theirs made by other devices and
the files only they used. The laptop's own changes stay in its change log (its signed chain,
and the central registry's copy of its work), but no longer show as records. A household
entering the scope (a zone moved, the scope widened) is sent whole in the next pack.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3

from anju.registry.core.changes import dumps
from anju.registry.core.digest import BOOKKEEPING
from anju.registry.core.origin import SEPARATOR
from anju.registry.core.store import Registry, StoreError, transaction

KINDS = {"zone": "zones", "zones": "zones", "team": "teams", "teams": "teams"}


def parse_scope(items) -> dict | None:
    """`zone=A,B` / `team=T1` (repeatable, or joined with ';') into a scope; `all` is None.

    StoreError (one line) when the text is not a scope."""
    if isinstance(items, str):
        items = [items]
    out: dict[str, set[str]] = {"zones": set(), "teams": set()}
    parts = [p.strip() for item in items or () for p in str(item).split(";") if p.strip()]
    if not parts or parts == ["all"]:
        return None
    for part in parts:
        kind, sep, names = part.partition("=")
        key = KINDS.get(kind.strip().lower())
        values = [n.strip() for n in names.split(",") if n.strip()]
        if not sep or key is None or not values:
            raise StoreError(f"not a scope: {part!r} (use zone=A,B or team=NAME, or all)")
        out[key].update(values)
    return {k: sorted(v) for k, v in out.items()}


def normalise(scope) -> dict | None:
    """A scope from a dict or its JSON text (as the device directory carries it); None = all."""
    if scope is None or scope == "":
        return None
    if isinstance(scope, str):
        scope = json.loads(scope)
    if not isinstance(scope, dict) or set(scope) - {"zones", "teams"}:
        raise TypeError("scope")
    out = {}
    for key in ("zones", "teams"):
        values = scope.get(key) or []
        if not isinstance(values, list) or not all(isinstance(v, str) and 0 < len(v) <= 40
                                                   for v in values):
            raise TypeError("scope")
        out[key] = sorted(set(values))
    if not out["zones"] and not out["teams"]:
        raise TypeError("scope")
    return out


def scope_text(scope) -> str | None:
    """The stored form of a scope (JSON), None for the whole project."""
    scope = normalise(scope)
    return None if scope is None else dumps(scope)


def describe(scope) -> str:
    """A scope in one short line: `zones A, B; teams T` or `all`."""
    scope = normalise(scope)
    if scope is None:
        return "all"
    parts = [f"{k} {', '.join(v)}" for k, v in scope.items() if v]
    return "; ".join(parts)


def check_scope(reg: Registry, scope) -> dict | None:
    """A scope whose teams (and, where the settings list zones, zones) exist in the project
    settings; StoreError naming the unknown one."""
    scope = normalise(scope)
    if scope is None:
        return None
    settings = reg.settings
    zones = {z.get("name") for z in settings.get("zones") or ()}
    teams = {t.get("name") for t in settings.get("teams") or ()}
    for z in scope["zones"]:
        if zones and z not in zones:
            raise StoreError(f"unknown zone {z!r} (the project's zones: "
                             f"{', '.join(sorted(zones))})")
    for t in scope["teams"]:
        if t not in teams:
            raise StoreError(f"unknown team {t!r} (the project's teams: "
                             f"{', '.join(sorted(teams)) or 'none'})")
    return scope


def scope_of(reg: Registry, device_id: str) -> dict | None:
    """The scope of device `device_id` as this database knows it (None: the whole project)."""
    row = reg.conn.execute("SELECT scope FROM device WHERE device_id = ?",
                           (device_id,)).fetchone()
    return normalise(row[0]) if row and row[0] else None


def set_scope(reg: Registry, name: str, scope) -> dict | None:
    """Central: give laptop NAME a new scope (None: the whole project). Its next pack brings
    the households entering it; merging that pack removes those leaving it."""
    if reg.meta("role") != "central":
        raise StoreError("only the central registry sets scopes")
    scope = check_scope(reg, scope)
    with transaction(reg.conn):
        row = reg.conn.execute("SELECT device_id, role FROM device WHERE name = ?",
                               (name,)).fetchone()
        if row is None:
            raise StoreError(f"no device named {name}")
        if row[1] == "central":
            raise StoreError(f"{name} is the central registry; it holds the whole project")
        reg.conn.execute("UPDATE device SET scope = ?, scope_version = scope_version + 1 "
                         "WHERE device_id = ?", (scope_text(scope), row[0]))
    return scope


# -- which records are in a scope ------------------------------------------------------------
def _team_cadres(reg: Registry, scope: dict) -> list[str]:
    wanted = set(scope["teams"])
    return sorted({c for t in reg.settings.get("teams") or () if t.get("name") in wanted
                   for c in t.get("cadres") or ()})


def fill(reg: Registry, scope: dict, households: str = "scope_household",
         records: str = "scope_record") -> None:
    """Fill temp tables `households` (ids of the households in `scope`) and `records` (ids of
    every record in it, households included; project-wide records too)."""
    conn = reg.conn
    for t in (households, records):
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {t} (id TEXT PRIMARY KEY) WITHOUT ROWID")
        conn.execute(f"DELETE FROM temp.{t}")
    zones, cadres = scope["zones"], _team_cadres(reg, scope)
    conn.execute(
        f"INSERT OR IGNORE INTO temp.{households} SELECT id FROM household "
        f"WHERE zone IN (SELECT value FROM json_each(?)) "
        f"OR cadre IN (SELECT value FROM json_each(?))", (json.dumps(zones), json.dumps(cadres)))
    conn.execute(f"INSERT INTO temp.{records} SELECT id FROM temp.{households}")
    for name, rtype in reg.definition.records.items():
        if name == "household":
            continue
        if rtype.parent == "household":
            conn.execute(f"INSERT OR IGNORE INTO temp.{records} SELECT id FROM [{name}] "
                         f"WHERE household_id IN (SELECT id FROM temp.{households})")
        elif rtype.parent:
            continue  # nested below another record: not in this project's survey
        elif any(f.name == "household" for f in rtype.columns):
            conn.execute(f"INSERT OR IGNORE INTO temp.{records} SELECT id FROM [{name}] "
                         f"WHERE household IS NULL OR household = '' OR household IN "
                         f"(SELECT id FROM temp.{households})")
        else:
            conn.execute(f"INSERT OR IGNORE INTO temp.{records} SELECT id FROM [{name}]")


def drop(reg: Registry, *tables: str) -> None:
    for t in tables or ("scope_household", "scope_record"):
        reg.conn.execute(f"DROP TABLE IF EXISTS temp.{t}")


def digest(reg: Registry, scope) -> str:
    """The registry digest (registry/core/digest.py) over the records in `scope` only: equal on
    a laptop and on the central registry when the laptop holds its scope exactly."""
    scope = normalise(scope)
    if scope is None:
        from anju.registry.core.digest import digest as whole
        return whole(reg)
    fill(reg, scope)
    h = hashlib.sha256()
    try:
        for name in sorted(reg.definition.records):
            cur = reg.conn.execute(f"SELECT * FROM [{name}] WHERE id IN "
                                   "(SELECT id FROM temp.scope_record) ORDER BY id")
            cols = [d[0] for d in cur.description]
            for row in cur:
                content = {c: v for c, v in zip(cols, row)
                           if v is not None and c not in BOOKKEEPING}
                h.update(dumps([name, content]).encode())
                h.update(b"\n")
    finally:
        drop(reg)
    return h.hexdigest()


def own_origin_sql(column: str = "device_id") -> str:
    """SQL true when `column` (an origin) is device `?` itself or one of its generations."""
    return f"({column} = ? OR substr({column}, 1, length(?) + 1) = ? || '{SEPARATOR}')"


# -- the laptop's side -------------------------------------------------------------------------
def take_list(reg: Registry, frame: dict) -> None:
    """Laptop: remember the households of its scope from a central pack's scope frame, unless a
    newer list is already held (a replayed older pack does not roll it back)."""
    serial, ids = frame.get("serial"), frame.get("households")
    if (not isinstance(serial, int) or isinstance(serial, bool) or not isinstance(ids, list)
            or not all(isinstance(i, str) and 0 < len(i) <= 64 for i in ids)):
        raise TypeError("scope frame")
    if serial <= int(reg.meta("scope_serial") or 0):
        return
    reg.conn.execute("DELETE FROM scope_held")
    reg.conn.executemany("INSERT OR IGNORE INTO scope_held VALUES (?)", [(i,) for i in ids])
    reg.set_meta("scope_serial", str(serial))
    reg.set_meta("scope_limited", "1")


def clear_list(reg: Registry) -> None:
    """Laptop: the central registry now sends it the whole project (its scope was lifted)."""
    if reg.meta("scope_limited") == "1":
        reg.conn.execute("DELETE FROM scope_held")
        reg.set_meta("scope_limited", "0")


def prune(reg: Registry, central_have: dict) -> int:
    """Laptop: remove the households outside its scope (see the module's docstring), inside the
    caller's transaction. `central_have` is what the central registry holds of each origin (a
    household with own changes above it is kept until they are exported). Returns how many
    households were removed."""
    if reg.meta("scope_limited") != "1":
        return 0
    conn, me = reg.conn, reg.device_id
    own = own_origin_sql()
    mine = (me, me, me)
    # Households with own changes the central registry does not hold yet (directly or through
    # a dependent) stay until exported.
    pending = {o: s for o, s in central_have.items() if isinstance(o, str)
               and isinstance(s, int)}
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS prune_gone (id TEXT PRIMARY KEY) WITHOUT ROWID")
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS prune_record (id TEXT PRIMARY KEY) "
                 "WITHOUT ROWID")
    conn.execute("DELETE FROM temp.prune_gone")
    conn.execute("DELETE FROM temp.prune_record")
    try:
        conn.execute("INSERT INTO temp.prune_gone SELECT id FROM household "
                     "WHERE id NOT IN (SELECT household_id FROM scope_held)")
        if not conn.execute("SELECT 1 FROM temp.prune_gone LIMIT 1").fetchone():
            return 0
        _dependents(reg, "prune_gone", "prune_record")
        keep = set()
        for record_id, origin, seq in conn.execute(
                "SELECT c.record_id, c.device_id, c.seq FROM change c JOIN temp.prune_record r "
                f"ON r.id = c.record_id WHERE {own.replace('device_id', 'c.device_id')}", mine):
            if seq > pending.get(origin, 0):
                keep.add(record_id)
        if keep:
            kept_households = _households_of(reg, keep)
            conn.executemany("DELETE FROM temp.prune_gone WHERE id = ?",
                             [(h,) for h in kept_households])
            conn.execute("DELETE FROM temp.prune_record")
            _dependents(reg, "prune_gone", "prune_record")
        gone = conn.execute("SELECT count(*) FROM temp.prune_gone").fetchone()[0]
        if not gone:
            return 0
        conn.execute("PRAGMA secure_delete = ON")  # freed pages are zeroed, not left readable
        conn.execute("DELETE FROM change WHERE record_id IN (SELECT id FROM temp.prune_record) "
                     f"AND NOT {own}", mine)
        for name in reg.definition.records:
            conn.execute(f"DELETE FROM [{name}] WHERE id IN (SELECT id FROM temp.prune_record)")
        conn.execute("DELETE FROM conflict WHERE record_id IN "
                     "(SELECT id FROM temp.prune_record)")
        _drop_unused_blobs(reg)
        return gone
    finally:
        conn.execute("DROP TABLE IF EXISTS temp.prune_gone")
        conn.execute("DROP TABLE IF EXISTS temp.prune_record")


def scrub_file(reg: Registry) -> None:
    """After a prune committed: copy the zeroed pages into the database file and empty the WAL,
    so the removed households are not left in either (best effort: a reader may hold the WAL;
    the next checkpoint then does it)."""
    with contextlib.suppress(sqlite3.Error):  # busy: the WAL waits for the next checkpoint
        reg.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _dependents(reg: Registry, households: str, records: str) -> None:
    """Fill `records` with the households of `households` and every record depending on them."""
    conn = reg.conn
    conn.execute(f"INSERT OR IGNORE INTO temp.{records} SELECT id FROM temp.{households}")
    for name, rtype in reg.definition.records.items():
        if rtype.parent == "household":
            conn.execute(f"INSERT OR IGNORE INTO temp.{records} SELECT id FROM [{name}] "
                         f"WHERE household_id IN (SELECT id FROM temp.{households})")
        elif not rtype.parent and name != "household" and any(
                f.name == "household" for f in rtype.columns):
            conn.execute(f"INSERT OR IGNORE INTO temp.{records} SELECT id FROM [{name}] "
                         f"WHERE household IN (SELECT id FROM temp.{households})")


def _households_of(reg: Registry, record_ids: set[str]) -> set[str]:
    """The households that records `record_ids` are, or belong to."""
    out = set()
    ids = json.dumps(sorted(record_ids))
    for name, rtype in reg.definition.records.items():
        if name == "household":
            col = "id"
        elif rtype.parent == "household":
            col = "household_id"
        elif not rtype.parent and any(f.name == "household" for f in rtype.columns):
            col = "household"
        else:
            continue
        out.update(r[0] for r in reg.conn.execute(
            f"SELECT {col} FROM [{name}] WHERE id IN (SELECT value FROM json_each(?)) "
            f"AND {col} IS NOT NULL", (ids,)))
    return out


def _drop_unused_blobs(reg: Registry) -> None:
    """Remove the files no remaining attachment row or own change refers to."""
    if "attachment" not in reg.definition.records:
        return
    fields = {f.name for f in reg.definition.record("attachment").columns}
    if "sha256" not in fields:
        return
    reg.conn.execute(
        "DELETE FROM blob WHERE sha256 NOT IN (SELECT sha256 FROM attachment WHERE sha256 IS "
        "NOT NULL) AND sha256 NOT IN (SELECT json_extract(fields, '$.sha256') FROM change "
        "WHERE record_type = 'attachment' AND json_extract(fields, '$.sha256') IS NOT NULL)")
