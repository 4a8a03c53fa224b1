"""The progress page of the command office: zones against targets and deadlines, the daily
trend, teams and cadres furthest behind first, hardship households; and the daily report
(日报) as an XLSX download. Charts are SVG drawn on the server (registry/publication/charts.py)."""

from __future__ import annotations

from anju.registry.completion import care
from anju.registry.publication import charts
from anju.registry.review import progress, report
from flask import Blueprint, Response, render_template
from markupsafe import Markup

from .auth import role_required
from .db import get_registry
from .i18n import N_, _, lang

bp = Blueprint("progress", __name__)
NAV = [("progress.index", N_("进度"), "Progress", "supervisor")]
TREND_DAYS = 60


def _charts(snap: dict) -> dict:
    """The page's SVG charts, as Markup."""
    zones = charts.progress_bars(
        [(z["zone"], z["signed"], z["target"]) for z in snap["zones"]],
        title=_("各片区签约进度"), label_width=170)
    days = snap["trend"][-TREND_DAYS:]
    names = {s: _(progress.LABELS[s][0]) for s in progress.TREND}
    daily = charts.lines([d["day"] for d in days],
                              {names[s]: [d[s] for d in days] for s in progress.TREND},
                              title=_("每日新增"))
    running = charts.lines([d["day"] for d in days],
                                {names[s]: [d[f"cum_{s}"] for d in days] for s in progress.TREND},
                                title=_("累计"))
    teams = charts.progress_bars([(r["name"], r["signed"], r["households"])
                                  for r in snap["teams"]],
                                 title=_("各工作组签约"), label_width=170)
    return {k: Markup(v) for k, v in
            {"zones": zones, "daily": daily, "running": running, "teams": teams}.items()}


@bp.route("/progress")
@role_required("supervisor")
def index():
    """Progress against targets and deadlines, with the trend and the rankings."""
    reg = get_registry()
    snap = progress.snapshot(reg)
    hardship_field = reg.definition.record("household").field("hardship") \
        if reg.definition.record("household").has("hardship") else None
    return render_template("progress/index.html", s=snap, svg=_charts(snap),
                           care=care.summary(reg),
                           labels=progress.LABELS, stages=progress.TREND,
                           hardship_label=lambda v: hardship_field.choice_label(v, lang())
                           if hardship_field else v)


@bp.route("/progress/report.xlsx")
@role_required("supervisor")
def report_xlsx():
    """The daily report (日报) as an XLSX file."""
    reg = get_registry()
    data = report.xlsx_bytes(reg)
    snap_day = progress.snapshot(reg)["today"]
    return Response(data, headers={
        "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "Content-Disposition": f'attachment; filename="anju-daily-{snap_day}.xlsx"'})
