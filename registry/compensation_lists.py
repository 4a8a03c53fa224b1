"""Zone lists of compensation for public posting (分户补偿情况公示表), on paper and as XLSX.

One row per household of a zone that is not deleted, in house-number order. Names are masked with
registry.privacy.mask_name, the one masking rule; no ID number, phone, member or hardship data.
Amounts are those of the agreement in force (frozen at signing); a household without one shows
its recognised area only, as `compensation.public_rows` does for the public database.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from .agreements import agreements_in_force
from .compensation import MODE_LABELS, STRUCTURE_ZH, RulesError, recognised_area, rules_of
from .privacy import mask_name
from .store import Registry

# (key, Chinese heading, English heading, XLSX width)
COLUMNS = (
    ("no", "序号", "No.", 6), ("house_no", "房屋编号", "House no.", 12),
    ("owner", "产权人", "Owner", 10), ("address", "坐落", "Address", 28),
    ("structure", "结构", "Structure", 8), ("area", "认定面积(㎡)", "Recognised area (m²)", 12),
    ("status", "状态", "Status", 10), ("mode", "补偿方式", "Mode", 10),
    ("agreement_no", "协议编号", "Agreement no.", 16), ("signed_on", "签约日期", "Signed on", 12),
    ("total", "补偿金额(元)", "Compensation (yuan)", 16),
)


@dataclass
class ZoneList:
    """The rows of one zone's list and its totals."""

    zone: str
    rows: list[dict]

    @property
    def signed(self) -> int:
        return sum(1 for r in self.rows if r["total"] is not None)

    @property
    def total(self) -> Decimal:
        return sum((r["total"] for r in self.rows if r["total"] is not None), Decimal("0.00"))


def zones(reg: Registry) -> list[str]:
    """The project's zones: those of the settings in their order, then any others in use."""
    named = [z["name"] for z in reg.settings.get("zones", []) if z.get("name")]
    used = [z for (z,) in reg.conn.execute(
        "SELECT DISTINCT zone FROM household WHERE deleted IS NULL AND zone IS NOT NULL "
        "ORDER BY zone")]
    return named + [z for z in used if z not in named]


def zone_list(reg: Registry, zone: str) -> ZoneList:
    """The posting list of one zone, names masked."""
    status_field = reg.definition.record("household").field("status")
    in_force = agreements_in_force(reg)
    try:
        area_rule = rules_of(reg).data["area"]
    except RulesError:
        area_rule = None
    cur = reg.conn.execute("SELECT * FROM household WHERE zone = ? AND deleted IS NULL "
                           "ORDER BY house_no, id", (zone,))
    cols = [d[0] for d in cur.description]
    rows = []
    for n, values in enumerate(cur.fetchall(), 1):
        h = dict(zip(cols, values))
        agreement = in_force.get(h["id"])
        if agreement:
            area = agreement["breakdown"].area
        elif area_rule:
            area = recognised_area(area_rule, h, reg.settings)[0]
        else:
            area = None
        rows.append({
            "no": n, "id": h["id"], "house_no": h["house_no"],
            "owner": mask_name(h.get("owner_name")) or "", "address": h.get("address") or "",
            "structure": STRUCTURE_ZH.get(h.get("structure"), h.get("structure") or ""),
            "area": area, "status": status_field.choice_label(h.get("status") or "unsurveyed"),
            "mode": MODE_LABELS[agreement["mode"]][0] if agreement else "",
            "agreement_no": agreement["number"] if agreement else "",
            "signed_on": agreement["signed_on"] if agreement else "",
            "total": agreement["total"] if agreement else None,
        })
    return ZoneList(zone=zone, rows=rows)


def _sheet_title(zone: str, used: set[str]) -> str:
    """An Excel sheet name: at most 31 characters, none of []:*?/\\, unique in the book."""
    title = "".join("_" if c in "[]:*?/\\" else c for c in zone)[:31] or "zone"
    base, n = title, 2
    while title in used:
        title = f"{base[:28]}-{n}"
        n += 1
    used.add(title)
    return title


def workbook(reg: Registry, selected: list[str] | None = None) -> Workbook:
    """The zone lists as one workbook, a sheet per zone, amounts as numbers."""
    book = Workbook()
    book.remove(book.active)
    used: set[str] = set()
    project = reg.meta("project_name") or ""
    for zone in selected or zones(reg):
        zl = zone_list(reg, zone)
        sheet = book.create_sheet(_sheet_title(zone, used))
        sheet.append([f"{project} {zone} 分户补偿情况公示表"])
        sheet["A1"].font = Font(bold=True, size=14)
        sheet.append([zh for _, zh, _, _ in COLUMNS])
        for cell in sheet[2]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(horizontal="center", wrap_text=True)
        for row in zl.rows:
            sheet.append([row[key] if row[key] != "" else None for key, *_ in COLUMNS])
        sheet.append([])
        sheet.append(["合计", f"{len(zl.rows)} 户", f"已签约 {zl.signed} 户"] +
                     [None] * (len(COLUMNS) - 4) + [zl.total])
        for i, (key, _, _, width) in enumerate(COLUMNS, 1):
            letter = get_column_letter(i)
            sheet.column_dimensions[letter].width = width
            if key in ("area", "total"):
                for cell in sheet[letter][2:]:
                    cell.number_format = "#,##0.00"
        sheet.freeze_panes = "A3"
    if not book.sheetnames:
        book.create_sheet("无片区")
    return book


def xlsx_bytes(reg: Registry, selected: list[str] | None = None) -> bytes:
    """The zone lists workbook as bytes, for a download."""
    buffer = io.BytesIO()
    workbook(reg, selected).save(buffer)
    return buffer.getvalue()
