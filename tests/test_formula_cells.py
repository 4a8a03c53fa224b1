"""No cell of any spreadsheet anju writes can start a formula (issue 14, point 7).

The attack of the issue: a cadre `=1+2` and an address `=HYPERLINK(...)` became live formulas in
the daily report, the public posting list XLSX and the public CSV. Each export is written from a
registry holding such values (hypothesis makes more of them) and read back the way a spreadsheet
reads it: openpyxl for XLSX (a formula cell has data_type "f"), the csv module for CSV.
"""

import csv
import io
import tempfile
from pathlib import Path

from anju.registry.core.cells import safe_cell
from anju.registry.core.store import Registry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from tests.conftest import HOUSEHOLD

# Independent of the code under test: OWASP's list (CSV injection) as a spreadsheet reads it.
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
ATTACKS = ["=1+2", "=HYPERLINK(\"http://evil.example\",\"点我\")", "+1-2", "-2+3", "@SUM(A1)",
           "\t=1+2", "\r=1+2", "=cmd|' /C calc'!A0", "＝1+2"]
hostile = st.one_of(st.sampled_from(ATTACKS),
                    st.tuples(st.sampled_from(DANGEROUS),
                              st.text(alphabet="AZaz019()!,\"'中文=+-@ |", min_size=1, max_size=12)
                              .filter(str.strip))
                    .map("".join))
SLOW = settings(max_examples=5, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@given(st.text(alphabet=st.characters(blacklist_categories=["Cc"]) | st.sampled_from(DANGEROUS),
               max_size=30))
def test_safe_cell_neutralises_exactly_the_formula_starts(text):
    out = safe_cell(text)
    if text[:1] in DANGEROUS:
        assert out == "'" + text
    assert out[:1] not in DANGEROUS
    assert out in (text, "'" + text)


@given(st.text(max_size=30))
def test_any_text_becomes_a_cell_openpyxl_accepts(text):
    from openpyxl import Workbook
    out = safe_cell(text)
    Workbook().active.append([out])  # raises IllegalCharacterError on a control character
    assert out[:1] not in DANGEROUS


@given(st.one_of(st.integers(), st.floats(allow_nan=False), st.none(), st.decimals(
    allow_nan=False, allow_infinity=False)))
def test_numbers_stay_numbers(value):
    assert safe_cell(value) is value


def _registry(root: Path, values: list[str]) -> Registry:
    reg = Registry.create(root / "r.db", project=values[0], role="central",
                          device_name="central")
    for i, value in enumerate(values):
        reg.save("household", None, {**HOUSEHOLD, "house_no": f"A-{i:04d}", "address": value,
                                     "cadre": value, "owner_name": "张伟"}, by="li", full=True)
    return reg


def _assert_no_formula(book) -> int:
    seen = 0
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert cell.value[:1] not in DANGEROUS, (ws.title, cell.value)
                    seen += cell.value.startswith("'")
    return seen


@SLOW
@given(st.lists(hostile, min_size=1, max_size=2))
def test_daily_report_has_no_formula(values):
    from anju.registry.review import report
    with tempfile.TemporaryDirectory() as tmp:
        with _registry(Path(tmp), values) as reg:
            path = report.write_xlsx(reg, Path(tmp) / "daily.xlsx")
        assert _assert_no_formula(load_workbook(path)) >= 1  # the cadres' sheet holds them


@SLOW
@given(st.lists(hostile, min_size=1, max_size=2))
def test_zone_lists_have_no_formula(values):
    from anju.registry.compensation import lists
    with tempfile.TemporaryDirectory() as tmp, _registry(Path(tmp), values) as reg:
        book = load_workbook(io.BytesIO(lists.xlsx_bytes(reg)))
        assert _assert_no_formula(book) >= len(set(values))  # each address, neutralised


@SLOW
@given(st.lists(hostile, min_size=1, max_size=2))
async def test_public_csv_has_no_formula(values):
    from anju.registry.publication.publish import publish
    from anju.registry.publication.serve import build_datasette
    with tempfile.TemporaryDirectory() as tmp:
        with _registry(Path(tmp), values) as reg:
            publish(reg, Path(tmp) / "public.db")
        ds = build_datasette(Path(tmp) / "public.db")
        await ds.invoke_startup()
        tables = await ds.get_database("public").table_names()
        fields = []
        for table in tables:
            r = await ds.client.get(f"/public/{table}.csv?_stream=on&_size=max")
            assert r.status_code == 200, table
            fields += [f for row in csv.reader(io.StringIO(r.text)) for f in row]
        r = await ds.client.get("/public.csv?sql=select+address+from+household")
        fields += [f for row in csv.reader(io.StringIO(r.text)) for f in row]
        assert all(f[:1] not in DANGEROUS for f in fields), [f for f in fields
                                                             if f[:1] in DANGEROUS]
        assert any(f.startswith("'") for f in fields)  # the addresses are there, neutralised
