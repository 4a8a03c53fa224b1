"""The household lookup page (/-/lookup?house_no=A-0001): one household's published record by
its house number, or, failing an exact match, the closest matches by full-text search."""

from __future__ import annotations

from anju.plugins import common
from datasette import Forbidden, Response, hookimpl
from datasette.utils import escape_fts

MAX_MATCHES = 20


async def _columns(db) -> list[dict]:
    rows = await db.execute("SELECT [column], label_zh, kind FROM column_info "
                            "WHERE [table] = 'household' AND kind != 'code' AND [column] != 'id'")
    return [dict(r) for r in rows.rows]


async def lookup_page(datasette, request):
    if not await datasette.permission_allowed(request.actor, "view-instance", default=True):
        raise Forbidden("view-instance")
    db = datasette.get_database(common.database_name(datasette))
    query = (request.args.get("house_no") or request.args.get("q") or "").strip()[:100]
    columns = await _columns(db)
    found, matches = [], []
    if query:
        # IN over the text as typed and upper-cased: "a-0001" finds A-0001 through the index
        # (COLLATE NOCASE would scan every row).
        found = [dict(r) for r in (await db.execute(
            "SELECT * FROM household WHERE house_no IN (?, ?) ORDER BY id",
            [query, query.upper()])).rows]
        if not found and len(query) >= 3:
            # trigram full-text search: part of a house number, an address, a masked name
            matches = [dict(r) for r in (await db.execute(
                "SELECT h.id, h.house_no, h.zone, h.address, h.owner_name, h.status, "
                "h.status_code FROM household_fts f JOIN household h ON h.id = f.rowid "
                "WHERE household_fts MATCH ? ORDER BY h.house_no LIMIT ?",
                [escape_fts(query), MAX_MATCHES])).rows]
    cards = []
    for row in found:
        items = []
        for col in columns:
            value = row.get(col["column"])
            shown = common.render(datasette, "household", col["column"], value)
            items.append((col["label_zh"], shown if shown is not None else value))
        cards.append({"house_no": row["house_no"], "fields": items, "id": row["id"],
                      "badge": common.badge(row["status"] or "", row.get("status_code"))})
    for m in matches:
        m["badge"] = common.badge(m["status"] or "", m.get("status_code"))
    return Response.html(await datasette.render_template("anju_lookup.html", {
        "query": query, "cards": cards, "matches": matches, "db": db.name,
        "too_short": bool(query) and not found and len(query) < 3,
    }, request=request))


@hookimpl
def register_routes(datasette):
    if common.mode(datasette) != "public":
        return []
    return [(r"^/-/lookup$", lookup_page)]
