"""Household search at scale: which households match a search term, served from indexes.

The meaning is fixed and simple: a household matches a term when its house number, owner's name
or address contains the term, ASCII letters compared without case (SQLite's LIKE). What this
module adds is the way to that answer on a registry of a million households:

- a term of 3 or more characters asks an FTS5 trigram index (`household_fts`, kept in step with
  the household table by triggers) for its candidates. A rare term has few: their rows are
  checked with the LIKE above (so the answer is exactly LIKE's) and counted exactly. A common
  term has more than `CANDIDATES`: then a page is read along the house-number index, which finds
  a page of a common term after a short walk, and the count is given as a lower bound;
- a term of 1 or 2 characters (a surname, a street's first character) is no trigram, but every
  place it occurs begins one: each value is indexed with two END characters after it, and the
  trigrams the term begins are read from the index's vocabulary (a range of terms). A rare term
  begins few: they are looked up like a long term's. A common one (more than VOCAB_MAX
  trigrams, or too many rows) walks the narrow covering index `household_search` in list order
  and stops after one page (LIMIT), which a common term fills at once;
- no term: the page comes from the filter's index and the count stops at `COUNT_CAP`.

Counting never scans past what the page needed: a lower bound ("1000+") takes the count's place.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

SEARCH_COLUMNS = ("house_no", "owner_name", "address")
CANDIDATES = 1000  # most candidate rows a term may have and still be counted exactly
COUNT_CAP = 1000  # most rows a filter-only count reads
MAX_TERM = 100

FTS = "household_fts"
_FTS_SQL = (f"CREATE VIRTUAL TABLE {FTS} USING fts5({', '.join(SEARCH_COLUMNS)}, "
            "tokenize='trigram')")
# Each value is indexed with two END characters after it, so that every character of a value
# starts a trigram: a 1-2 character term is then found among the trigrams it begins.
END = "\x1f"
_VALUES = ", ".join(f"new.{c} || char(31, 31)" for c in SEARCH_COLUMNS)
_COLS = ", ".join(SEARCH_COLUMNS)
# The household table is written with INSERT OR REPLACE (store._store_states): the REPLACE's
# delete fires no delete trigger (recursive_triggers is off), so the old entry goes before the
# insert, found by the row's id while the old row still exists.
_TRIGGERS = {
    f"{FTS}_bi": f"BEFORE INSERT ON household BEGIN DELETE FROM {FTS} WHERE rowid = "
                 "(SELECT rowid FROM household WHERE id = new.id); END",
    f"{FTS}_ai": f"AFTER INSERT ON household BEGIN INSERT INTO {FTS} (rowid, {_COLS}) "
                 f"VALUES (new.rowid, {_VALUES}); END",
    f"{FTS}_ad": f"AFTER DELETE ON household BEGIN DELETE FROM {FTS} WHERE rowid = old.rowid; "
                 "END",
    f"{FTS}_au": f"AFTER UPDATE ON household BEGIN DELETE FROM {FTS} WHERE rowid = old.rowid; "
                 f"INSERT INTO {FTS} (rowid, {_COLS}) VALUES (new.rowid, {_VALUES}); END",
}
VOCAB_MAX = 200  # most trigrams a 1-2 character term may begin and still be looked up


def ensure_search_index(conn: sqlite3.Connection) -> bool:
    """Create the trigram index and its triggers if missing or made differently, filled from
    the household table (about a minute for a million households). Returns whether it had to
    be built."""
    have = dict(conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE name = ? OR (type = 'trigger' AND name LIKE ?)",
        (FTS, f"{FTS}_%")).fetchall())
    want = {name: f"CREATE TRIGGER [{name}] {body}" for name, body in _TRIGGERS.items()}
    if have.get(FTS) == _FTS_SQL and all(have.get(n) == sql for n, sql in want.items()):
        return False
    conn.execute("BEGIN IMMEDIATE")
    try:
        for name in have:
            if name != FTS:
                conn.execute(f"DROP TRIGGER IF EXISTS [{name}]")
        conn.execute(f"DROP TABLE IF EXISTS {FTS}")
        conn.execute(_FTS_SQL)
        conn.execute(f"INSERT INTO {FTS} (rowid, {_COLS}) SELECT rowid, "
                     f"{_VALUES.replace('new.', '')} FROM household")
        for sql in want.values():
            conn.execute(sql)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return True


def has_search_index(conn: sqlite3.Connection) -> bool:
    """Whether this database has the trigram index (else every term walks the list index)."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (FTS,)).fetchone() \
        is not None


def clean_term(text: str | None) -> str:
    """The search term as searched: trimmed, NULs dropped, at most MAX_TERM characters."""
    return (text or "").replace("\x00", "").strip()[:MAX_TERM]


def like_condition(term: str) -> tuple[str, list]:
    """SQL true when a household's house number, owner or address contains `term` (LIKE's
    wildcards taken literally), with its parameters."""
    if any(c in term for c in "%_\\"):
        # ESCAPE only when needed: it makes SQLite's LIKE markedly slower on every row
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return ("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in SEARCH_COLUMNS) + ")",
                [f"%{escaped}%"] * len(SEARCH_COLUMNS))
    return ("(" + " OR ".join(f"{c} LIKE ?" for c in SEARCH_COLUMNS) + ")",
            [f"%{term}%"] * len(SEARCH_COLUMNS))


def fts_phrase(term: str) -> str:
    """An FTS5 query matching `term` as one phrase: every trigram of it, in a row."""
    return '"' + term.replace('"', '""') + '"'


@dataclass
class Page:
    """One page of a search: its rows, and the count as far as it is known."""

    rows: list[dict]
    page: int
    total: int | None  # exact, or None when only a lower bound is known
    at_least: int  # a lower bound of the count (equal to total when exact)
    has_next: bool
    path: str  # which way the page was found: fts, scan, index (for the benchmark and tests)

    @property
    def pages(self) -> int | None:
        return None if self.total is None else max(1, -(-self.total // self.page_size))

    page_size: int = 50

    def as_dict(self) -> dict:
        total_text = str(self.total) if self.total is not None else f"{self.at_least}+"
        return {"rows": self.rows, "page": self.page, "total": self.total,
                "total_text": total_text, "pages": self.pages, "has_next": self.has_next,
                "path": self.path}


ROW_COLUMNS = "id, house_no, zone, address, owner_name, status, cadre, updated_at, updated_by"


def find(conn: sqlite3.Connection, term: str, filters: list[str], params: list, page: int,
         page_size: int = 50) -> Page:
    """One page of live households containing `term` (see the module) and meeting the SQL
    `filters` (ANDed, with `params`), in house-number order."""
    term = clean_term(term)
    page = min(max(page, 1), 10**6)  # an absurd page number must not overflow SQLite's integers
    where = ["deleted IS NULL", *filters]
    if term:
        cond, extra = like_condition(term)
        where.append(cond)
        params = [*params, *extra]
        query = _fts_query(conn, term) if has_search_index(conn) else None
        if query is not None:
            cands = [r for (r,) in conn.execute(
                f"SELECT rowid FROM {FTS} WHERE {FTS} MATCH ? LIMIT ?", (query, CANDIDATES + 1))]
            if len(cands) <= CANDIDATES:
                return _candidates(conn, cands, where, params, page, page_size)
        return _walk(conn, where, params, page, page_size, count=False)
    return _walk(conn, where, params, page, page_size, count=True)


def _fts_query(conn: sqlite3.Connection, term: str) -> str | None:
    """The trigram query whose rows include every household containing `term`, or None when the
    term is better walked: a short term beginning too many trigrams (a common one)."""
    if len(term) >= 3:
        return fts_phrase(term)
    if END in term or any(ord(c) > 127 and c.lower() + c.upper() != c + c for c in term):
        return None  # a cased non-ASCII letter: the index folds it, LIKE does not; walk
    key = term.lower()  # the index holds ASCII letters folded
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{FTS}_vocab USING "
                 f"fts5vocab(main, {FTS}, row)")
    rows = conn.execute(f"SELECT term, doc FROM temp.{FTS}_vocab WHERE term >= ? AND term <= ? "
                        "LIMIT ?", (key, key + "\U0010ffff" * 3, VOCAB_MAX + 1)).fetchall()
    if len(rows) > VOCAB_MAX or sum(doc for _, doc in rows) > CANDIDATES * 4:
        return None
    if not rows:
        return '""'  # no trigram: matches nothing
    return " OR ".join(fts_phrase(t) for t, _ in rows)


def _select(conn, where, params, limit, offset, extra="") -> list[dict]:
    cur = conn.execute(f"SELECT {ROW_COLUMNS} FROM household WHERE {' AND '.join(where)}{extra}"
                       " ORDER BY house_no, id LIMIT ? OFFSET ?", [*params, limit, offset])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur]


def _candidates(conn, cands, where, params, page, page_size) -> Page:
    """A rare term: its candidates (at most CANDIDATES rows) checked, counted and paged."""
    inside = " AND rowid IN (SELECT value FROM json_each(?))"
    ids = json.dumps(cands)
    total = conn.execute(f"SELECT COUNT(*) FROM household WHERE {' AND '.join(where)}{inside}",
                         [*params, ids]).fetchone()[0]
    pages = max(1, -(-total // page_size))
    page = min(page, pages)
    rows = _select(conn, where, [*params, ids], page_size, (page - 1) * page_size, inside)
    return Page(rows, page, total, total, page < pages, "fts", page_size)


def _walk(conn, where, params, page, page_size, *, count: bool) -> Page:
    """A page read along the list's order; counted up to COUNT_CAP when `count` (filters
    only: an index serves them), else known only as far as the page reached."""
    offset = (page - 1) * page_size
    rows = _select(conn, where, params, page_size + 1, offset)
    if not rows and page > 1:  # past the end: the last page, found by one full count
        total = conn.execute(f"SELECT COUNT(*) FROM household WHERE {' AND '.join(where)}",
                             params).fetchone()[0]
        last = max(1, -(-total // page_size))
        rows = _select(conn, where, params, page_size, (last - 1) * page_size)
        return Page(rows, last, total, total, False, "scan", page_size)
    has_next = len(rows) > page_size
    rows = rows[:page_size]
    seen = offset + len(rows)
    if not has_next:
        return Page(rows, page, seen, seen, False, "scan" if not count else "index", page_size)
    if count:
        n = conn.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM household WHERE "
                         f"{' AND '.join(where)} LIMIT ?)", [*params, COUNT_CAP + 1]).fetchone()[0]
        if n <= COUNT_CAP:
            return Page(rows, page, n, n, True, "index", page_size)
        return Page(rows, page, None, max(COUNT_CAP, seen), True, "index", page_size)
    return Page(rows, page, None, seen, True, "scan", page_size)
