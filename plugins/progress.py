"""The progress dashboard (/-/progress): figures and server-drawn SVG charts from the public
totals of the published database (zone, progress and choice_total tables)."""

from __future__ import annotations

from anju.plugins import common
from anju.registry.publication import charts
from datasette import Forbidden, Response, hookimpl


async def _figures(datasette) -> dict:
    """Everything the dashboard shows, computed once per (immutable) database."""
    c = common.cache(datasette)
    if "dashboard" in c:
        return c["dashboard"]
    db = datasette.get_database(common.database_name(datasette))
    zones = [dict(r) for r in (await db.execute("SELECT * FROM zone")).rows]
    progress = [dict(r) for r in (await db.execute(
        "SELECT zone, status, status_code, status_order, households FROM progress "
        "ORDER BY status_order")).rows]
    choices = [dict(r) for r in (await db.execute(
        "SELECT zone, field, field_label, choice, choice_label, households FROM choice_total "
        "ORDER BY field, zone")).rows]
    provenance = {r["key"]: r["value"] for r in (await db.execute(
        "SELECT key, value FROM provenance")).rows}
    sensitive = []
    if "sensitive_total" in await db.table_names():
        sensitive = [{"label": (r["choice_label"] if r["choice"] else r["field_label"]),
                      "total": r["total"], "released": common.beijing(r["released_at"])}
                     for r in (await db.execute(
                         "SELECT field_label, choice, choice_label, total, released_at "
                         "FROM sensitive_total")).rows]
    daily = []
    if "daily_progress" in await db.table_names():
        daily = [dict(r) for r in (await db.execute(
            "SELECT date, surveyed, signed, handed_over FROM daily_progress ORDER BY date")).rows]
    by_status: dict[str, list] = {}
    for r in progress:
        entry = by_status.setdefault(r["status_code"], [r["status"], 0, r["status_order"]])
        entry[1] += r["households"]
    statuses = sorted(by_status.items(), key=lambda kv: kv[1][2])
    per_zone = []
    for z in zones:
        segs = [(r["status_code"], r["status"], r["households"]) for r in progress
                if r["zone"] == z["zone"]]
        per_zone.append((z["zone"], segs))
    totals = {k: sum(z[k] or 0 for z in zones)
              for k in ("households", "surveyed", "signed", "handed_over", "disputed")}
    target = sum(z["target"] or z["households"] or 0 for z in zones)
    fields: dict[str, dict] = {}
    for r in choices:
        f = fields.setdefault(r["field"], {"label": r["field_label"], "choices": [],
                                           "rows": {}})
        if r["choice_label"] not in f["choices"]:
            f["choices"].append(r["choice_label"])
        f["rows"].setdefault(r["zone"], {})[r["choice_label"]] = r["households"]
    figures = {
        "totals": totals, "target": target,
        "signed_pct": round(100 * totals["signed"] / target, 1) if target else None,
        "zones": zones, "fields": fields, "provenance": provenance, "sensitive": sensitive,
        "status_chart": charts.columns(
            [(v[0], v[1], common.STATUS_COLOURS.get(k, "#999")) for k, v in statuses],
            title="各状态户数"),
        "zone_chart": charts.stacked_bars(per_zone, common.STATUS_COLOURS,
                                          title="各片区状态分布"),
        "target_chart": charts.progress_bars(
            [(z["zone"], z["signed"] or 0, z["target"] or z["households"] or 0,
              f"期限 {z['deadline']}" if z["deadline"] else "") for z in zones],
            title="各片区签约进度"),
        "min_group": provenance.get("min_group", "5"),
        "daily_chart": charts.lines(
            [d["date"] for d in daily],
            [("已调查", [d["surveyed"] for d in daily], common.STATUS_COLOURS["published"]),
             ("已签约", [d["signed"] for d in daily], common.STATUS_COLOURS["signed"]),
             ("已交房", [d["handed_over"] for d in daily], common.STATUS_COLOURS["demolished"])],
            title="累计进度", width=720, height=240) if len(daily) > 1 else None,
    }
    c["dashboard"] = figures
    return figures


async def progress_page(datasette, request):
    if not await datasette.permission_allowed(request.actor, "view-instance", default=True):
        raise Forbidden("view-instance")
    figures = await _figures(datasette)
    return Response.html(await datasette.render_template(
        "anju_progress.html", {**figures, "db": common.database_name(datasette)},
        request=request))


async def _project(db) -> dict:
    """One project's figures for the province view, from its public tables only."""
    names = await db.table_names()
    zone = (await db.execute(
        "SELECT sum(households), sum(surveyed), sum(signed), sum(handed_over), "
        "sum(coalesce(target, households)) FROM zone")).first()
    provenance = {r["key"]: r["value"] for r in (await db.execute(
        "SELECT key, value FROM provenance")).rows}
    sensitive = {}
    if "sensitive_total" in names:
        for r in (await db.execute("SELECT field_label, choice, choice_label, total "
                                   "FROM sensitive_total")).rows:
            sensitive[r["choice_label"] if r["choice"] else r["field_label"]] = r["total"]
    households, surveyed, signed, handed_over, target = (v or 0 for v in zone)
    return {"db": db.name, "project": provenance.get("project_name") or db.name,
            "households": households, "surveyed": surveyed, "signed": signed,
            "handed_over": handed_over, "target": target,
            "signed_pct": round(100 * signed / target, 1) if target else None,
            "as_of": common.beijing(provenance.get("as_of")), "sensitive": sensitive}


async def province_page(datasette, request):
    """/-/province: every project side by side and the combined figures."""
    if not await datasette.permission_allowed(request.actor, "view-instance", default=True):
        raise Forbidden("view-instance")
    c = common.cache(datasette)
    if "province" not in c:
        projects = [await _project(datasette.get_database(name))
                    for name in common.settings(datasette).get("databases", [])
                    if name in datasette.databases]
        total = {k: sum(p[k] for p in projects)
                 for k in ("households", "surveyed", "signed", "handed_over", "target")}
        total["signed_pct"] = round(100 * total["signed"] / total["target"], 1) \
            if total["target"] else None
        labels = list(dict.fromkeys(k for p in projects for k in p["sensitive"]))
        # A sum of released figures is a function of released figures: it discloses nothing
        # more; a project whose figure is withheld makes the sum withheld too.
        combined = {k: (None if any(p["sensitive"].get(k) is None for p in projects)
                        else sum(p["sensitive"][k] for p in projects)) for k in labels}
        c["province"] = {"projects": projects, "total": total, "labels": labels,
                         "combined": combined, "chart": charts.progress_bars(
                             [(p["project"], p["signed"], p["target"], p["as_of"] or "")
                              for p in projects], title="各项目签约进度")}
    return Response.html(await datasette.render_template(
        "anju_province.html", c["province"], request=request))


@hookimpl
def register_routes(datasette):
    if common.mode(datasette) == "province":
        return [(r"^/-/province$", province_page)]
    if common.mode(datasette) != "public":
        return []
    return [(r"^/-/progress$", progress_page)]
