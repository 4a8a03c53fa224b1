"""The survey definition: the default one loads; malformed ones name the field and problem."""

import pytest
from anju.registry.core.definition import DefinitionError, is_relevant, load, parse

MINIMAL = """
records:
  household:
    fields:
{fields}
"""


def _parse(fields: str):
    return parse(MINIMAL.format(fields=fields))


def test_default_definition_covers_the_domain():
    d = load()
    household = d.record("household")
    for name in ("house_no", "zone", "address", "property_cert_no", "structure", "year_built",
                 "cert_area", "surveyed_area", "unregistered_area", "owner_name", "owner_id_no",
                 "owner_phone", "hardship", "compensation_mode", "status", "location"):
        assert household.has(name), name
    types = {f.type for r in d.records.values() for f in r.fields}
    assert types == {"text", "integer", "decimal", "date", "select_one", "select_multiple",
                     "geopoint", "resident_id", "phone", "repeat", "attachment"}
    assert household.field("members").record == "member"
    assert household.field("owner_name").publish == "masked"
    assert household.field("owner_id_no").publish == "never"
    assert d.record("member").parent == "household"


@pytest.mark.parametrize("fields, words", [
    ("      - {name: a, type: colour}", ["household.a", "unknown type 'colour'"]),
    ("      - {name: a, type: text, publish: shout}", ["household.a", "publish"]),
    ("      - {name: a, type: select_one}", ["household.a", "choices"]),
    ("      - {name: a, type: phone, publish: plain}", ["household.a", "never published"]),
    ("      - {name: a, type: text, constraint: {pattern: '('}}", ["household.a", "pattern"]),
    ("      - {name: a, type: text, relevant: {field: b, equals: 1}}", ["household.a", "'b'"]),
    ("      - {name: Bad, type: text}", ["household.Bad", "lowercase"]),
    ("      - {name: id, type: text}", ["household.id", "reserved"]),
    ("      - {name: a, type: text}\n      - {name: a, type: text}", ["household.a", "twice"]),
    ("      - {name: a, type: text, colour: red}", ["household.a", "colour"]),
    ("      - {name: a, type: repeat}", ["household.a", "record"]),
])
def test_malformed_definition_names_field_and_problem(fields, words):
    with pytest.raises(DefinitionError) as err:
        _parse(fields)
    for word in words:
        assert word in str(err.value)


def test_not_yaml_and_no_household():
    with pytest.raises(DefinitionError, match="YAML"):
        parse("records: [unclosed")
    with pytest.raises(DefinitionError, match="household"):
        parse("records:\n  member:\n    fields:\n      - {name: a, type: text}\n")


def test_relevant_conditions():
    d = load()
    grade = d.record("household").field("disability_grade")
    assert is_relevant(grade, {"hardship": ["dibao", "disability"]})
    assert not is_relevant(grade, {"hardship": ["dibao"]})
    assert not is_relevant(grade, {})
    size = d.record("household").field("preferred_flat_size")
    assert is_relevant(size, {"compensation_mode": "swap"})
    assert not is_relevant(size, {"compensation_mode": "money"})


# The core contract: the fields the code reads by name, and anju's own system records.

def _default_raw() -> dict:
    import yaml
    from anju.registry.core.definition import DEFAULT_PATH
    return yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))


def _dump(raw: dict) -> str:
    import yaml
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)


def _required_pairs():
    from anju.registry.core.contract import REQUIRED
    return [(r, f) for r, fields in REQUIRED.items() for f in fields]


@pytest.mark.parametrize("record, name", _required_pairs())
def test_a_survey_without_a_field_the_code_reads_is_refused_naming_it(record, name):
    raw = _default_raw()
    fields = raw["records"][record]["fields"]
    raw["records"][record]["fields"] = [f for f in fields if f["name"] != name]
    # A relevant condition pointing at the dropped field would be refused for another reason.
    for f in raw["records"][record]["fields"]:
        if (f.get("relevant") or {}).get("field") == name:
            f.pop("relevant")
    with pytest.raises(DefinitionError) as err:
        parse(_dump(raw))
    assert f"{record}.{name}" in str(err.value)


def test_a_field_of_the_wrong_type_is_refused():
    raw = _default_raw()
    for f in raw["records"]["household"]["fields"]:
        if f["name"] == "cert_area":
            f["type"] = "text"
            f.pop("precision", None)
    with pytest.raises(DefinitionError, match=r"household\.cert_area.*decimal"):
        parse(_dump(raw))


def test_the_status_list_keeps_the_workflow():
    raw = _default_raw()
    for f in raw["records"]["household"]["fields"]:
        if f["name"] == "status":
            f["choices"] = [c for c in f["choices"] if c["value"] != "signed"]
    with pytest.raises(DefinitionError, match="household.status.*signed"):
        parse(_dump(raw))


def test_system_records_come_from_anju_not_the_survey():
    raw = _default_raw()
    assert "agreement" not in raw["records"] and "decision" not in raw["records"]
    d = parse(_dump(raw))
    assert d.record("agreement").has("breakdown") and d.record("decision").has("flag_key")
    # A survey that tries to redefine an agreement gets anju's own definition.
    raw["records"]["agreement"] = {"parent": "household",
                                   "fields": [{"name": "total", "type": "text"}]}
    d2 = parse(_dump(raw))
    assert d2.record("agreement").field("total").type == "decimal"
    assert d2.record("agreement").has("number")


def test_anju_init_refuses_a_survey_without_cadre(tmp_path):
    from anju.registry.cli import main
    from click.testing import CliRunner
    raw = _default_raw()
    raw["records"]["household"]["fields"] = [f for f in raw["records"]["household"]["fields"]
                                             if f["name"] != "cadre"]
    survey = tmp_path / "survey.yaml"
    survey.write_text(_dump(raw), encoding="utf-8")
    result = CliRunner().invoke(main, ["init", str(tmp_path / "r.db"), "--central", "--project",
                                       "p", "--survey", str(survey)])
    assert result.exit_code == 2
    assert "household.cadre" in result.output
    assert not (tmp_path / "r.db").exists()
