"""Full-width digits and letters typed with a Chinese input method into ID, phone and number
fields are converted on the form side (the browser converts as typed; the server again)."""

from __future__ import annotations

import pytest
from anju.collector.forms import from_post
from anju.registry.core.definition import load
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from tests.collector_helpers import FORM, csrf, login, make_app, saved_id

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def full(text: str) -> str:
    """The oracle: ASCII ! to ~ shifted to the full-width block (U+FF01 to U+FF5E)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def resident_id(body: str) -> str:
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS)) % 11]
    return body + check


@pytest.fixture
def client(registry):
    c = make_app(registry).test_client()
    login(c)
    return c


def test_full_width_id_and_phone_are_saved_half_width(client, registry):
    member_id = "11010519491231002X"
    form = {**FORM, "owner_id_no": full(resident_id("11010519491231002")),
            "owner_phone": "１３８　００１３－８０００", "floors": "２",
            "m-0-id_no": full(member_id.lower()),
            "csrf_token": csrf(client, "/households/new")}
    hid = saved_id(client.post("/households/new", data=form))
    row = registry.get("household", hid)
    assert row["owner_id_no"] == resident_id("11010519491231002")
    assert row["owner_phone"] == "13800138000"
    assert row["floors"] == 2
    [member] = registry.children("member", hid)
    assert member["id_no"] == member_id


DEFINITION = load()


@given(body=st.text("0123456789", min_size=17, max_size=17),
       mask=st.lists(st.booleans(), min_size=18, max_size=18))
def test_any_mix_of_full_and_half_width_reads_the_same(body, mask):
    value = resident_id(body)
    typed = "".join(full(c) if m else c for c, m in zip(value, mask))
    data = from_post(DEFINITION, MultiDict({"owner_id_no": typed, "m-0-id_no": typed,
                                                     "m-0-id": ""}), {}, lambda _: False)
    assert data.household["owner_id_no"] == value
    assert data.members[0]["id_no"] == value


def test_text_fields_keep_what_was_typed(registry):
    data = from_post(registry.definition, MultiDict({"owner_name": "张伟（Ａ）",
                                                     "address": "东关街１２号"}), {},
                     lambda _: False)
    assert data.household["owner_name"] == "张伟（Ａ）"
    assert data.household["address"] == "东关街１２号"
