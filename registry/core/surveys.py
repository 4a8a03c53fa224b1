"""The survey definitions a database has known, so that no change is refused for a tightening.

Tightening the survey (dropping a choice, lowering a maximum) applies to new edits: the form
checks against the current definition. A change made earlier, under a definition that allowed
its values, still merges everywhere: merge checks a change against the current definition and,
if it fails there, against each earlier definition this database knows (the table
`survey_version`; the central pack carries them all, so a laptop enrolled after the tightening
knows them too). Old values that no longer pass are flagged (`survey_outdated`), never dropped.
"""

from __future__ import annotations

from functools import lru_cache

from anju.registry.core import definition as definition_mod
from anju.registry.core.changes import now
from anju.registry.core.definition import Definition, DefinitionError
from anju.registry.core.store import Registry

MAX_VERSIONS = 200  # what a pack may carry: more is not a real project's history


@lru_cache(maxsize=64)
def _parse(text: str) -> Definition | None:
    try:
        return definition_mod.parse(text, "an earlier survey definition")
    except DefinitionError:
        return None


def remember(reg: Registry, text: str | None) -> bool:
    """Keep a definition in this database's history (inside the caller's transaction, if any);
    return whether it was new."""
    defn = _parse(text) if isinstance(text, str) else None
    if defn is None:
        return False
    cur = reg.conn.execute("INSERT OR IGNORE INTO survey_version (hash, version, text, "
                           "first_seen_at) VALUES (?, ?, ?, ?)",
                           (defn.hash, defn.version, text, now()))
    return cur.rowcount > 0


def texts(reg: Registry) -> list[str]:
    """Every definition this database has known, the current one included, oldest first."""
    remember(reg, reg.meta("survey"))
    return [r[0] for r in reg.conn.execute(
        "SELECT text FROM survey_version ORDER BY version, first_seen_at, hash "
        f"LIMIT {MAX_VERSIONS}")]


def older(reg: Registry) -> list[Definition]:
    """The definitions other than the current one, newest first (for merge's second chance)."""
    out = []
    for (text,) in reg.conn.execute("SELECT text FROM survey_version WHERE hash != ? "
                                    "ORDER BY version DESC, first_seen_at DESC",
                                    (reg.definition.hash,)):
        defn = _parse(text)
        if defn is not None:
            out.append(defn)
    return out


def learn(reg: Registry, items) -> int:
    """Keep the definitions a central pack carries; return how many were new."""
    if not isinstance(items, list):
        return 0
    return sum(remember(reg, t) for t in items[:MAX_VERSIONS] if isinstance(t, str))
