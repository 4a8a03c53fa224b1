"""The central registry's settings, survey and compensation rules, ordered by a version number.

A laptop takes the central's settings from a central pack only when the pack's version is newer
than the one it has, never by the wall clock of the pack (a central clock set to 2035 would
otherwise freeze every laptop's settings). The version goes up by one whenever the content
changes between two exports. Laptops state the version they hold in their packs; the central
raises its own to it (so a central restored from an old backup still moves forward), and a
restore forces the next export to count as a new version.
"""

from __future__ import annotations

import hashlib

from anju.registry.core.changes import dumps
from anju.registry.core.store import Registry

VERSION = "central_meta_version"
HASH = "central_meta_hash"


def _content_hash(reg: Registry) -> str:
    text = dumps([reg.settings, reg.meta("survey"), reg.meta("compensation")])
    return hashlib.sha256(text.encode()).hexdigest()


def known_version(reg: Registry) -> int:
    """The version this database holds (-1: none yet)."""
    try:
        return int(reg.meta(VERSION) or -1)
    except ValueError:
        return -1


def current_version(reg: Registry) -> int:
    """The central's version for its content now, counting up when it changed since the last
    export (central only)."""
    version = max(known_version(reg), 0)
    content = _content_hash(reg)
    if content != reg.meta(HASH):
        version += 1
        reg.set_meta(VERSION, str(version))
        reg.set_meta(HASH, content)
    return version


def force_new_version(reg: Registry) -> None:
    """Make the next export count as a new version (after a restore)."""
    reg.set_meta(HASH, "")


def learn_stated(reg: Registry, stated) -> None:
    """On the central: a laptop says it holds central version `stated`; never stay below it."""
    if isinstance(stated, int) and not isinstance(stated, bool) and stated > known_version(reg):
        reg.set_meta(VERSION, str(stated))
        force_new_version(reg)


def newer(reg: Registry, meta: dict) -> bool | None:
    """On a laptop: whether a central pack's content is newer than what it holds; None when the
    pack has no version (an older central: the caller falls back to its time)."""
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        return None
    return version > known_version(reg)


def adopt(reg: Registry, meta: dict) -> None:
    """Remember the version of the central content just taken."""
    reg.set_meta(VERSION, str(meta["version"]))


def state(reg: Registry) -> dict:
    """What a pack's meta frame carries about the central version."""
    if reg.meta("role") == "central":
        return {"version": current_version(reg)}
    return {"central_version": known_version(reg)}



