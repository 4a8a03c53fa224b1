"""Validators: resident IDs, phones, areas, dates, choices, required and relevant."""

import datetime as dt

import pytest
from anju.registry.core.definition import load
from anju.registry.core.validation import (
    check_resident_id,
    id_check_char,
    is_legacy_id,
    localize,
    validate,
)
from marshmallow import ValidationError

D = load()
OK_HOUSEHOLD = {"house_no": "A-1", "zone": "一区", "address": "东街1号",
                "structure": "simple", "owner_name": "张伟"}


def codes(record, data, **kw):
    return validate(D, record, data, **kw)[1]


@pytest.mark.parametrize("good", ["11010519491231002X", "440524188001010014"])
def test_domain_examples_are_valid(good):
    assert check_resident_id(good) == good


def test_lowercase_x_is_accepted_and_normalised():
    assert check_resident_id("11010519491231002x") == "11010519491231002X"


@pytest.mark.parametrize("bad, code", [
    ("110105194912310021", "id_check"),      # wrong check character
    ("110105194902300028", "id_birth"),      # 30 February
    ("11010519491231002", "id_length"),      # 17 characters
    ("1101051949123100211", "id_length"),    # 19 characters
    ("11010519491231002Y", "id_chars"),
    ("X10105194912310021", "id_chars"),
    ("110105299912310021", "id_birth"),      # born in the future
])
def test_bad_resident_ids(bad, code):
    with pytest.raises(ValidationError) as err:
        check_resident_id(bad)
    assert err.value.messages == [code]


def test_old_fifteen_digit_form_is_accepted_and_marked():
    assert check_resident_id("110105491231002") == "110105491231002"
    assert is_legacy_id("110105491231002")
    assert not is_legacy_id("11010519491231002X")
    with pytest.raises(ValidationError):
        check_resident_id("110105491331002")  # month 13


def test_check_character_computation():
    assert id_check_char("11010519491231002") == "X"
    assert id_check_char("44052418800101001") == "4"


@pytest.mark.parametrize("phone, ok", [("13812345678", True), ("138 1234 5678", True),
                                       ("12812345678", False), ("1381234567", False),
                                       ("23812345678", False)])
def test_phone(phone, ok):
    errors = codes("household", {"owner_phone": phone}, partial=True)
    assert ("owner_phone" not in errors) == ok


@pytest.mark.parametrize("area, code", [("-1", "min|0"), ("100001", "max|100000"),
                                        ("abc", "invalid_decimal"), ("nan", "invalid_decimal")])
def test_area_bounds(area, code):
    assert codes("household", {"cert_area": area}, partial=True) == {"cert_area": [code]}


def test_area_rounded_half_up_to_precision():
    clean, errors = validate(D, "household", {"cert_area": "12.345"}, partial=True)
    assert not errors and clean["cert_area"] == 12.35


def test_dates_not_in_future():
    # the later of this machine's day and the project's (Beijing, UTC+8) day, plus one
    beijing = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).date()
    tomorrow = str(max(dt.date.today(), beijing) + dt.timedelta(days=1))
    assert codes("household", {"survey_date": tomorrow}, partial=True) == {
        "survey_date": ["future_date"]}
    assert codes("household", {"survey_date": "2024-02-30"}, partial=True) == {
        "survey_date": ["invalid_date"]}
    assert codes("household", {"survey_date": str(dt.date.today())}, partial=True) == {}


def test_choices_and_unknown_fields():
    assert codes("household", {"structure": "marble"}, partial=True) == {"structure": ["choice"]}
    assert codes("household", {"hardship": ["dibao", "rich"]}, partial=True) == {
        "hardship": ["choice"]}
    assert codes("household", {"colour": "red"}, partial=True) == {"colour": ["unknown_field"]}


def test_required_fields_of_a_whole_record():
    assert codes("household", OK_HOUSEHOLD) == {}
    missing = codes("household", {**OK_HOUSEHOLD, "owner_name": " ", "zone": None})
    assert missing == {"owner_name": ["required"], "zone": ["required"]}


def test_relevant_field_required_only_when_relevant_and_dropped_otherwise():
    errors = codes("household", {**OK_HOUSEHOLD, "hardship": ["disability"]})
    assert errors == {"disability_grade": ["required"]}
    clean, errors = validate(D, "household", {**OK_HOUSEHOLD, "hardship": ["dibao"],
                                              "disability_grade": "2"})
    assert not errors and clean["disability_grade"] is None


def test_messages_in_chinese_and_english():
    errors = codes("member", {"name": "李", "id_no": "110105194912310021", "relation": "head",
                              "household_id": "h"})
    zh, en = localize(errors, "zh"), localize(errors, "en")
    assert zh["id_no"] == "身份证号校验位错误"
    assert en["id_no"] == "Wrong check character in the resident ID"
    assert "姓名" in zh["name"]


def test_hostile_values_do_not_crash():
    for value in (None, [], {}, 1e308, "<script>", "\x00", True, ["a"] * 3):
        clean, errors = validate(D, "household", {"floors": value, "house_no": value},
                                 partial=True)
        assert isinstance(errors, dict)
