"""Random and hostile form data against every form of the collector: wrong types, huge strings,
script tags, unknown fields, broken member keys, missing CSRF tokens. Never a server error, never
markup echoed unescaped, and nothing written by a refused post."""

import re
import uuid

import pytest
from anju.registry.core.store import Registry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.collector_helpers import FORM, csrf, login, make_app

MARKERS = ("<script>alert('anju-xss')</script>", '"><img src=x onerror=anjuxss()>',
           "'><svg onload=anjuxss()>")
HOSTILE = st.sampled_from([*MARKERS, "", " ", "0", "-1", "1e309", "NaN", "9" * 400, "1.5",
                           "2024-02-30", "99999-01-01", "[\"dibao\"]", "{}", "null", "\x00",
                           "A" * 100_000, "../../etc/passwd", "11010519491231002X", "%s%n",
                           "m-1-name", "☃" * 50])
VALUE = st.one_of(HOSTILE, st.text(max_size=60), st.integers().map(str),
                  st.lists(HOSTILE, max_size=3))
FIELD_NAMES = st.sampled_from([*FORM, "hardship", "disability_grade", "location", "floors",
                               "cert_area", "survey_date", "owner_phone", "status", "deleted",
                               "household_id", "removed_member", "m-0-id", "m-99999-name",
                               "m--1-name", "m-1-unknown", "m-0-household_id", "__proto__",
                               "action", "visit_id", "outcome", "visit_date", "note", "reason",
                               "field", "q", "page", "zone", "cadre", "changed"])
ACTION = st.sampled_from(["save", "add_member", "remove_member-0", "remove_member-x",
                          "remove_member-", "bogus"])
FORM_DATA = st.dictionaries(st.one_of(FIELD_NAMES, st.text(min_size=1, max_size=12)), VALUE,
                            max_size=12)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    reg = Registry.create(tmp_path_factory.mktemp("fuzz") / "registry.db", project="fuzz",
                          role="central", device_name="central")
    app = make_app(reg)
    client = app.test_client()
    login(client, "boss")
    hid = reg.save("household", None, {k: v for k, v in FORM.items() if not k.startswith(
        ("m-", "action"))}, by="boss", full=True)
    yield reg, client, hid, csrf(client, "/households/new")
    reg.close()


def check(response):
    assert response.status_code < 500, response.text[:500]
    text = response.get_data(as_text=True)
    for marker in MARKERS:
        assert marker not in text
    assert not re.search(r"<(img|svg)\b[^>]*on(error|load)=anjuxss", text)


def snapshot(reg):
    return reg.conn.execute("SELECT COUNT(*), MAX(seq) FROM change").fetchone()


FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@FUZZ
@given(data=FORM_DATA, action=ACTION, with_token=st.booleans(), base=st.booleans())
def test_household_forms(setup, data, action, with_token, base):
    reg, client, hid, token = setup
    body = {**(FORM if base else {}), **data, "action": action}
    if with_token:
        body["csrf_token"] = token
    else:
        body.pop("csrf_token", None)
    before = snapshot(reg)
    for path in ("/households/new", f"/households/{hid}/edit"):
        response = client.post(path, data=body)
        check(response)
        if not with_token:
            assert response.status_code == 400 and "表单已失效" in response.text
    if not with_token:
        assert snapshot(reg) == before


@FUZZ
@given(data=FORM_DATA, with_token=st.booleans())
def test_visit_status_delete_and_upload_forms(setup, data, with_token):
    reg, client, _, token = setup
    # a throwaway household, so a fuzzed deletion does not end the other examples
    # (house numbers are unique in the store: each throwaway household gets its own)
    target = reg.save("household", None, {"house_no": f"Z-{uuid.uuid4().hex[:8]}", "zone": "z",
                                          "address": "a", "structure": "simple",
                                          "owner_name": "王五"},
                      by="boss", full=True)
    body = dict(data, csrf_token=token) if with_token else data
    before = snapshot(reg)
    for path in (f"/households/{target}/visits/new", f"/households/{target}/status",
                 f"/households/{target}/delete", f"/households/{target}/attachments"):
        check(client.post(path, data=body))
    if not with_token:
        assert snapshot(reg) == before


@FUZZ
@given(params=st.dictionaries(FIELD_NAMES, st.one_of(HOSTILE, st.text(max_size=30)),
                              max_size=6))
def test_list_search_and_pages(setup, params):
    _, client, hid, _ = setup
    check(client.get("/households", query_string=params))
    check(client.get(f"/households/{hid}", query_string=params))
