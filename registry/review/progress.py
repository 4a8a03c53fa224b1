"""Progress figures of a project: what the command office (指挥部) is judged by.

Signing progress per zone against its target and deadline; the daily trend (households first
reaching surveyed, signed, handed over, demolished on each day) derived from the change log, so
no snapshots are kept; teams and cadres ranked with those furthest behind first; the hardship
households' progress. The web page, the XLSX daily report and `anju report` all use these.

Days are the UTC dates of the change log: a Chinese working day (08:00-24:00, UTC+8) falls
within one UTC date.
"""

from __future__ import annotations

import datetime as dt

from anju.registry.core import workflow
from anju.registry.core.i18n import N_
from anju.registry.core.settings import cadres as cadre_teams
from anju.registry.core.settings import load as load_settings
from anju.registry.core.store import Registry

PATH = ("unsurveyed", "surveyed", "published", "valued", "signed", "handed_over", "demolished")
SIDE = ("disputed", "decision")  # side states reached from published onwards
TREND = ("surveyed", "signed", "handed_over", "demolished")
LABELS = {"surveyed": (N_("已登记"), "Surveyed"), "signed": (N_("已签约"), "Signed"),
          "handed_over": (N_("已交房"), "Handed over"), "demolished": (N_("已拆除"), "Demolished")}


def reached(stage: str) -> tuple[str, ...]:
    """The statuses of households that have reached `stage` on the workflow path ("signed":
    the one definition, workflow.SIGNED)."""
    if stage == "signed":
        return workflow.SIGNED
    after = PATH[PATH.index(stage):]
    return after + (SIDE if stage in ("surveyed", "published") else ())


def _in(stage: str, alias: str = "") -> str:
    return f"{alias}status IN (" + ", ".join(f"'{s}'" for s in reached(stage)) + ")"


def _counts_sql(group: str) -> str:
    stages = ", ".join(f"sum({_in(s)}) AS {s}" for s in TREND)
    return (f"SELECT {group} AS k, count(*) AS households, {stages} FROM household "
            f"WHERE deleted IS NULL GROUP BY {group}")


def _rows(reg: Registry, group: str) -> dict:
    cur = reg.conn.execute(_counts_sql(group))
    cols = [d[0] for d in cur.description]
    return {r[0]: dict(zip(cols[1:], r[1:])) for r in cur}


def _today(today: dt.date | None) -> dt.date:
    return today or dt.datetime.now(dt.UTC).date()


def zones(reg: Registry, today: dt.date | None = None) -> list[dict]:
    """Each zone's households, stages reached and signing progress against target and deadline."""
    today = _today(today)
    counts = _rows(reg, "zone")
    out = []
    settings = load_settings(reg)
    start = settings.get("signing_start")
    configured = settings.get("zones") or []
    for zone in configured + [{"name": z, "target": None, "deadline": None}
                              for z in sorted(counts, key=str) if z not in
                              {c["name"] for c in configured}]:
        row = {"zone": zone["name"], "target": zone.get("target"),
               "deadline": zone.get("deadline"), "households": 0,
               **dict.fromkeys(TREND, 0), **counts.get(zone["name"], {})}
        target = row["target"]
        row["percent"] = round(100 * row["signed"] / target, 1) if target else None
        row["remaining"] = max(target - row["signed"], 0) if target is not None else None
        days = ((dt.date.fromisoformat(row["deadline"]) - today).days
                if row["deadline"] else None)
        row["days_left"] = days
        row["per_day_needed"] = (round(row["remaining"] / max(days, 1), 1)
                                 if days is not None and row["remaining"] else 0)
        row["overdue"] = bool(days is not None and days < 0 and row["remaining"])
        row["expected"] = expected(target, start, row["deadline"], today)
        row["behind"] = (max(row["expected"] - row["signed"], 0)
                         if row["expected"] is not None else None)
        out.append(row)
    return out


def expected(target: int | None, start: str | None, deadline: str | None,
             today: dt.date) -> int | None:
    """Households a zone should have signed by today at an even pace from the start of the
    signing period to its deadline (None without a target, start or deadline)."""
    if not (target and start and deadline):
        return None
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(deadline)
    if last <= first:
        return target if today >= last else 0
    share = min(max((today - first).days / (last - first).days, 0), 1)
    return round(target * share)


def totals(reg: Registry) -> dict:
    """Households in the project and how many reached each stage, plus the summed targets."""
    row = _rows(reg, "'all'").get("all", {"households": 0, **dict.fromkeys(TREND, 0)})
    row["target"] = sum(z.get("target") or 0 for z in load_settings(reg).get("zones") or ())
    row["percent"] = round(100 * row["signed"] / row["target"], 1) if row["target"] else None
    return row


def trend(reg: Registry, start: str | None = None, end: str | None = None) -> list[dict]:
    """Per day: households first reaching surveyed / signed / handed over / demolished that day,
    and the running totals (cum_surveyed, ...), from the change log."""
    wanted = ", ".join(f"'{s}'" for s in TREND)
    rows = reg.conn.execute(f"""
        SELECT day, reached, count(*) FROM (
            SELECT substr(min(c.at), 1, 10) AS day, json_extract(c.fields, '$.status') AS reached
            FROM change c JOIN household h ON h.id = c.record_id
            WHERE c.record_type = 'household' AND h.deleted IS NULL
              AND json_extract(c.fields, '$.status') IN ({wanted})
            GROUP BY c.record_id, reached)
        GROUP BY day, reached ORDER BY day""")
    days: dict[str, dict] = {}
    for day, status, n in rows:
        days.setdefault(day, dict.fromkeys(TREND, 0))[status] = n
    if not days:
        return []
    first = dt.date.fromisoformat(start or min(days))
    last = dt.date.fromisoformat(end or max(days))
    out, running = [], dict.fromkeys(TREND, 0)
    day = dt.date.fromisoformat(min(days))
    while day <= last:
        counts = days.get(day.isoformat(), dict.fromkeys(TREND, 0))
        for s in TREND:
            running[s] += counts[s]
        if day >= first:
            out.append({"day": day.isoformat(), **counts,
                        **{f"cum_{s}": running[s] for s in TREND}})
        day += dt.timedelta(days=1)
    return out


def _ranked(rows: list[dict]) -> list[dict]:
    """Furthest behind first: lowest share signed, then most households left to sign."""
    for r in rows:
        r["percent"] = round(100 * r["signed"] / r["households"], 1) if r["households"] else 0.0
        r["remaining"] = r["households"] - r["signed"]
    return sorted(rows, key=lambda r: (r["percent"], -r["remaining"], str(r["name"])))


def cadres(reg: Registry) -> list[dict]:
    """Each cadre (包户干部) with their team and households' progress, furthest behind first.

    Cadres of a team with no households yet are listed with zero; households with no cadre are
    counted under the name None.
    """
    teams = cadre_teams(load_settings(reg))
    counts = _rows(reg, "nullif(cadre, '')")
    names = list(dict.fromkeys([*teams, *counts]))
    rows = [{"name": c, "team": teams.get(c), "households": 0, **dict.fromkeys(TREND, 0),
             **counts.get(c, {})} for c in names]
    return _ranked(rows)


def teams(reg: Registry) -> list[dict]:
    """Each team's progress over its cadres' households, furthest behind first."""
    out: dict[str, dict] = {}
    for row in cadres(reg):
        if row["name"] is None:
            continue
        name = row["team"] or "未分组"
        team = out.setdefault(name, {"name": name, "cadres": 0, "households": 0,
                                     **dict.fromkeys(TREND, 0)})
        team["cadres"] += 1
        for k in ("households", *TREND):
            team[k] += row[k]
    return _ranked(list(out.values()))


def hardship(reg: Registry) -> dict:
    """Hardship households (困难群体): totals over all of them and per hardship type."""
    stages = ", ".join(f"sum({_in(s, 'h.')}) AS {s}" for s in TREND)
    cur = reg.conn.execute(f"""
        SELECT j.value AS type, count(*) AS households, {stages}
        FROM household h, json_each(h.hardship) j
        WHERE h.deleted IS NULL AND json_valid(h.hardship) GROUP BY j.value ORDER BY j.value""")
    cols = [d[0] for d in cur.description]
    types = [dict(zip(cols, r)) for r in cur]
    cur = reg.conn.execute(f"""
        SELECT count(*) AS households, {stages} FROM household h
        WHERE deleted IS NULL AND json_valid(hardship) AND json_array_length(hardship) > 0""")
    cols = [d[0] for d in cur.description]
    total = dict(zip(cols, cur.fetchone()))
    total = {k: v or 0 for k, v in total.items()}
    total["percent"] = (round(100 * total["signed"] / total["households"], 1)
                        if total["households"] else None)
    return {"total": total, "types": types}


def snapshot(reg: Registry, today: dt.date | None = None) -> dict:
    """Every figure of the progress page and the daily report, computed once."""
    from anju.registry.legal.path import counts as lawful_path
    from anju.registry.review.checks import summary
    today = _today(today)
    return {"today": today.isoformat(), "project": reg.meta("project_name"),
            "totals": totals(reg), "zones": zones(reg, today), "trend": trend(reg),
            "cadres": cadres(reg), "teams": teams(reg), "hardship": hardship(reg),
            "flags": summary(reg),
            "conflicts": reg.conn.execute("SELECT count(*) FROM conflict").fetchone()[0],
            "legal": lawful_path(reg, today)}
