"""The residents' site speaks Chinese end to end (ds.client): Datasette's own pages, facets,
filters, pagination, errors; no schema dump; Beijing time; CSV for Excel (BOM, Chinese headings,
a download) and XLSX of any table or query."""

import csv
import datetime as dt
import io
import sqlite3
from urllib.parse import quote

import pytest
from anju.registry.core.store import Registry
from anju.registry.field.demo import build_demo
from anju.registry.publication.publish import publish
from anju.registry.publication.serve import build_datasette

from tests.english import english_words


@pytest.fixture(scope="module")
def public_db(tmp_path_factory):
    directory = tmp_path_factory.mktemp("zh")
    path = build_demo(directory, households=120, seed=11)
    with Registry.open(path) as reg:
        publish(reg, directory / "public.db")
    return directory / "public.db"


@pytest.fixture
async def site(public_db):
    ds = build_datasette(public_db)
    await ds.invoke_startup()
    return ds


def _db(public_db, sql, args=()):
    conn = sqlite3.connect(public_db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def public_pages(public_db):
    tables = [t for (t,) in _db(public_db, "SELECT name FROM sqlite_master WHERE type='table' "
                                           "AND name NOT LIKE 'household_fts%'")]
    zone = _db(public_db, "SELECT zone FROM household LIMIT 1")[0][0]
    pages = ["/", "/public", "/-/progress", "/-/lookup", "/-/lookup?house_no=A-0001",
             "/-/lookup?house_no=%E8%A1%97", "/-/provenance", "/public/lookup_house",
             "/public/household/1", "/public/household?_next=50",
             "/public/household?_search=" + quote("街"),
             "/public/household?zone=" + quote(zone) + "&_sort_desc=cert_area",
             "/public/household?status__contains=" + quote("签") + "&_facet=zone",
             "/public/household?cert_area__gt=50&_sort=cert_area",
             "/public/household?owner_name__isnull=1",
             "/public?sql=" + quote("select zone, count(*) as households from household "
                                    "group by zone"),
             # errors
             "/public?sql=" + quote("selec x"), "/public?sql=" + quote("select nope from zone"),
             "/public?sql=" + quote("select * from nowhere"), "/nowhere", "/public/nowhere",
             "/public/household/999999", "/-/login"]
    return pages + [f"/public/{t}" for t in tables]


async def test_every_public_page_is_chinese_with_no_schema_dump(site, public_db):
    for path in public_pages(public_db):
        r = await site.client.get(path)
        assert r.status_code in (200, 400, 404), path
        assert english_words(r.text) == set(), (path, english_words(r.text))
        assert "CREATE TABLE" not in r.text and "CREATE VIRTUAL" not in r.text, path


async def test_table_page_texts_facets_filters_and_pagination(site):
    r = await site.client.get("/public/household?_facet=zone&_sort=house_no")
    html = r.text
    for words in ("共 120 行", "按房屋编号升序排列", "搜索：", 'value="筛选"', "- 选择栏目 -",
                  ">等于<", ">包含<", "下一页", "CSV 表格（Excel 可直接打开）",
                  "Excel 文件（XLSX）", "片区/地块"):
        assert words in html, words
    r = await site.client.get("/public/nowhere")
    assert r.status_code == 404 and "找不到这张数据表" in r.text
    r = await site.client.get("/public?sql=" + quote("selec x"))
    assert r.status_code == 400 and "只允许查询（SELECT）" in r.text
    r = await site.client.get("/public?sql=" + quote("select nope from zone"))
    assert "查询语句有误：所用的栏目不存在" in r.text


async def test_csv_for_excel_has_a_bom_chinese_headings_and_every_row(site, public_db):
    r = await site.client.get("/public/household.csvzh")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    labels = dict(_db(public_db, "SELECT [column], label_zh FROM column_info "
                                 "WHERE [table] = 'household'"))
    assert "房屋编号" in rows[0] and "坐落" in rows[0] and "house_no" not in rows[0]
    assert labels["house_no"] in rows[0]
    assert len(rows) - 1 == _db(public_db, "SELECT count(*) FROM household")[0][0]  # all pages
    col = rows[0].index(labels["address"])
    assert {r[col] for r in rows[1:]} == {a for (a,) in _db(public_db,
                                                            "SELECT address FROM household")}
    # filters are kept, and a formula is never run by the spreadsheet
    zone = _db(public_db, "SELECT zone FROM household LIMIT 1")[0][0]
    r = await site.client.get("/public/household.csvzh?zone=" + quote(zone))
    n = _db(public_db, "SELECT count(*) FROM household WHERE zone = ?", (zone,))[0][0]
    assert len(r.content.decode("utf-8-sig").strip().splitlines()) - 1 == n
    r = await site.client.get("/public.csvzh?sql=" + quote("select '=1+1' as zone, 2 as n"))
    assert r.content.decode("utf-8-sig").splitlines() == ["片区/地块,n", "'=1+1,2"]


async def test_xlsx_download_of_a_table_and_a_query(site, public_db):
    from openpyxl import load_workbook
    r = await site.client.get("/public/zone.xlsx")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(r.content)).active
    values = list(sheet.values)
    assert values[0][0] == "片区/地块" and len(values) - 1 == _db(
        public_db, "SELECT count(*) FROM zone")[0][0]
    r = await site.client.get("/public.xlsx?sql=" + quote("select house_no, address from "
                                                          "household order by house_no"))
    values = list(load_workbook(io.BytesIO(r.content)).active.values)
    assert values[0] == ("房屋编号", "坐落")
    assert values[1] == tuple(_db(public_db, "SELECT house_no, address FROM household "
                                             "ORDER BY house_no LIMIT 1")[0])


async def test_times_are_shown_in_beijing_time(site, public_db):
    (as_of,) = _db(public_db, "SELECT value FROM provenance WHERE key = 'as_of'")[0]
    utc = dt.datetime.strptime(as_of[:19], "%Y-%m-%dT%H:%M:%S")
    beijing = (utc + dt.timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    for path in ("/-/provenance", "/public/provenance"):
        html = (await site.client.get(path)).text
        assert beijing in html and as_of not in html, path


async def test_hidden_cells_are_labelled_hidden_not_fewer_than_five(site):
    html = (await site.client.get("/-/progress")).text
    assert "已隐去" in html and "&lt;5" not in html
