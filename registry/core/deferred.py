"""Deferred index maintenance for a large merge: drop the derived indexes, load, build once.

A merge that brings as many changes as the registry holds pays, for every row, an insert into
each secondary index under a random UUID key, most of them a page the cache no longer holds.
Building an index once after the load sorts its keys instead, which costs a fraction of that.
The indexes dropped are those no step of a merge reads (every UNIQUE or PRIMARY KEY index, and
`change_record`, through which a merge reads the changes of records it already holds, stay),
and the trigram search index with its triggers (derived: registry/core/search.py).

What was dropped is written to meta `deferred_indexes` in the transaction that drops it, so a
merge that dies half-way leaves a note that the next merge acts on first (`restore` rebuilds
everything the note names; not on open, since another process's merge may be running). Between
the drop and the rebuild the registry is correct and complete, only its lists and searches are
slower.
"""

from __future__ import annotations

import json
import sqlite3

from anju.registry.core import search

META = "deferred_indexes"
KEEP = frozenset({"change_record"})  # read by the merge itself (records already stored)


def defer(conn: sqlite3.Connection) -> int:
    """Drop the deferrable indexes (and the trigram index) in one transaction; returns how
    many were dropped. Nothing is dropped while an earlier note is pending."""
    if pending(conn):
        restore(conn)
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        "AND sql NOT LIKE 'CREATE UNIQUE%' ORDER BY name").fetchall()
    indexes = [(n, s) for n, s in rows if n not in KEEP]
    fts = search.has_search_index(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        for name, _ in indexes:
            conn.execute(f"DROP INDEX [{name}]")
        if fts:
            for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE ?",
                    (f"{search.FTS}_%",)).fetchall():
                conn.execute(f"DROP TRIGGER [{name}]")
            conn.execute(f"DROP TABLE {search.FTS}")
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
                     "SET value = excluded.value",
                     (META, json.dumps({"indexes": indexes, "search": fts})))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return len(indexes) + fts


def pending(conn: sqlite3.Connection) -> bool:
    """Whether a note of dropped indexes waits to be acted on."""
    try:
        return conn.execute("SELECT 1 FROM meta WHERE key = ?", (META,)).fetchone() is not None
    except sqlite3.OperationalError:
        return False


def restore(conn: sqlite3.Connection) -> None:
    """Build every index the note names (each once, sorted), then the trigram index."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (META,)).fetchone()
    if row is None:
        return
    note = json.loads(row[0])
    conn.execute("BEGIN IMMEDIATE")
    try:
        for name, sql in note.get("indexes", ()):
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?",
                                (name,)).fetchone():
                conn.execute(sql)
        if not note.get("search"):
            conn.execute("DELETE FROM meta WHERE key = ?", (META,))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    if note.get("search"):
        search.ensure_search_index(conn)  # its own transaction
        conn.execute("DELETE FROM meta WHERE key = ?", (META,))
