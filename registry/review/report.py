"""The daily report (日报): the progress figures as an XLSX workbook and as a text summary.

The same numbers as the progress page (registry/progress.py), one sheet per table, headers in
Chinese and English. Written to a temporary file and renamed, so a report is whole or absent.
"""
# i18n: no-catalog (Excel report headers are bilingual in the file).

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path

from anju.registry.core.cells import safe_cell, safe_row
from anju.registry.core.store import Registry
from anju.registry.review import daily, progress
from anju.registry.review.checks import KINDS
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

HEAD_FILL = PatternFill("solid", fgColor="DCEFE6")
STAGES = [(s, *progress.LABELS[s]) for s in progress.TREND]


def _sheet(wb: Workbook, title: str, columns: list[tuple[str, str, str]], rows: list[dict]):
    """A sheet with a bilingual header row; columns are (key, Chinese, English)."""
    ws = wb.create_sheet(title)
    ws.append(safe_row(f"{zh}\n{en}" for _, zh, en in columns))
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = HEAD_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in rows:
        ws.append(safe_row(row.get(key) for key, _, _ in columns))
    for i, (_, zh, en) in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, len(en) + 2, 2 * len(zh) + 2)
    ws.freeze_panes = "A2"
    return ws


def workbook(reg: Registry, today: dt.date | None = None) -> Workbook:
    """The daily report as an openpyxl Workbook."""
    snap = progress.snapshot(reg, today)
    wb = Workbook()
    ws = wb.active
    ws.title = "概况"
    t = snap["totals"]
    ws.append(safe_row([f"{snap['project']} 日报 Daily report", snap["today"]]))
    ws["A1"].font = Font(bold=True, size=14)
    lines = [("户数", "Households", t["households"]), ("签约目标", "Target", t["target"]),
             *[(zh, en, t[s]) for s, zh, en in STAGES],
             ("签约完成率 %", "Signed % of target", t["percent"]),
             ("待处理冲突", "Open conflicts", snap["conflicts"]),
             ("待审疑点", "Open flags", sum(v["open"] for v in snap["flags"].values()))]
    for zh, en, value in lines:
        ws.append(safe_row([f"{zh} {en}", value]))
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["B"].width = 14
    stage_cols = [(s, zh, en) for s, zh, en in STAGES]
    _daily_sheet(wb, reg, dt.date.fromisoformat(snap["today"]))
    _sheet(wb, "片区进度", [
        ("zone", "片区", "Zone"), ("households", "户数", "Households"), *stage_cols,
        ("target", "签约目标", "Target"), ("percent", "完成率%", "Signed %"),
        ("expected", "按期应签", "Due by now"), ("behind", "落后", "Behind"),
        ("remaining", "尚需签约", "To sign"), ("deadline", "截止日期", "Deadline"),
        ("days_left", "剩余天数", "Days left"), ("per_day_needed", "日均需签约", "Needed per day")],
        snap["zones"])
    totals_cols = [(f"cum_{s}", f"累计{zh}", f"Total {en.lower()}") for s, zh, en in STAGES]
    _sheet(wb, "每日趋势", [("day", "日期", "Day"), *stage_cols, *totals_cols], snap["trend"])
    ranked = [("name", "姓名/名称", "Name"), ("households", "户数", "Households"), *stage_cols,
              ("percent", "签约率%", "Signed %"), ("remaining", "未签约", "Not signed")]
    _sheet(wb, "工作组", [ranked[0], ("cadres", "干部数", "Cadres"), *ranked[1:]], snap["teams"])
    _sheet(wb, "包户干部", [ranked[0], ("team", "工作组", "Team"), *ranked[1:]],
           [{**r, "name": r["name"] or "(未分配)"} for r in snap["cadres"]])
    hard = snap["hardship"]
    _sheet(wb, "困难群体", [("type", "类型", "Type"), ("households", "户数", "Households"),
                        ("signed", "已签约", "Signed"), ("handed_over", "已交房", "Handed over"),
                        ("demolished", "已拆除", "Demolished"), ("rate", "签约率%", "Signed %")],
           [{**hard["total"], "type": "合计 All", "rate": hard["total"].get("percent")}]
           + daily.hardship_rows(reg))
    _sheet(wb, "疑点", [("kind", "类型", "Kind"), ("label", "说明", "Meaning"),
                      ("open", "待审", "Open"), ("closed", "已决定", "Decided")],
           [{"kind": k, "label": " / ".join(KINDS.get(k, (k, k))), **v}
            for k, v in snap["flags"].items()])
    from anju.registry.legal.path import LABELS as LAWFUL  # the lawful path's figures
    for key, value in snap["legal"].items():
        wb["概况"].append([f"{LAWFUL[key]} {key}", value])
    return wb


def _daily_sheet(wb: Workbook, reg: Registry, day: dt.date):
    """The 日报 proper: each zone and the total, for the day and cumulative, with areas, agreed
    amounts, the money / swap split and the flats demanded (one column per flat type)."""
    rows, total = daily.zone_rows(reg, day)
    labels = total["flat_labels"]
    codes = list(labels)  # the rules' order of flat types, then any others met
    flat_cols = [(f"flat:{c}", f"需求{labels[c]}", f"Flats {c}") for c in codes]
    shaped = []
    for r in [*rows, total]:
        out = {k: daily.as_number(r[k]) for k, _, _ in daily.COLUMNS}
        out.update({f"flat:{c}": r["flats"].get(c, 0) for c in codes})
        shaped.append(out)
    ws = _sheet(wb, "日报", list(daily.COLUMNS) + flat_cols, shaped)
    money_cols = {i for i, (k, _, _) in enumerate(daily.COLUMNS, 1)
                  if k.startswith("area") or k in daily.SUMS}
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if cell.column in money_cols:
                cell.number_format = "#,##0.00"
    ws.insert_rows(1)
    ws["A1"] = safe_cell(f"{reg.meta('project_name') or ''} 征收工作日报 {day.isoformat()}"
                         "(当日与累计)")
    ws["A1"].font = Font(bold=True, size=13)
    wb.move_sheet(ws, offset=-(len(wb.sheetnames) - 2))
    return ws


def write_xlsx(reg: Registry, path: str | os.PathLike, today: dt.date | None = None) -> Path:
    """Write the daily report to `path` (whole or not at all)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    try:
        workbook(reg, today).save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def xlsx_bytes(reg: Registry, today: dt.date | None = None) -> bytes:
    """The daily report as XLSX bytes (a web download)."""
    buf = io.BytesIO()
    workbook(reg, today).save(buf)
    return buf.getvalue()


def text_summary(reg: Registry, today: dt.date | None = None) -> str:
    """The daily report's key figures as plain English lines for a terminal."""
    snap = progress.snapshot(reg, today)
    t = snap["totals"]
    out = [f"{snap['project']} daily report {snap['today']}",
           f"households {t['households']}, surveyed {t['surveyed']}, signed {t['signed']}"
           f" of target {t['target']} ({t['percent'] if t['percent'] is not None else '-'}%), "
           f"handed over {t['handed_over']}, demolished {t['demolished']}"]
    last = snap["trend"][-1] if snap["trend"] else None
    if last:
        out.append(f"last day {last['day']}: " + ", ".join(
            f"{s.replace('_', ' ')} +{last[s]}" for s in progress.TREND))
    for z in snap["zones"]:
        late = "  OVERDUE" if z["overdue"] else ""
        late += f"  BEHIND {z['behind']}" if z["behind"] else ""
        out.append(f"  zone {z['zone']}: signed {z['signed']}/{z['target'] or '-'}"
                   f" deadline {z['deadline'] or '-'} days left {z['days_left']}"
                   f" needed/day {z['per_day_needed']}{late}")
    behind = [c for c in snap["cadres"] if c["name"]][:3]
    if behind:
        out.append("furthest behind: " + ", ".join(
            f"{c['name']} {c['signed']}/{c['households']}" for c in behind))
    rows, total = daily.zone_rows(reg, dt.date.fromisoformat(snap["today"]))
    for r in [*rows, total]:
        out.append(f"  {r['zone']}: signed today {r['signed_day']}, area {r['area']} m2, signed "
                   f"{r['area_signed']} m2, demolished {r['area_demolished']} m2, agreed "
                   f"{r['agreed']} yuan (money {r['money_households']}, swap "
                   f"{r['swap_households']})")
    h = snap["hardship"]["total"]
    out.append(f"hardship households {h['households']}, signed {h['signed']}")
    flags = snap["flags"]
    out.append(f"open flags {sum(v['open'] for v in flags.values())}, "
               f"open conflicts {snap['conflicts']}")
    lp = snap["legal"]
    out.append(f"objections open {lp['objections_open']} (overdue {lp['objections_overdue']}),"
               f" answered {lp['objections_answered']}; valuations delivered "
               f"{lp['valuations_delivered']}, under review {lp['valuations_under_review']}; "
               f"decisions issued {lp['decisions_issued']}")
    return "\n".join(out)
