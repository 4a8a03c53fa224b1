"""The central checks after a merge, incrementally: only the households the merge touched.

Most checks judge one household by its own rows (its record and its members, visits,
agreements ...): for those (`LOCAL`) a merge can change the flags of the households it touched
only. They run unchanged, on temporary views that shadow the household tables with the touched
households' rows (SQLite resolves an unqualified name in the temp schema first), and their
flags replace the old flags of those kinds that name a touched household or record; every
other flag stays as it was.

The checks that compare households with each other (one ID or title in two households, one
house twice, agreement numbers, signings per cadre and day, prices against the zone's median,
house numbers across zones) and those over the change log or every record type (clock ahead,
values the current survey no longer allows) are not incremental: a new household can make an
old one a duplicate, and a zone's median moves with every agreement. They run whole
as they are, SQL over indexed columns. A merge touching more than `FULL_SHARE` of the
households, or a registry whose flags were not computed here under the same settings and
survey, runs every check whole.
"""

from __future__ import annotations

import hashlib
import json

from anju.registry.core.settings import load as load_settings
from anju.registry.core.store import Registry, transaction
from anju.registry.review import checks

LOCAL = frozenset({
    "freeze_member", "freeze_building", "area_mismatch", "use_mismatch", "date_order",
    "double_agreement", "agreement_dates", "status_agreement", "id_two_names",
    "impossible_relation", "cert_area_zero"})
FULL_SHARE = 0.5  # more households touched than this share: the whole run is cheaper
TOUCHED = "anju_touched"
NOTE = "checks_state"


def _kind(check) -> str | None:
    return {f"check_{k}": k for k in checks.KINDS}.get(check.__name__)


def after_merge(reg: Registry, results) -> None:
    """The flags after a merge call that brought new changes (central only): incremental when
    the flags were last computed here by this module, under the same settings and survey (the
    note `checks_state` keeps the change log's top rowid then, and their hash), else whole.
    Changes made since by the web app (rowids above the note) are rechecked too."""
    if reg.meta("role") != "central" or not any(r.ok and r.new for r in results):
        return
    top = reg.conn.execute("SELECT max(rowid) FROM change").fetchone()[0] or 0
    state = _state(reg)
    try:
        note = json.loads(reg.meta(NOTE) or "null")
    except ValueError:
        note = None
    if not isinstance(note, dict) or note.get("state") != state or not isinstance(
            note.get("rowid"), int):
        checks.run_checks(reg)
    else:
        touched = touched_households(reg, note["rowid"])
        total = reg.conn.execute("SELECT count(*) FROM household").fetchone()[0] or 1
        if len(touched) > FULL_SHARE * total:
            checks.run_checks(reg)
        else:
            recheck(reg, touched, note["rowid"])
    reg.set_meta(NOTE, json.dumps({"rowid": top, "state": state}))


def _state(reg: Registry) -> str:
    """What the flags depend on besides the records: the settings and the survey."""
    text = json.dumps([load_settings(reg), reg.definition.hash, checks.CHECKS.__len__()],
                      sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def touched_households(reg: Registry, since: int) -> set[str]:
    """The households whose own rows changes above rowid `since` changed: the records of the
    changes, the parents of their child records, and parents they were moved from or to."""
    conn = reg.conn
    out: set[str] = set()
    children = [n for n, r in reg.definition.records.items() if r.parent == "household"]
    rows = conn.execute("SELECT record_type, record_id, fields FROM change WHERE rowid > ?",
                        (since,))
    child_ids: dict[str, list[str]] = {}
    for rtype, rid, fields in rows:
        if rtype == "household":
            out.add(rid)
        elif rtype in children:
            child_ids.setdefault(rtype, []).append(rid)
            if '"household_id"' in fields:
                moved = json.loads(fields).get("household_id")
                if isinstance(moved, str):
                    out.add(moved)
    for rtype, ids in child_ids.items():
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            out.update(r[0] for r in conn.execute(
                f"SELECT household_id FROM [{rtype}] WHERE id IN "
                f"({', '.join('?' for _ in chunk)})", chunk) if r[0])
    return out


def recheck(reg: Registry, households, since: int | None = None) -> list[checks.Flag]:
    """Rerun the LOCAL checks on `households` and the GLOBAL ones whole; store the result
    (touching only flags that changed). Returns the flags found."""
    households = set(households)
    conn = reg.conn
    checks.prepare(reg)
    settings = load_settings(reg)
    records = _touched_records(reg, since) if since is not None else set()
    local: dict[str, checks.Flag] = {}
    _shadow(reg, households)
    try:
        for check in checks.CHECKS:
            if _kind(check) in LOCAL:
                for flag in check(reg, settings):
                    local.setdefault(flag.key, flag)
    finally:
        _unshadow(reg)
    found = dict(local)
    for check in checks.CHECKS:
        if _kind(check) not in LOCAL:
            for flag in check(reg, settings):
                found.setdefault(flag.key, flag)
    # The old flags this run answers for: every GLOBAL one, and the LOCAL ones that name a
    # touched household or record (a moved member's flag on its old household included).
    scope = set()
    for key, kind, recs in conn.execute("SELECT flag_key, kind, records FROM flag"):
        if kind not in LOCAL:
            scope.add(key)
            continue
        ids = {rid for _, rid in json.loads(recs or "[]")}
        if ids & households or ids & records:
            scope.add(key)
    if conn.in_transaction:
        _store_scope(reg, list(found.values()), scope)
    else:
        with transaction(conn):
            _store_scope(reg, list(found.values()), scope)
    return list(found.values())


def _touched_records(reg: Registry, since: int) -> set[str]:
    return {r[0] for r in reg.conn.execute("SELECT record_id FROM change WHERE rowid > ?",
                                           (since,))}


def _shadow(reg: Registry, households: set[str]) -> None:
    """Temporary views named like the household tables, holding the touched households'
    rows only."""
    conn = reg.conn
    conn.execute(f"DROP TABLE IF EXISTS temp.{TOUCHED}")
    conn.execute(f"CREATE TEMP TABLE {TOUCHED} (id TEXT PRIMARY KEY)")
    conn.executemany(f"INSERT INTO temp.{TOUCHED} VALUES (?)", [(h,) for h in households])
    for name, rtype in reg.definition.records.items():
        if name == "household":
            where = "id"
        elif rtype.parent == "household":
            where = "household_id"
        else:
            continue
        conn.execute(f"CREATE TEMP VIEW [{name}] AS SELECT * FROM main.[{name}] "
                     f"WHERE {where} IN (SELECT id FROM temp.{TOUCHED})")


def _unshadow(reg: Registry) -> None:
    conn = reg.conn
    for (name,) in conn.execute("SELECT name FROM temp.sqlite_master WHERE type = 'view'"
                                ).fetchall():
        conn.execute(f"DROP VIEW temp.[{name}]")
    conn.execute(f"DROP TABLE IF EXISTS temp.{TOUCHED}")


def _store_scope(reg: Registry, flags: list[checks.Flag], scope: set[str]) -> None:
    """Bring the flags within `scope` (old keys this run answers for) to `flags`: add the new,
    drop those of the scope not found again, reword those found again differently."""
    conn = reg.conn
    old = {k: (zh, en) for k, zh, en in
           conn.execute("SELECT flag_key, reason_zh, reason_en FROM flag")}
    new = {f.key: f for f in flags}
    gone = [(k,) for k in scope - new.keys()]
    conn.executemany("DELETE FROM flag_household WHERE flag_key = ?", gone)
    conn.executemany("DELETE FROM flag WHERE flag_key = ?", gone)
    stamp = checks.now()
    added = [f for k, f in new.items() if k not in old]
    conn.executemany(
        "INSERT INTO flag (flag_key, kind, reason_zh, reason_en, records, found_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(f.key, f.kind, f.reason_zh, f.reason_en, json.dumps(f.records), stamp)
         for f in added])
    conn.executemany("INSERT INTO flag_household (flag_key, household_id) VALUES (?, ?)",
                     [(f.key, h) for f in added for h in f.households])
    conn.executemany("UPDATE flag SET reason_zh = ?, reason_en = ? WHERE flag_key = ?",
                     [(f.reason_zh, f.reason_en, k) for k, f in new.items()
                      if k in old and old[k] != (f.reason_zh, f.reason_en)])
