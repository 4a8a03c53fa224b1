"""Times as people read them: stored UTC stamps shown in the project's time zone.

The change log, backups and packs store UTC ("2026-12-01T08:00:00.000000Z"). People read local
time: the project's time zone (Beijing by default, settable with ANJU_TIME_ZONE or the
collector's TIME_ZONE config), never the clock setting of whichever laptop shows the page.
`today` is the project's local date, the day 今日已调查 counts.
"""

from __future__ import annotations

import datetime as dt
import os
import zoneinfo

DEFAULT_ZONE = "Asia/Shanghai"
# China has kept UTC+8 without summer time since 1991: the fallback where tzdata is missing.
_FALLBACK = dt.timezone(dt.timedelta(hours=8), "CST")


def zone(name: str | None = None) -> dt.tzinfo:
    """The project's time zone (a bad or unknown name falls back to Beijing time)."""
    name = name or os.environ.get("ANJU_TIME_ZONE") or DEFAULT_ZONE
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return _FALLBACK


def parse(stamp: str) -> dt.datetime | None:
    """A stored time (UTC with Z, or ISO with an offset) as an aware datetime; None if unreadable.

    A date alone is not a moment and gives None."""
    if not isinstance(stamp, str) or len(stamp) < 16 or "T" not in stamp and " " not in stamp:
        return None
    text = stamp.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def format_local(stamp, tz: str | None = None, seconds: bool = False) -> str:
    """A stored UTC time as local time text "YYYY-MM-DD HH:MM"; other text is returned as is."""
    if isinstance(stamp, dt.datetime):
        moment = stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
    else:
        moment = parse(stamp) if stamp else None
        if moment is None:
            return "" if stamp is None else str(stamp)
    return moment.astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else ""))


def today(tz: str | None = None, now: dt.datetime | None = None) -> dt.date:
    """The project's local date now."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(zone(tz)).date()


def day_bounds_utc(day: dt.date, tz: str | None = None) -> tuple[str, str]:
    """The UTC stamps [start, end) of a local day, comparable with stored change times."""
    start = dt.datetime.combine(day, dt.time(), zone(tz))
    end = start + dt.timedelta(days=1)
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    return (start.astimezone(dt.UTC).strftime(fmt), end.astimezone(dt.UTC).strftime(fmt))
