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
