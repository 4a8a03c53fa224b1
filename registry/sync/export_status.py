"""Whether a laptop's work has left the laptop: changes made here and not yet exported in a pack.

A laptop that is lost, stolen or broken loses exactly its unexported changes, so the web app warns
when some have waited longer than a set number of hours (meta `export_warn_hours`, default 8) and
reminds the surveyor at logout. The last export time is meta `last_export_at`, written by
`registry.packs.export_pack` when a pack is complete; the central registry's export bookmark
(what it is known to hold of this device) counts as well.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from anju.registry.core.store import Registry

DEFAULT_WARN_HOURS = 8.0


@dataclass(frozen=True)
class ExportStatus:
    """This device's unexported changes: how many, the oldest, and whether to warn."""

    count: int
    oldest: dt.datetime | None
    last_export: dt.datetime | None
    warn_hours: float

    @property
    def waiting_hours(self) -> float:
        if self.oldest is None:
            return 0.0
        return (dt.datetime.now(dt.UTC) - self.oldest).total_seconds() / 3600

    @property
    def overdue(self) -> bool:
        """Changes have waited more than the set number of hours for an export."""
        return self.count > 0 and self.waiting_hours > self.warn_hours


def _parse(stamp: str | None) -> dt.datetime | None:
    if not stamp:
        return None
    return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def warn_hours(reg: Registry) -> float:
    """The hours unexported changes may wait before the banner shows: the project setting
    `export_warn_hours` (it travels in the central pack), else this database's meta, else 8."""
    raw = reg.settings.get("export_warn_hours") or reg.meta("export_warn_hours")
    try:
        value = float(raw or DEFAULT_WARN_HOURS)
    except (TypeError, ValueError):
        return DEFAULT_WARN_HOURS
    return value if value > 0 else DEFAULT_WARN_HOURS


def central_holds(reg: Registry) -> int:
    """Up to which seq the central registry is known to hold this device's changes (0: none)."""
    has = reg.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'export_bookmark'")
    if not has.fetchone():
        return 0
    central = reg.meta("central_device_id")
    row = reg.conn.execute("SELECT MAX(seq) FROM export_bookmark WHERE origin = ? AND "
                           "device_id = ?", (reg.origin_id, central)).fetchone()
    return row[0] or 0


def export_status(reg: Registry) -> ExportStatus:
    """Count this device's changes received after the last export and not held centrally."""
    since = reg.meta("last_export_at") or ""
    count, oldest = reg.conn.execute(
        "SELECT count(*), MIN(received_at) FROM change WHERE device_id = ? AND received_at > ? "
        "AND seq > ?", (reg.origin_id, since, central_holds(reg))).fetchone()
    return ExportStatus(count=count, oldest=_parse(oldest), last_export=_parse(since or None),
                        warn_hours=warn_hours(reg))
