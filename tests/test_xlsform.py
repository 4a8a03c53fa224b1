"""XLSForm in and out (registry/core/xlsform.py, `anju survey import|export`): the project's
survey round-trips; real-world forms import field by field; every supported column and type maps
to anju's definition; every construct anju cannot take is refused with its row, and nothing is
written; an imported survey runs a registry and its web form."""

from __future__ import annotations

import copy
import io
import re

import pytest
import yaml
from anju.registry.cli import main
from anju.registry.core import definition as definition_mod
from anju.registry.core.definition import Field
from anju.registry.core.store import Registry
from anju.registry.core.xlsform import (
    XLSFormError,
    export_bytes,
    import_xlsform,
    relevant_to_anju,
    relevant_to_xlsform,
    same_definition,
)
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from tests.collector_helpers import csrf, login, make_app, saved_id
from tests.data.make_xlsforms import UNSUPPORTED

DATA = __import__("pathlib").Path(__file__).resolve().parent / "data"


def form(rows: list[dict], choices: list[dict] | None = None,
         settings_row: dict | None = None) -> bytes:
    """A small XLSForm workbook (survey, choices, settings) from row dicts, as bytes."""
    wb = Workbook()
    for title, data in (("survey", rows), ("choices", choices), ("settings",
                                                               [settings_row] if settings_row
                                                               else None)):
        if not data:
            continue
        ws = wb.active if title == "survey" else wb.create_sheet(title)
        ws.title = title
        columns = list(dict.fromkeys(k for r in data for k in r))
        ws.append(columns)
        for r in data:
            ws.append([r.get(c) for c in columns])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


_BUILTIN = yaml.safe_load(definition_mod.DEFAULT_PATH.read_text(encoding="utf-8"))


def builtin_raw() -> dict:
    """schema/survey.yaml as raw data, a fresh copy to change."""
    return copy.deepcopy(_BUILTIN)


def field_of(defn, name: str, record: str = "household") -> Field:
    return defn.record(record).field(name)


def parts(defn) -> tuple:
    """Everything a definition says, compared without the code under test."""
    return (defn.name, defn.version, defn.title, list(defn.sections),
            sorted((n, r.label, r.parent, list(r.fields)) for n, r in defn.records.items()))


# -- the project's own survey ------------------------------------------------------------------

def test_project_survey_round_trips_with_nothing_to_report():
    original = definition_mod.load()
    result = import_xlsform(export_bytes(original))
    assert result.findings == []
    assert parts(result.definition) == parts(original)
    assert same_definition(original, result.definition) is None


def test_exported_workbook_is_a_valid_xlsform_for_odk(tmp_path):
    from pyxform.xls2xform import convert
    path = tmp_path / "survey.xlsx"
    path.write_bytes(export_bytes(definition_mod.load()))
    xform = convert(str(path)).xform
    assert 'nodeset="/data/house/house_no"' in xform
    assert "regex(., '^[A-Za-z0-9][A-Za-z0-9-]{0,23}$')" in xform
    assert "selected( /data/hardship_section/hardship , 'disability')" in xform
    assert "<h:title>棚户区改造入户调查表</h:title>" in xform


def test_exported_workbook_reads_as_the_office_expects():
    wb = load_workbook(io.BytesIO(export_bytes(definition_mod.load())))
    assert wb.sheetnames == ["survey", "choices", "settings"]
    survey = wb["survey"]
    header = [c.value for c in survey[1]]
    rows = [dict(zip(header, (c.value for c in r))) for r in survey.iter_rows(min_row=2)]
    by_name = {r["name"]: r for r in rows if r["name"]}
    assert by_name["owner_id_no"]["type"] == "text"
    assert by_name["owner_id_no"]["validator"] == "resident_id"
    assert by_name["year_built"]["constraint"] == ". >= 1900 and . <= 2100"
    assert by_name["year_built"]["validator"] == "not_future_year"
    assert by_name["preferred_flat_size"]["relevant"] == "${compensation_mode} = 'swap'"
    assert by_name["owner_name"]["publish"] == "masked"
    assert by_name["status"]["default"] == "unsurveyed"
    assert by_name["members"]["type"] == "begin_repeat"
    assert by_name["members"]["record"] == "member"
    assert by_name["visit"]["standalone"] == "yes"
    # one list for the two uses, named after the first
    assert by_name["registered_use"]["type"] == "select_one registered_use"
    assert by_name["actual_use"]["type"] == "select_one registered_use"
    lists = [r[0].value for r in wb["choices"].iter_rows(min_row=2)]
    assert lists.count("registered_use") == 3
    # the house section comes back after the area section: a second group names it
    second = next(r for r in rows if r["type"] == "begin_group" and r.get("section") == "house")
    assert second["name"] == "house_2"
    settings_sheet = wb["settings"]
    assert [c.value for c in settings_sheet[2]][:4] == [
        "棚户区改造入户调查表", "Shantytown renovation household survey", "household_survey", "1"]
    # anju's own record types are no questions of the form
    assert not {"agreement", "decision", "sha256", "flag_key"} & set(by_name)


# -- generated surveys round-trip --------------------------------------------------------------

# pyxform trims cells and closes up runs of spaces: labels here are what a cell can carry (a
# label that is not is refused by the export, see below).
LABEL = st.text(alphabet=st.sampled_from("房屋面积产权人甲乙丙abcXYZ019 -_()/（）㎡.,'\"="),
                min_size=1, max_size=12).map(lambda s: re.sub(r"\s+", " ", s).strip()).filter(bool)
PATTERNS = ["^[0-9]{4}$", "^[A-Z]-[0-9]+$", "^[^\"]*$", "^[^']*$", "^(a|b)+$"]
RELEVANTS = [{"field": "compensation_mode", "equals": "swap"},
             {"field": "compensation_mode", "in": ["money", "swap"]},
             {"field": "hardship", "contains": "dibao"},
             {"field": "floors", "gt": 3}, {"field": "floors", "gt": 2.5}]


@st.composite
def extra_field(draw, name: str):
    ftype = draw(st.sampled_from(["text", "integer", "decimal", "date", "select_one",
                                  "select_multiple", "geopoint", "resident_id", "phone",
                                  "attachment"]))
    f: dict = {"name": name, "type": ftype,
               "label": {"zh": draw(LABEL), "en": draw(LABEL)}}
    if draw(st.booleans()):
        f["required"] = True
    if draw(st.booleans()):
        f["hint"] = {"zh": draw(LABEL), "en": draw(LABEL)}
    if draw(st.booleans()):
        f["section"] = draw(st.sampled_from(["house", "area", "owner", "wishes"]))
    if draw(st.booleans()):
        f["relevant"] = draw(st.sampled_from(RELEVANTS))
    number = st.one_of(st.integers(-10**6, 10**6), st.integers(-10**5, 10**5).map(
        lambda n: n / 100))
    constraint: dict = {}
    if ftype in ("integer", "decimal"):
        for bound in ("min", "max"):
            if draw(st.booleans()):
                constraint[bound] = draw(number)
        if draw(st.booleans()):
            f["publish"] = draw(st.sampled_from(["plain", "total"]))
        if draw(st.booleans()):
            f["default"] = draw(st.integers(0, 99))
    if ftype == "decimal":
        f["precision"] = draw(st.integers(0, 6))
    if ftype == "text":
        if draw(st.booleans()):
            constraint["max_length"] = draw(st.integers(1, 500))
        if draw(st.booleans()):
            constraint["pattern"] = draw(st.sampled_from(PATTERNS))
        if draw(st.booleans()):
            constraint["validator"] = "person_name"
        if draw(st.booleans()):
            f["publish"] = draw(st.sampled_from(["plain", "masked", "total"]))
    if ftype in ("select_one", "select_multiple"):
        values = draw(st.lists(st.from_regex(r"[a-z0-9_]{1,8}", fullmatch=True), min_size=1,
                               max_size=4, unique=True))
        f["choices"] = [{"value": v, "label": {"zh": draw(LABEL), "en": draw(LABEL)}}
                        for v in values]
    if constraint:
        f["constraint"] = constraint
    return f


@st.composite
def survey_text(draw) -> str:
    raw = builtin_raw()
    raw["version"] = draw(st.integers(1, 10**6))
    raw["title"] = {"zh": draw(LABEL), "en": draw(LABEL)}
    for record in ("household", "member", "visit"):
        fields = raw["records"][record]["fields"]
        for i in range(draw(st.integers(0, 3))):
            f = draw(extra_field(f"x{i}_{record[:3]}"))
            if record != "household":
                f.pop("section", None)
                f.pop("relevant", None)
            fields.insert(draw(st.integers(0, len(fields))), f)
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)


# Each example writes and reads a workbook three times: few examples, and no slow shrinking.
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(survey_text())
def test_generated_surveys_round_trip(text):
    try:
        original = definition_mod.parse(text)
    except definition_mod.DefinitionError:
        assume(False)
    back = import_xlsform(export_bytes(original)).definition
    assert parts(back) == parts(original)


@given(st.sampled_from(RELEVANTS))
def test_relevant_expressions_translate_both_ways(cond):
    types = {"compensation_mode": "select_one", "hardship": "select_multiple",
             "floors": "integer"}
    assert relevant_to_anju(relevant_to_xlsform(cond), types) == cond


def test_a_label_starting_with_equals_stays_text_and_round_trips():
    raw = builtin_raw()
    raw["records"]["household"]["fields"][0]["label"] = {"zh": "=1+1", "en": "=HYPERLINK(1)"}
    original = definition_mod.parse(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False))
    data = export_bytes(original)
    cell = load_workbook(io.BytesIO(data))["survey"]["C3"]
    assert cell.value == "=1+1" and cell.data_type == "s"
    assert parts(import_xlsform(data).definition) == parts(original)


def test_a_survey_xlsform_cannot_carry_is_refused_not_written_lossily():
    raw = builtin_raw()
    for label in (" 房屋编号", "房屋  编号"):
        raw["records"]["household"]["fields"][0]["label"] = {"zh": label, "en": "No"}
        with pytest.raises(XLSFormError, match="house_no: label"):
            export_bytes(definition_mod.parse(yaml.safe_dump(raw, allow_unicode=True)))
    raw = builtin_raw()
    raw["records"]["note"] = {"label": "便签", "fields": [{"name": "text", "type": "text"}]}
    with pytest.raises(XLSFormError, match="record note"):
        export_bytes(definition_mod.parse(yaml.safe_dump(raw, allow_unicode=True)))


# -- real-world forms, field by field ----------------------------------------------------------

def test_kobo_household_form_imports_field_by_field():
    result = import_xlsform(DATA / "household_kobo.xlsx")
    d = result.definition
    assert (d.name, d.version) == ("kobo_household", 1)
    assert d.title == {"zh": "Household survey", "en": "Household survey"}
    # groups in the order they come; sections of fields anju adds come after
    assert [s["name"] for s in d.sections] == ["house", "owner", "wishes", "workflow", "area"]
    assert d.sections[0]["label"] == {"zh": "房屋情况", "en": "The house"}
    house_no = field_of(d, "house_no")
    assert (house_no.type, house_no.required, house_no.section) == ("text", True, "house")
    assert house_no.label == {"zh": "房屋编号", "en": "House number"}
    assert house_no.constraint == {"pattern": "^[A-Z]-[0-9]{4}$"}
    assert field_of(d, "address").constraint == {"max_length": 200}
    structure = field_of(d, "structure")
    assert structure.type == "select_one"
    assert [(c.value, c.label["zh"]) for c in structure.choices] == [
        ("steel_concrete", "钢混"), ("brick_concrete", "砖混"), ("brick_wood", "砖木"),
        ("simple", "简易")]
    assert field_of(d, "floors").constraint == {"min": 1, "max": 60}
    area = field_of(d, "surveyed_area")
    assert (area.type, area.constraint, area.hint) == (
        "decimal", {"min": 0}, {"zh": "按实测", "en": "As measured"})
    assert field_of(d, "location").type == "geopoint"
    assert field_of(d, "house_photo").type == "attachment"
    owner_id = field_of(d, "owner_id_no")      # a text the code reads as a resident ID
    assert (owner_id.type, owner_id.constraint) == ("resident_id",
                                                    {"pattern": "^[0-9]{17}[0-9X]$"})
    flat = field_of(d, "preferred_flat_size")
    assert flat.relevant == {"field": "compensation_mode", "equals": "swap"}
    assert flat.constraint == {"min": 20, "max": 300}
    grade = field_of(d, "disability_grade")
    assert grade.relevant == {"field": "hardship", "contains": "disability"}
    assert grade.required and [c.value for c in grade.choices] == ["1", "2", "3", "4"]
    assert field_of(d, "hardship").type == "select_multiple"
    members = field_of(d, "members")
    assert (members.type, members.record, members.section) == ("repeat", "member", None)
    assert [f.name for f in d.record("member").fields] == ["name", "relation", "age",
                                                           "working", "id_no", "registered_on"]
    assert field_of(d, "working", "member").relevant == {"field": "age", "gt": 15}
    assert field_of(d, "visits").record == "visit"
    assert [f.name for f in d.record("visit").fields] == ["visit_date", "outcome", "note",
                                                          "surveyor"]
    # the web app's fields the form lacks come from anju's survey; its own records too
    assert field_of(d, "status").default == "unsurveyed"
    assert {"household", "member", "visit", "attachment", "agreement", "decision"} <= set(
        d.records)
    assert field_of(d, "decoration").section == "area"             # added from anju's survey
    assert not any(f.refused for f in result.findings)
    notes = {(f.row, f.column) for f in result.findings}
    assert {(2, "type"), (3, "type"), (7, "constraint_message::English (en)"), (8, "appearance"),
            (41, "type"), (2, "version"), (19, "type")} <= notes
    assert "deviceid" not in {f.name for f in d.record("household").fields}


def test_chinese_form_with_anju_columns_imports_field_by_field():
    d = import_xlsform(DATA / "household_zh.xlsx").definition
    assert (d.name, d.version) == ("shanty_zh", 3)
    assert d.title == {"zh": "棚户区入户调查", "en": "Shantytown household survey"}
    assert field_of(d, "house_no").label == {"zh": "房屋编号", "en": "House number"}
    assert field_of(d, "house_no").required and field_of(d, "house_no").publish == "plain"
    area = field_of(d, "cert_area")
    assert (area.precision, area.constraint, area.publish) == (
        1, {"min": 0, "max": 100000}, "plain")
    rooms = field_of(d, "rooms")
    assert (rooms.default, rooms.constraint) == (1, {"min": 1})
    assert rooms.hint == {"zh": "含厨房", "en": "Kitchen included"}
    owner = field_of(d, "owner_name")
    assert (owner.publish, owner.constraint) == ("masked", {"validator": "person_name"})
    assert field_of(d, "owner_id_no").type == "resident_id"
    assert field_of(d, "owner_phone").type == "phone"
    assert [c.value for c in field_of(d, "hardship").choices] == ["1", "2", "3"]
    assert field_of(d, "hardship").publish == "total"
    assert field_of(d, "disability_grade").relevant == {"field": "hardship", "contains": "3"}
    assert field_of(d, "bank").relevant == {"field": "compensation_mode",
                                            "in": ["money", "swap"]}
    assert d.record("member").label == {"zh": "成员", "en": "Member"}
    assert field_of(d, "members").label == {"zh": "家庭成员", "en": "Members"}
    assert field_of(d, "id_no", "member").type == "resident_id"
    assert field_of(d, "working", "member").relevant == {"field": "age", "gt": 16}
    assert "visit" not in {f.name for f in d.record("household").fields}   # standalone
    assert d.record("visit").parent == "household"
    assert [f.name for f in d.record("visit").fields] == ["visit_date", "surveyor", "outcome",
                                                          "note"]
    assert field_of(d, "status").default == "unsurveyed"


def test_unsupported_form_reports_every_row_and_gives_nothing():
    with pytest.raises(XLSFormError) as caught:
        import_xlsform(DATA / "household_unsupported.xlsx")
    refused = {(f.row, f.column) for f in caught.value.findings if f.refused}
    assert refused == UNSUPPORTED
    assert all(f.sheet == "survey" and f.why for f in caught.value.findings if f.refused)


# -- each supported column and type ------------------------------------------------------------

BASE = [{"type": "text", "name": "house_no", "label::zh": "房屋编号"}]
SUPPORTED = [
    ({"type": "text", "name": "q"}, {"type": "text", "label": {"zh": "q", "en": "q"}}),
    ({"type": "integer", "name": "q"}, {"type": "integer"}),
    ({"type": "int", "name": "q"}, {"type": "integer"}),
    ({"type": "decimal", "name": "q", "precision": 3}, {"type": "decimal", "precision": 3}),
    ({"type": "date", "name": "q"}, {"type": "date"}),
    ({"type": "geopoint", "name": "q"}, {"type": "geopoint"}),
    ({"type": "image", "name": "q"}, {"type": "attachment"}),
    ({"type": "file", "name": "q"}, {"type": "attachment"}),
    ({"type": "resident_id", "name": "q"}, {"type": "resident_id"}),
    ({"type": "phone", "name": "q"}, {"type": "phone"}),
    ({"type": "text", "name": "q", "validator": "phone"}, {"type": "phone"}),
    ({"type": "text", "name": "q", "validator": "resident_id"}, {"type": "resident_id"}),
    ({"type": "integer", "name": "q", "validator": "not_future_year"},
     {"constraint": {"validator": "not_future_year"}}),
    ({"type": "text", "name": "q", "label": "问题"}, {"label": {"zh": "问题", "en": "问题"}}),
    ({"type": "text", "name": "q", "label::Chinese (zh)": "问题", "label::English (en)": "Q"},
     {"label": {"zh": "问题", "en": "Q"}}),
    ({"type": "text", "name": "q", "label::中文": "问题", "label::English": "Q"},
     {"label": {"zh": "问题", "en": "Q"}}),
    ({"type": "text", "name": "q", "label::zh": "问题", "label::fr": "Question"},
     {"label": {"zh": "问题", "en": "问题"}}),
    ({"type": "text", "name": "q", "hint::zh": "提示", "hint::en": "Hint"},
     {"hint": {"zh": "提示", "en": "Hint"}}),
    ({"type": "text", "name": "q", "required": "yes"}, {"required": True}),
    ({"type": "text", "name": "q", "required": "TRUE"}, {"required": True}),
    ({"type": "text", "name": "q", "required": "no"}, {"required": False}),
    ({"type": "text", "name": "q", "constraint": "regex(., \"^[^']+$\")"},
     {"constraint": {"pattern": "^[^']+$"}}),
    ({"type": "text", "name": "q", "constraint": "string-length(.) < 11"},
     {"constraint": {"max_length": 10}}),
    ({"type": "decimal", "name": "q", "constraint": "(. >= 0.5) and (. <= 99.5)"},
     {"constraint": {"min": 0.5, "max": 99.5}}),
    ({"type": "integer", "name": "q", "constraint": ". < 10 and . > -1"},
     {"constraint": {"min": 0, "max": 9}}),
    ({"type": "integer", "name": "q", "constraint": "100 >= ."}, {"constraint": {"max": 100}}),
    ({"type": "text", "name": "q", "relevant": "${house_no}='A'"},
     {"relevant": {"field": "house_no", "equals": "A"}}),
    ({"type": "text", "name": "q", "default": "无"}, {"default": "无"}),
    ({"type": "decimal", "name": "q", "default": "2.5"}, {"default": 2.5}),
    ({"type": "text", "name": "q", "publish": "plain"}, {"publish": "plain"}),
    ({"type": "text", "name": "q", "publish": "never"}, {"publish": "never"}),
    ({"type": "text", "name": "q", "appearance": "multiline", "constraint_message": "错"},
     {"type": "text"}),
]


@pytest.mark.parametrize(("row", "expected"), SUPPORTED,
                         ids=[f"{r['type']}-{'-'.join(sorted(set(r) - {'type', 'name'}))}"
                              for r, _ in SUPPORTED])
def test_each_supported_column_and_type(row, expected):
    f = field_of(import_xlsform(form([*BASE, row])).definition, "q")
    for attr, value in expected.items():
        assert getattr(f, attr) == value, attr


def test_a_question_without_chinese_text_is_noted():
    result = import_xlsform(form([*BASE, {"type": "text", "name": "q", "label::English": "Q"}]))
    assert field_of(result.definition, "q").label == {"zh": "Q", "en": "Q"}
    (note,) = [f for f in result.findings if f.column == "label"]
    assert (note.row, note.refused) == (3, False)


def test_choices_and_sections_map():
    d = import_xlsform(form(
        [*BASE, {"type": "begin_group", "name": "s1", "label::zh": "甲组", "label::en": "A"},
         {"type": "select_one yn", "name": "a", "label::zh": "甲"},
         {"type": "select_multiple yn", "name": "b", "label::zh": "乙",
          "relevant": "selected(${a}, 'y')"},
         {"type": "end_group"}],
        [{"list_name": "yn", "name": "y", "label::zh": "是", "label::en": "Yes"},
         {"list_name": "yn", "name": 0, "label::zh": "否", "label::en": "No"}])).definition
    a, b = field_of(d, "a"), field_of(d, "b")
    assert [(c.value, c.label) for c in a.choices] == [
        ("y", {"zh": "是", "en": "Yes"}), ("0", {"zh": "否", "en": "No"})]
    assert b.choices == a.choices and b.type == "select_multiple"
    assert b.relevant == {"field": "a", "equals": "y"}      # selected() on a select_one
    assert (a.section, d.sections[0]) == ("s1", {"name": "s1",
                                                "label": {"zh": "甲组", "en": "A"}})


# -- each unsupported construct, with its row --------------------------------------------------

REFUSED = [
    ({"type": "calculate", "name": "q", "calculation": "1 + 1"}, "type"),
    ({"type": "time", "name": "q"}, "type"),
    ({"type": "datetime", "name": "q"}, "type"),
    ({"type": "audio", "name": "q"}, "type"),
    ({"type": "barcode", "name": "q"}, "type"),
    ({"type": "range", "name": "q"}, "type"),
    ({"type": "text", "name": "q", "relevant": "${house_no} != 'A'"}, "relevant"),
    ({"type": "text", "name": "q", "relevant": "${house_no} = 'A' and ${house_no} = 'B'"},
     "relevant"),
    ({"type": "text", "name": "q", "relevant": "${house_no} = 'A' or ${q} = 'B'"},
     "relevant"),
    ({"type": "text", "name": "q", "relevant": "${house_no} > 3"}, "relevant"),
    ({"type": "text", "name": "q", "relevant": "not(${house_no} = 'A')"}, "relevant"),
    ({"type": "integer", "name": "q", "constraint": ". >= 1 or . <= 9"}, "constraint"),
    ({"type": "decimal", "name": "q", "constraint": ". > 0"}, "constraint"),
    ({"type": "text", "name": "q", "constraint": ". >= 1"}, "constraint"),
    ({"type": "text", "name": "q", "constraint": "regex(., '[')"}, "constraint"),
    ({"type": "text", "name": "q", "constraint": "'; DROP TABLE"}, "constraint"),
    ({"type": "text", "name": "q", "required": "${house_no} = 'A'"}, "required"),
    ({"type": "text", "name": "q", "read_only": "yes"}, "read_only"),
    ({"type": "text", "name": "q", "calculation": "concat('a', 'b')"}, "calculation"),
    ({"type": "text", "name": "Q1"}, "name"),
    ({"type": "text", "name": "deleted"}, "name"),
    ({"type": "text", "name": "q", "publish": "everyone"}, "publish"),
    ({"type": "resident_id", "name": "q", "publish": "plain"}, "publish"),
    ({"type": "integer", "name": "q", "validator": "phone"}, "validator"),
    ({"type": "text", "name": "q", "validator": "email"}, "validator"),
    ({"type": "decimal", "name": "q", "precision": "9"}, "precision"),
    ({"type": "integer", "name": "q", "default": "many"}, "default"),
    ({"type": "text", "name": "status"}, "type"),
]


@pytest.mark.parametrize(("row", "column"), REFUSED,
                         ids=[f"{i}-{c}" for i, (_, c) in enumerate(REFUSED)])
def test_each_unsupported_construct_is_refused_with_its_row(row, column):
    with pytest.raises(XLSFormError) as caught:
        import_xlsform(form([*BASE, row]))
    refused = [(f.sheet, f.row, f.column) for f in caught.value.findings if f.refused]
    assert refused == [("survey", 3, column)], caught.value.findings


def test_pyxform_errors_come_back_with_their_row():
    with pytest.raises(XLSFormError) as caught:
        import_xlsform(form([*BASE, {"type": "select_one nolist", "name": "q"}],
                            [{"list_name": "yn", "name": "y", "label": "是"}]))
    (finding,) = caught.value.findings
    assert (finding.sheet, finding.row, finding.refused) == ("survey", 3, True)
    assert "nolist" in finding.what


@pytest.mark.parametrize("data", [b"", b"not a workbook", b"PK\x03\x04" + b"\0" * 200,
                                  form([{"nothing": "x"}])])
def test_not_a_form_is_one_clean_error(data):
    with pytest.raises(XLSFormError) as caught:
        import_xlsform(data)
    assert "\n" not in str(caught.value)


def test_hostile_expressions_are_refused_not_crashing():
    for text in ("(" * 5000 + "1" + ")" * 5000, "${a} = '" + "x" * 5000 + "'", "${a} = ",
                 "selected(", "'unterminated", "${a} === 'b'", "\x00"):
        with pytest.raises(ValueError):
            relevant_to_anju(text, {"a": "select_one"})


def test_a_workbook_that_unpacks_to_gigabytes_is_refused_before_reading():
    import zipfile
    out = io.BytesIO()
    chunk = b"\0" * (1 << 20)
    with (zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive,
          archive.open("xl/worksheets/sheet1.xml", "w") as member):
        for _ in range(101):
            member.write(chunk)
    with pytest.raises(XLSFormError, match="unpacks to more than 100 MB"):
        import_xlsform(out.getvalue())


# -- the command line --------------------------------------------------------------------------

def test_cli_export_then_import_gives_the_same_survey(tmp_path):
    runner = CliRunner()
    xlsx, back = tmp_path / "form.xlsx", tmp_path / "back.yaml"
    result = runner.invoke(main, ["survey", "export", str(definition_mod.DEFAULT_PATH),
                                  "--out", str(xlsx)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["survey", "import", str(xlsx), "--out", str(back)])
    assert result.exit_code == 0, result.output
    assert parts(definition_mod.load(back)) == parts(definition_mod.load())
    again = runner.invoke(main, ["survey", "import", str(xlsx), "--out", str(back)])
    assert again.exit_code == 2 and "already exists" in again.output


def test_cli_refused_form_lists_rows_writes_nothing_exits_2(tmp_path):
    out = tmp_path / "survey.yaml"
    result = CliRunner().invoke(main, ["survey", "import", str(DATA /
                                                             "household_unsupported.xlsx"),
                                       "--out", str(out)])
    assert result.exit_code == 2
    assert not out.exists() and not list(tmp_path.iterdir())
    assert "survey row 5, relevant: refused" in result.output
    assert result.output.strip().splitlines()[-1] == (
        f"anju: {DATA / 'household_unsupported.xlsx'}: {len(UNSUPPORTED)} row(s) refused; "
        "nothing written")
    assert "Traceback" not in result.output


@pytest.mark.parametrize("content", [b"junk", None])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, content):
    path = tmp_path / "form.xlsx"
    if content is not None:
        path.write_bytes(content)
    result = CliRunner().invoke(main, ["survey", "import", str(path), "--out",
                                       str(tmp_path / "s.yaml")])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and result.output.startswith("anju: ")
    bad = tmp_path / "bad.yaml"
    bad.write_text("records: []\n")
    result = CliRunner().invoke(main, ["survey", "export", str(bad), "--out",
                                       str(tmp_path / "f.xlsx")])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "f.xlsx").exists()


# -- an imported survey runs a registry and its web form ---------------------------------------

def test_imported_form_drives_a_registry_and_the_web_form(tmp_path):
    imported = import_xlsform(DATA / "household_kobo.xlsx")
    reg = Registry.create(tmp_path / "registry.db", project="导入项目", role="central",
                          device_name="central", survey_text=imported.text)
    try:
        assert reg.definition.name == "kobo_household"
        client = make_app(reg).test_client()
        login(client)
        page = client.get("/households/new").text
        for name in ("house_no", "surveyed_area", "preferred_flat_size", "m-0-age",
                     "m-0-working"):
            assert f'name="{name}"' in page, name
        assert "测绘面积(㎡)" in page and "按实测" in page         # label and hint
        assert "仅当「补偿方式意愿」为「产权调换」时填写" in page
        data = {"csrf_token": csrf(client, "/households/new"), "action": "save",
                "house_no": "B-0042", "zone": "西关", "address": "西关街3号",
                "structure": "brick_wood", "floors": "2", "surveyed_area": "48.5",
                "owner_name": "王芳", "compensation_mode": "swap",
                "preferred_flat_size": "90", "hardship": ["disability"],
                "disability_grade": "2",
                "m-0-id": "", "m-0-name": "王芳", "m-0-relation": "head", "m-0-age": "41",
                "m-0-id_no": "11010519491231002X",
                "m-0-working": "yes"}
        bad = client.post("/households/new", data={**data, "house_no": "b42"})
        assert bad.status_code == 422                        # the imported regex holds
        hid = saved_id(client.post("/households/new", data=data))
        h = reg.get("household", hid)
        assert (h["house_no"], h["floors"], h["surveyed_area"]) == ("B-0042", 2, 48.5)
        assert (h["preferred_flat_size"], h["disability_grade"]) == (90, "2")
        assert h["hardship"] == ["disability"]
        (member,) = reg.children("member", hid)
        assert (member["name"], member["age"], member["working"]) == ("王芳", 41, "yes")
        dossier = client.get(f"/households/{hid}").text
        assert "B-0042" in dossier
    finally:
        reg.close()


def test_finding_lines_name_sheet_row_and_column():
    with pytest.raises(XLSFormError) as caught:
        import_xlsform(form([*BASE, {"type": "time", "name": "q"}]))
    line = next(f.line() for f in caught.value.findings if f.refused)
    assert re.match(r"^survey row 3, type: refused: type 'time' \(.+\)$", line)
