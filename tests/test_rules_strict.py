"""The strict rules loader: repeated keys refused, every date checked, suspicious rules warned
about (shown, not blocking) on the command line and in the web editor."""

from __future__ import annotations

import calendar
import datetime as dt
import subprocess
import sys

import pytest
from anju.collector import create_app
from anju.registry.compensation import calculation as comp
from anju.registry.compensation import rules as rules_mod
from anju.registry.core.users import add_user
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.collector_helpers import CSRF_RE
from tests.collector_helpers import login as login_as

TEXT = comp.default_rules_text()
ZONE_LINE = ("  西门片区: {steel_concrete: 10500, brick_concrete: 9900, brick_wood: 9000, "
             "simple: 6000}\n")


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(comp.RulesError) as caught:
        comp.parse_rules(text)
    return caught.value.lines("en")


def test_the_example_rules_load_without_warnings():
    assert rules_mod.rule_warnings(comp.parse_rules(TEXT)) == []


def test_a_leftover_second_zone_line_is_refused_with_its_key_and_line():
    assert ZONE_LINE in TEXT
    text = TEXT.replace(ZONE_LINE, ZONE_LINE + "  西门片区: {simple: 1}\n")
    line = text.splitlines().index("  西门片区: {simple: 1}") + 1
    [(key, why)] = problems(text)
    assert key == "unit_prices.西门片区" and f"line {line}" in why and "repeated" in why


def test_a_second_moving_section_is_refused():
    [(key, why)] = problems(TEXT + "\nmoving:\n  rate: 0\n")
    assert key == "moving" and "repeated" in why


def test_repeated_keys_inside_a_list_item_are_refused():
    text = TEXT.replace("{code: F60, label:", "{code: F60, area: 61, label:")
    [(key, _)] = problems(text)
    assert key == "flats[0].area"


def test_an_impossible_date_names_its_key():
    text = TEXT.replace("  # start: 2026-10-01", "  start: 2026-02-30")
    assert problems(text) == [("incentive.start", "must be a date YYYY-MM-DD")]
    text = TEXT.replace('version: "2026-1"', 'version: "2026-1"\neffective_from: 2026-13-01')
    assert problems(text) == [("effective_from", "must be a date YYYY-MM-DD")]


@settings(max_examples=60, deadline=None)
@given(year=st.integers(1900, 2100), month=st.integers(0, 14), day=st.integers(0, 35))
def test_every_date_is_checked(year, month, day):
    text = TEXT.replace("  # start: 2026-10-01", f"  start: {year:04d}-{month:02d}-{day:02d}")
    valid = 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]
    if valid:
        assert comp.parse_rules(text).data["incentive"]["start"] == str(dt.date(year, month, day))
    else:
        assert problems(text) == [("incentive.start", "must be a date YYYY-MM-DD")]


def warnings_of(text: str, settings: dict | None = None) -> set[tuple[str, str]]:
    return set(rules_mod.rule_warnings(comp.parse_rules(text), None, settings))


@pytest.mark.parametrize(("old", "new", "warning"), [
    # a zone missing a structure price: 53 houses could not be signed
    (" simple: 6000}", "}", ("unit_prices.西门片区.simple", "no_price")),
    ("simple: 5600}", "simple: 0}", ("unit_prices.东关片区A地块.simple", "zero_price")),
    ("amount: 30000}", "amount: 30000.005}", ("incentive.tiers[0].amount", "fen")),
    ("rate: 12 ", "rate: 12.001 ", ("moving.rate", "fen")),
    ("amount: 20000}", "amount: 30001}", ("incentive.tiers[1].amount", "tier_more")),
])
def test_suspicious_rules_are_warned_about(old, new, warning):
    assert old in TEXT
    assert warnings_of(TEXT.replace(old, new)) == {warning}


@pytest.mark.parametrize(("old", "new"), [
    ("simple: 5600}", "simple: 0.01}"),              # a small price, not zero
    ("amount: 30000}", "amount: 30000.01}"),          # to the fen exactly
    ("amount: 20000}", "amount: 30000}"),             # the same as the tier before
    ("unregistered_share: 0.5 ", "unregistered_share: 0.125 "),  # a share, not money
])
def test_near_misses_are_not_warned_about(old, new):
    assert old in TEXT
    assert warnings_of(TEXT.replace(old, new)) == set()


def test_a_zone_of_the_settings_without_prices_is_warned_about():
    assert warnings_of(TEXT, {"zones": [{"name": "新区"}, {"name": "西门片区"}]}) == {
        ("unit_prices.新区", "zone_missing")}


def anju(registry, *args):
    return subprocess.run([sys.executable, "-m", "anju.registry.cli", "compensation",
                           str(registry.path), *args], capture_output=True, text=True,
                          timeout=120)


def test_command_line_refuses_bad_dates_and_repeats_in_one_line(registry, tmp_path):
    for n, text in enumerate([TEXT.replace("  # start: 2026-10-01", "  start: 2026-02-30"),
                              TEXT + "\nmoving:\n  rate: 0\n"]):
        path = tmp_path / f"bad{n}.yaml"
        path.write_text(text, encoding="utf-8")
        out = anju(registry, "set", str(path))
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
        assert ("incentive.start" if n == 0 else "moving: is repeated") in out.stderr
    assert registry.meta("compensation") is None  # nothing stored
    path = tmp_path / "warn.yaml"
    path.write_text(TEXT.replace("simple: 5600}", "simple: 0}"), encoding="utf-8")
    out = anju(registry, "set", str(path))
    assert out.returncode == 0 and "warning: unit_prices.东关片区A地块.simple" in out.stderr
    assert registry.meta("compensation") is not None  # warned, but stored


def test_the_rules_editor_says_what_is_wrong_in_chinese(registry):
    add_user(registry, "boss", "secret-pass-1", "admin")
    app = create_app(registry.path, {"TESTING": True, "SECRET_KEY": "test"})
    client = app.test_client()
    login_as(client, "boss", "secret-pass-1")

    def post(text):
        page = client.get("/compensation/rules")
        token = CSRF_RE.search(page.text).group(1)
        return client.post("/compensation/rules", data={"rules": text, "csrf_token": token})

    bad = post(TEXT.replace("  # start: 2026-10-01", "  start: 2026-02-30"))
    assert bad.status_code == 400 and "incentive.start" in bad.text
    assert "日期格式应为 年-月-日" in bad.text
    repeated = post(TEXT.replace(ZONE_LINE, ZONE_LINE + "  西门片区: {simple: 1}\n"))
    assert repeated.status_code == 400 and "重复出现" in repeated.text
    assert registry.meta("compensation") is None
    saved = post(TEXT.replace("simple: 5600}", "simple: 0}"))
    assert saved.status_code == 302
    page = client.get("/compensation/rules")
    assert "单价为 0" in page.text and "不影响保存" in page.text
    assert "2026-1" in page.text  # the version list
