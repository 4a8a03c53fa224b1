"""Downloads for residents: any table or query as CSV for Excel on Chinese Windows (UTF-8 with a
BOM, Chinese column headings, served as an attachment) and as XLSX.

`.csvzh` and `.xlsx` output renderers: a table's download holds every row that matches its
filters (paged through the table's own JSON), a query's the rows the query returns (at most
max_returned_rows). Text cells that a spreadsheet would run as a formula (= + - @) are prefixed
with an apostrophe.
"""

from __future__ import annotations

import csv
import io
from urllib.parse import parse_qsl, quote, urlencode

from datasette import Response, hookimpl

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_PAGES = 1000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TABLE_TITLES = {"household": "住户公示", "progress": "进度统计", "zone": "片区进度",
                "choice_total": "分项统计", "daily_progress": "累计进度",
                "sensitive_total": "困难群体与人口统计", "provenance": "数据来源",
                "column_info": "栏目说明", "selection_batch": "选房批次",
                "selection_order": "选房顺序与结果", "flat_left": "剩余安置房源",
                "paid_by_zone": "补偿款支付"}


def _safe(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _labels(datasette, database: str, table: str | None, columns: list[str]) -> list[str]:
    """Chinese headings: the column's metadata label without its English part."""
    labels: dict[str, str] = {}
    meta = datasette.metadata(database=database) or {}
    tables = meta.get("tables") or {}
    for name, tmeta in tables.items():
        for col, label in ((tmeta or {}).get("columns") or {}).items():
            if name == table or col not in labels:
                labels[col] = str(label).split(" (")[0]
    if table:
        for col, label in (((tables.get(table) or {}).get("columns")) or {}).items():
            labels[col] = str(label).split(" (")[0]
    return [labels.get(c, c) for c in columns]


async def _all_rows(datasette, database, table, request, columns, rows):
    """Every row of a table view (its filters kept), paging through its JSON."""
    if not table:
        return [[r[c] for c in columns] for r in rows]
    args = [(k, v) for k, v in parse_qsl(request.query_string, keep_blank_values=True)
            if not k.startswith("_")
            or k in ("_search", "_sort", "_sort_desc", "_where", "_fts_table")]
    path = datasette.urls.table(database, table, format="json")
    out, next_token = [], None
    for _ in range(MAX_PAGES):
        query = args + [("_shape", "objects"), ("_size", "max"), ("_nocount", "1")]
        if next_token:
            query.append(("_next", next_token))
        response = await datasette.client.get(path + "?" + urlencode(query),
                                              cookies=request.cookies)
        if response.status_code != 200:
            break
        data = response.json()
        out += [[r.get(c) for c in columns] for r in data.get("rows", [])]
        next_token = data.get("next")
        if not next_token:
            break
    return out


def _filename(datasette, database, table, ext: str) -> str:
    name = TABLE_TITLES.get(table or "", table or "查询结果")
    return f"{name}.{ext}"


def _disposition(filename: str) -> str:
    return f"attachment; filename=\"download.{filename.rsplit('.', 1)[1]}\"; " \
           f"filename*=UTF-8''{quote(filename)}"


async def render_csvzh(datasette, columns, rows, database, table, request):
    data = await _all_rows(datasette, database, table, request, columns, rows)
    buf = io.StringIO()
    buf.write("\ufeff")  # Excel reads UTF-8 only with a BOM
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(_labels(datasette, database, table, columns))
    writer.writerows([[_safe(v) for v in row] for row in data])
    return Response(buf.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8",
                    headers={"content-disposition": _disposition(
                        _filename(datasette, database, table, "csv"))})


async def render_xlsx(datasette, columns, rows, database, table, request):
    from openpyxl import Workbook
    data = await _all_rows(datasette, database, table, request, columns, rows)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=(TABLE_TITLES.get(table or "", table or "查询结果"))[:31])
    sheet.append(_labels(datasette, database, table, columns))
    for row in data:
        sheet.append([_safe(v) if not isinstance(v, bytes) else None for v in row])
    out = io.BytesIO()
    book.save(out)
    return Response(out.getvalue(), content_type=XLSX_TYPE, headers={
        "content-disposition": _disposition(_filename(datasette, database, table, "xlsx"))})


@hookimpl
def register_output_renderer(datasette):
    return [{"extension": "csvzh", "render": render_csvzh},
            {"extension": "xlsx", "render": render_xlsx}]
