"""The provenance page (/-/provenance): when the publication was made, from which registry state
(its digest), with which survey definition and software, and the privacy rules applied."""

from __future__ import annotations

from anju.plugins import common
from anju.registry.publication.privacy import MIN_GROUP, mask_name
from datasette import Forbidden, Response, hookimpl


async def provenance_page(datasette, request):
    if not await datasette.permission_allowed(request.actor, "view-instance", default=True):
        raise Forbidden("view-instance")
    db = datasette.get_database(common.database_name(datasette))
    rows = [dict(r) for r in (await db.execute(
        "SELECT key, label, label_en, value FROM provenance")).rows]
    for r in rows:  # stored in UTC, shown in Beijing time
        r["shown"] = common.beijing(r["value"]) if r["key"] in UTC_KEYS else r["value"]
    return Response.html(await datasette.render_template("anju_provenance.html", {
        "rows": rows, "db": db.name, "min_group": MIN_GROUP,
        "examples": [(n, mask_name(n)) for n in ("张三", "张三丰", "欧阳娜娜")],
    }, request=request))


UTC_KEYS = ("as_of", "last_change_at")


@hookimpl
def register_routes(datasette):
    if common.mode(datasette) != "public":
        return []
    return [(r"^/-/provenance$", provenance_page)]
