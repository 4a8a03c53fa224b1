"""Zone lists of compensation for public posting (分户补偿情况公示表), on paper and as XLSX.

One row per household of a zone that is not deleted, in house-number order. Names are masked with
registry.privacy.mask_name, the one masking rule; no ID number, phone, member or hardship data.
Amounts are those of the agreement in force (frozen at signing), always with their direction
(应支付被征收人 / 被征收人应补缴: a swap's net may go either way) and never negative; a household
without one shows its recognised area only, and one with a double agreement says so with no
amount, as `agreements.public_rows` does for the public database.
"""
# i18n: no-catalog (the printed zone lists are Chinese notices).

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal

from anju.registry.compensation.agreements import agreements_in_force, disputes
from anju.registry.compensation.amounts import HOUSEHOLD_PAYS, PAYS_HOUSEHOLD
from anju.registry.compensation.calculation import (
    RulesError,
    recognised_area,
    rules_of,
)
from anju.registry.core import page_indexes
from anju.registry.core.cells import safe_cell
from anju.registry.core.store import Registry
from anju.registry.core.workflow import is_signed
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

# (key, Chinese heading, English heading, XLSX width)
COLUMNS = (
    ("no", "序号", "No.", 6), ("house_no", "房屋编号", "House no.", 12),
    ("owner", "产权人", "Owner", 10), ("address", "坐落", "Address", 28),
    ("structure", "结构", "Structure", 8), ("area", "认定面积(㎡)", "Recognised area (m²)", 12),
    ("status", "状态", "Status", 10), ("mode", "补偿方式", "Mode", 10),
    ("agreement_no", "协议编号", "Agreement no.", 16), ("signed_on", "签约日期", "Signed on", 12),
    ("direction", "结算方向", "Who pays", 14), ("total", "结算金额(元)", "Amount (yuan)", 16),
)


@dataclass
class ZoneList:
    """The rows of one zone's list and its totals."""

    zone: str
    rows: list[dict]

    @property
    def signed(self) -> int:
        """Households counted as signed: the one definition (workflow.is_signed)."""
        return sum(1 for r in self.rows if is_signed(r["status_code"]))

    @property
    def total(self) -> Decimal:
        """The net of the zone's settlements: paid to households minus paid by them."""
        return sum((r["net"] for r in self.rows if r["net"] is not None), Decimal("0.00"))

    @property
    def disputed(self) -> int:
        return sum(1 for r in self.rows if r["disputed"])


def zones(reg: Registry) -> list[str]:
    """The project's zones: those of the settings in their order, then any others in use."""
    named = [z["name"] for z in reg.settings.get("zones", []) if z.get("name")]
    used = [z for (z,) in reg.conn.execute(page_indexes.hinted(reg.conn,  # a probe per zone
        "WITH RECURSIVE z(v) AS (SELECT (SELECT min(zone) FROM household INDEXED BY "
        "pages_household_zone_cadre WHERE zone IS NOT NULL AND deleted IS NULL) UNION ALL "
        "SELECT (SELECT min(zone) FROM household INDEXED BY pages_household_zone_cadre "
        "WHERE zone > z.v AND deleted IS NULL) FROM z WHERE z.v IS NOT NULL) "
        "SELECT v FROM z WHERE v IS NOT NULL"))]
    return named + [z for z in used if z not in named]


def zone_list(reg: Registry, zone: str, *, in_force: dict | None = None,
              area_rule: dict | None = None, disputed: dict | None = None) -> ZoneList:
    """The posting list of one zone, names masked. `in_force`, `area_rule` and `disputed` may be
    given when listing many zones, so they are read once."""
    from anju.registry.compensation import zone_figures  # the row shape, shared with the pages
    status_field = reg.definition.record("household").field("status")
    if in_force is None:
        in_force = agreements_in_force(reg)
    if disputed is None:
        disputed = disputes(reg)
    if area_rule is None:
        area_rule = _area_rule(reg)
    settings = reg.settings
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
            area = recognised_area(area_rule, h, settings)[0]
        else:
            area = None
        rows.append(zone_figures.list_row(n, h, agreement, area, h["id"] in disputed,
                                          status_field))
    return ZoneList(zone=zone, rows=rows)


def _area_rule(reg: Registry) -> dict | None:
    """The recognised-area rule of the project, or None when its rules are invalid."""
    try:
        return rules_of(reg).data["area"]
    except RulesError:
        return None


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
    """The zone lists as one workbook, a sheet per zone, amounts as numbers (written in
    openpyxl's streaming mode, the rows read a batch at a time by zone_figures.iter_rows: a
    large project's lists stay quick and small in memory)."""
    from anju.registry.compensation import zone_figures  # the rows, a batch at a time
    book = Workbook(write_only=True)
    used: set[str] = set()
    project = reg.meta("project_name") or ""
    ctx, area_rule = zone_figures.context(reg), _area_rule(reg)
    bold = Font(bold=True)
    for zone in selected or zones(reg):
        sheet = book.create_sheet(_sheet_title(zone, used))
        for i, (_, _, _, width) in enumerate(COLUMNS, 1):
            sheet.column_dimensions[get_column_letter(i)].width = width
        sheet.freeze_panes = "A3"
        title = f"{project} {zone} 分户补偿情况公示表"
        sheet.append([_cell(sheet, title, Font(bold=True, size=14))])
        sheet.append([_cell(sheet, zh, bold, Alignment(horizontal="center", wrap_text=True))
                      for _, zh, _, _ in COLUMNS])
        count = signed = disputed = 0
        net = Decimal("0.00")
        for row in zone_figures.iter_rows(reg, zone, ctx=ctx, area_rule=area_rule):
            sheet.append([_value(sheet, key, row[key]) for key, *_ in COLUMNS])
            count += 1  # the footer's figures as ZoneList sums them
            signed += is_signed(row["status_code"])
            disputed += row["disputed"]
            if row["net"] is not None:
                net += row["net"]
        sheet.append([])
        sheet.append([_cell(sheet, "合计", bold), f"{count} 户", f"已签约 {signed} 户"]
                     + [f"双重协议待核定 {disputed} 户" if disputed else None]
                     + [None] * (len(COLUMNS) - 6) + [_net_words(net),
                                                      _value(sheet, "total", abs(net))])
    if not book.sheetnames:
        book.create_sheet("无片区")
    return book


def _net_words(net: Decimal) -> str:
    """The direction of a zone's net settlement."""
    return "净额:" + (HOUSEHOLD_PAYS if net < 0 else PAYS_HOUSEHOLD)


def _cell(sheet, value, font: Font | None = None, alignment: Alignment | None = None):
    cell = WriteOnlyCell(sheet, value=safe_cell(value))
    if font:
        cell.font = font
    if alignment:
        cell.alignment = alignment
    return cell


def _value(sheet, key: str, value):
    """A row value as written: blanks empty, areas and amounts as numbers shown to the fen."""
    if value is None or value == "":
        return None
    if key in ("area", "total"):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "#,##0.00"
        return cell
    return safe_cell(value)


def xlsx_bytes(reg: Registry, selected: list[str] | None = None) -> bytes:
    """The zone lists workbook as bytes, for a download."""
    buffer = io.BytesIO()
    workbook(reg, selected).save(buffer)
    return buffer.getvalue()
