"""Shared helpers of anju's Datasette plugins: site settings, cached public figures, formatting.

Datasette loads every file of plugins/ as a plugin; this one has no hooks. The plugin modules
import it as `plugins.common` so that they share one cache per Datasette instance.
"""

from __future__ import annotations

import weakref

import markupsafe
from anju.registry.compensation import amounts
from anju.registry.publication.privacy import mask_id_for_staff

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

# Badge colour classes by status code (CSS in static/anju.css).
STATUS_CLASS = {
    "unsurveyed": "s-todo", "surveyed": "s-early", "published": "s-early", "valued": "s-mid",
    "signed": "s-done", "handed_over": "s-done", "demolished": "s-final",
    "disputed": "s-alert", "decision": "s-alert",
}
STATUS_COLOURS = {
    "unsurveyed": "#b8bec6", "surveyed": "#8ab6e0", "published": "#5b9bd5", "valued": "#f2b544",
    "signed": "#52a870", "handed_over": "#2e7d4f", "demolished": "#4a4a4a",
    "disputed": "#d9534f", "decision": "#a12f2b",
}


def settings(datasette) -> dict:
    """This site's anju settings (mode public|staff, database name)."""
    return datasette.plugin_config("anju") or {}


def mode(datasette) -> str:
    return settings(datasette).get("mode", "public")


def database_name(datasette) -> str | None:
    name = settings(datasette).get("database")
    if name in datasette.databases:
        return name
    names = [n for n in datasette.databases if n != "_internal"]
    return names[0] if names else None


def cache(datasette) -> dict:
    """Per-Datasette cache; the public database is immutable, so figures are computed once."""
    if datasette not in _CACHE:
        _CACHE[datasette] = {}
    return _CACHE[datasette]


async def load(datasette) -> dict:
    """Column kinds and the status label -> code map, loaded once (startup)."""
    c = cache(datasette)
    if "kinds" in c:
        return c
    kinds: dict[tuple[str, str], str] = {}
    status_codes: dict[str, str] = {}
    name = database_name(datasette)
    if name:
        db = datasette.get_database(name)
        tables = set(await db.table_names())
        if mode(datasette) in ("public", "province") and "column_info" in tables:
            for row in (await db.execute("SELECT [table], [column], kind FROM column_info")).rows:
                kinds[(row[0], row[1])] = row[2]
            kinds[("progress", "status")] = "status"
            kinds[("zone", "signed_pct")] = "percent"
            # UTC stored, Beijing time shown
            kinds[("sensitive_total", "released_at")] = "utc_time"
            kinds[("provenance", "value")] = "provenance_value"
            rows = await db.execute("SELECT DISTINCT status, status_code FROM progress")
            status_codes = {r[0]: r[1] for r in rows.rows if r[0]}
        elif "meta" in tables:
            kinds = await _staff_kinds(db)
    c["kinds"] = kinds
    c["status_codes"] = status_codes
    # render_cell runs for every cell of every page: an attribute is the cheapest lookup.
    datasette._anju_kinds = kinds
    return c


async def _staff_kinds(db) -> dict:
    """On the staff site: which registry columns are resident IDs (shown as first 6 + last 4)."""
    from anju.registry.core.definition import parse
    row = (await db.execute("SELECT value FROM meta WHERE key = 'survey'")).first()
    kinds = {}
    if row and row[0]:
        defn = parse(row[0])
        for rtype in defn.records.values():
            for f in rtype.columns:
                if f.type == "resident_id":
                    kinds[(rtype.name, f.name)] = "resident_id"
                elif f.name == "status":
                    kinds[(rtype.name, f.name)] = "status_code"
    return kinds


def yuan(value) -> str:
    """An amount of money as people read it: ¥1,234,567.89, rounded to the fen as on every
    page, list and notice (registry/compensation/amounts.py, the one formatter)."""
    return f"¥{amounts.yuan(value)}"


def badge(label: str, code: str | None) -> markupsafe.Markup:
    cls = STATUS_CLASS.get(code or "", "s-other")
    return markupsafe.Markup('<span class="badge {}">{}</span>').format(cls, label)


def render(datasette, table: str, column: str, value):
    """The display of one cell by its column's kind, or None to let Datasette render it."""
    c = cache(datasette)
    kind = c.get("kinds", {}).get((table, column))
    if kind is None or value is None or value == "":
        return None
    if kind == "money" and isinstance(value, int | float):
        return markupsafe.Markup('<span class="money">{}</span>').format(yuan(value))
    if kind == "status":
        return badge(value, c.get("status_codes", {}).get(value))
    if kind == "status_code":
        return badge(value, value)
    if kind == "utc_time":
        return beijing(value)
    if kind == "percent" and isinstance(value, int | float):
        return f"{value:.1f}%"
    if kind == "resident_id":
        return markupsafe.Markup('<span class="masked" title="已遮蔽">{}</span>').format(
            mask_id_for_staff(str(value)))
    return None



def beijing(value: str | None) -> str | None:
    """A stored UTC time (ISO 8601, 'Z') shown as Beijing time (UTC+8), to the minute."""
    import datetime as dt
    if not value or not isinstance(value, str):
        return value
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
