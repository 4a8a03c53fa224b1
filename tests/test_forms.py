"""The household form generated from the survey definition: every field type, member rows added
and removed without losing input (no JavaScript), inline errors with input kept, relevance, one
transaction per save, follow-up edits by id."""

import re

import pytest
from anju.registry.core.definition import FIELD_TYPES

from tests.collector_helpers import CSRF_RE, FORM, errors_of, login, make_app, post_form, saved_id


@pytest.fixture
def client(registry):
    c = make_app(registry).test_client()
    login(c)
    return c


def count(reg, table, deleted=False):
    cond = "" if deleted else " WHERE deleted IS NULL"
    return reg.conn.execute(f"SELECT COUNT(*) FROM {table}{cond}").fetchone()[0]


def test_form_has_an_input_for_every_field_of_the_definition(registry, client):
    page = client.get("/households/new").text
    household = registry.definition.record("household")
    for f in household.columns:
        if f.name == "status":
            assert 'name="status"' not in page  # moves only through the workflow
            continue
        assert f'name="{f.name}"' in page, f.name
    assert {f.type for f in household.fields} == FIELD_TYPES  # the survey uses every type
    assert page.count('type="checkbox" name="hardship"') == 5          # select_multiple
    assert 'type="date" name="survey_date"' in page                     # date
    assert 'inputmode="decimal"' in page and 'inputmode="numeric"' in page
    assert 'type="tel" name="owner_phone"' in page                      # phone
    assert 'class="geo" data-target="location"' in page                 # geopoint button
    assert 'name="m-0-name"' in page and 'name="m-0-id_no"' in page     # one member row
    assert "data-relevant='{\"contains\": \"disability\", \"field\": \"hardship\"}'" in page
    assert "仅当「困难类型」为「残疾」时填写" in page
    assert '<option value="东关片区A地块">' not in page  # no zones configured: no suggestions


def test_save_household_with_members_and_every_type(registry, client):
    data = dict(FORM, **{
        "year_built": "1988", "floors": "2", "cert_area": "56.456", "hardship": ["dibao",
                                                                                 "disability"],
        "disability_grade": "2", "survey_date": "2024-05-01", "location": "36.65, 117.01",
        "owner_phone": "138 0013 8000", "compensation_mode": "money",
        "preferred_flat_size": "90",  # not relevant for money: ignored
        "m-1-id": "", "m-1-name": "李娜", "m-1-id_no": "440524188001010014",
        "m-1-relation": "spouse", "m-1-registered_on": "2001-02-03",
        "m-2-id": "", "m-2-name": "", "m-2-id_no": "", "m-2-relation": "",  # blank row: skipped
    })
    hid = saved_id(post_form(client, data))
    h = registry.get("household", hid)
    assert h["year_built"] == 1988 and h["cert_area"] == 56.46
    assert h["hardship"] == ["dibao", "disability"] and h["disability_grade"] == "2"
    assert h["location"] == "36.650000,117.010000" and h["owner_phone"] == "13800138000"
    assert h["preferred_flat_size"] is None and h["status"] == "unsurveyed"
    members = registry.children("member", hid)
    assert [(m["name"], m["relation"]) for m in members] == [("张伟", "head"), ("李娜", "spouse")]
    assert registry.conn.execute("SELECT COUNT(*) FROM change").fetchone()[0] == 3


def test_wrong_id_check_character_shown_inline_with_input_kept(registry, client):
    data = dict(FORM, **{"m-0-id_no": "110105194912310021", "owner_name": "张伟<b>",
                         "address": "东关街12号 保留"})
    r = post_form(client, data)
    assert r.status_code == 422
    errors = errors_of(r.text)
    assert errors["m-0-id_no"] == "身份证号校验位错误"
    assert errors["owner_name"] == "姓名应为2-40个汉字或字母"
    assert 'value="110105194912310021"' in r.text and 'value="东关街12号 保留"' in r.text
    assert 'value="张伟&lt;b&gt;"' in r.text and "张伟<b>" not in r.text
    assert count(registry, "household") == 0 and count(registry, "member") == 0  # nothing saved
    english = client.post("/households/new?lang=en", data={
        "csrf_token": CSRF_RE.search(r.text).group(1), **data})
    assert errors_of(english.text)["m-0-id_no"] == "Wrong check character in the resident ID"
    client.get("/households?lang=zh")


def test_required_and_relevant_fields(registry, client):
    r = post_form(client, {"action": "save", "hardship": "disability"})
    errors = errors_of(r.text)
    for name in ("house_no", "zone", "address", "structure", "owner_name", "disability_grade"):
        assert errors[name] == "必填项", name
    assert "m-0-name" not in errors  # an empty member row is no member
    assert r.text.count('checked') == 1  # the ticked hardship stays ticked
    r = post_form(client, dict(FORM, hardship="dibao"))  # grade not relevant: not required
    assert registry.get("household", saved_id(r))["disability_grade"] is None


def test_duplicate_house_number_refused(registry, client):
    saved_id(post_form(client, FORM))
    r = post_form(client, dict(FORM, **{"m-0-id_no": "440524188001010014"}))
    assert errors_of(r.text)["house_no"] == "该房屋编号已有另一户使用"


def test_member_rows_added_and_removed_without_javascript(registry, client):
    data = dict(FORM, action="add_member")
    r = post_form(client, data)
    assert r.status_code == 200 and 'name="m-1-name"' in r.text
    assert 'value="11010519491231002X"' in r.text and 'value="东关街12号"' in r.text
    data = dict(FORM, **{"m-1-id": "", "m-1-name": "李娜", "m-1-id_no": "440524188001010014",
                         "m-1-relation": "spouse", "action": "remove_member-0"})
    r = post_form(client, data)
    assert 'name="m-0-name"' not in r.text and 'value="李娜"' in r.text
    assert count(registry, "household") == 0  # nothing saved by either button


def test_follow_up_edit_updates_same_records_and_removal_is_a_tombstone(registry, client):
    data = dict(FORM, **{"m-1-id": "", "m-1-name": "李娜", "m-1-id_no": "440524188001010014",
                         "m-1-relation": "spouse"})
    hid = saved_id(post_form(client, data))
    head, spouse = registry.children("member", hid)
    page = client.get(f"/households/{hid}/edit").text
    assert f'value="{head["id"]}"' in page and 'value="李娜"' in page
    # without JavaScript: the remove button posts back, the row goes, its id is kept as removed
    form = {"house_no": "A-0001", "zone": "东关片区A地块", "address": "东关街88号",
            "structure": "brick_concrete", "owner_name": "张伟",
            "m-0-id": head["id"], "m-0-name": "张伟", "m-0-id_no": "11010519491231002X",
            "m-0-relation": "head", "m-0-registered_on": "1990-01-01",
            "m-1-id": spouse["id"], "m-1-name": "李娜", "m-1-id_no": "440524188001010014",
            "m-1-relation": "spouse", "action": "remove_member-1"}
    r = post_form(client, form, f"/households/{hid}/edit")
    assert f'name="removed_member" value="{spouse["id"]}"' in r.text
    form = {k: v for k, v in form.items() if not k.startswith("m-1-")}
    form.update(action="save", removed_member=spouse["id"])
    assert saved_id(post_form(client, form, f"/households/{hid}/edit")) == hid
    assert registry.get("household", hid)["address"] == "东关街88号"
    assert count(registry, "household", deleted=True) == 1
    assert registry.get("member", head["id"])["registered_on"] == "1990-01-01"
    assert registry.get("member", spouse["id"])["deleted"]  # tombstone, row kept
    assert [m["id"] for m in registry.children("member", hid)] == [head["id"]]
    # only the changed fields are new changes
    last = registry.changes_of(head["id"])[-1]
    assert last.fields == {"registered_on": "1990-01-01"}


def test_member_id_of_another_household_is_not_taken_over(registry, client):
    other = saved_id(post_form(client, dict(FORM, **{"house_no": "Z-9"})))
    (theirs,) = registry.children("member", other)
    form = dict(FORM, **{"house_no": "Z-10", "m-0-id": theirs["id"], "m-0-name": "王五"})
    mine = saved_id(post_form(client, form))
    assert registry.get("member", theirs["id"])["name"] == "张伟"
    assert registry.get("member", theirs["id"])["household_id"] == other
    assert [m["name"] for m in registry.children("member", mine)] == ["王五"]


def test_posting_the_same_new_form_twice_saves_one_household(registry, client):
    page = client.get("/households/new").text
    hid = re.search(r'name="household_id" value="([^"]+)"', page).group(1)
    mid = re.search(r'name="m-0-id" value="([^"]+)"', page).group(1)
    page = post_form(client, dict(FORM, household_id=hid, action="add_member")).text
    second = re.search(r'name="m-1-id" value="([^"]+)"', page).group(1)
    data = dict(FORM, **{"household_id": hid, "m-0-id": mid, "m-1-id": second,
                         "m-1-name": "李娜", "m-1-id_no": "440524188001010014",
                         "m-1-relation": "spouse"})
    assert saved_id(post_form(client, data)) == hid
    post_form(client, data)  # a double click, or a retry after a lost answer
    assert count(registry, "household") == 1
    assert sorted(m["id"] for m in registry.children("member", hid)) == sorted([mid, second])


def test_a_posted_id_of_another_record_is_not_reused(registry, client):
    hid = saved_id(post_form(client, dict(FORM, house_no="Z-1")))
    (member,) = registry.children("member", hid)
    # a "new" household posted with a member's id, and a member row with the household's id
    data = dict(FORM, **{"house_no": "Z-2", "household_id": member["id"], "m-0-id": hid})
    new = saved_id(post_form(client, data))
    assert new not in (member["id"], hid)
    assert registry.get("member", member["id"])["household_id"] == hid
    assert registry.get("household", hid)["house_no"] == "Z-1"
    assert [m["id"] != hid for m in registry.children("member", new)] == [True]
