"""Hardship care: the list, help planned and given, the progress page showing it first, the
priority in selection, and nothing of it on the public site."""

import datetime as dt
import json
import sqlite3

import pytest
from anju.registry.completion import care
from anju.registry.completion import selection as sel
from anju.registry.core import settings as settings_mod
from anju.registry.publication.publish import publish

from tests.collector_helpers import csrf, login, make_app
from tests.test_completion import signed_household, today


def hardship_households(registry, mode="money"):
    a = signed_household(registry, "H-0001", mode, hardship=["dibao"], cadre="王干部")
    b = signed_household(registry, "H-0002", mode, hardship=["elderly_alone", "disability"],
                         disability_grade="2")
    c = signed_household(registry, "H-0003", mode)  # no hardship
    return a, b, c


def test_the_care_list_holds_every_hardship_household_and_its_help(registry):
    a, b, c = hardship_households(registry)
    rows = care.care_list(registry)
    assert {r["household_id"] for r in rows} == {a, b}
    assert all(not r["helps"] for r in rows)
    late = care.plan_help(registry, a, kind="visit", planned_on=str(today() - dt.timedelta(3)),
                          cadre="王干部", by="boss")
    care.plan_help(registry, b, kind="transition_flat", planned_on=str(today()), cadre="李干部",
                   by="boss")
    rows = care.care_list(registry)
    assert rows[0]["household_id"] == a and rows[0]["overdue"] == 1  # overdue first
    assert care.summary(registry) == {"households": 2, "helped": 0, "nothing": 0, "overdue": 1,
                                      "transition_flats": 0}
    care.mark_done(registry, late, done_on=str(today()), by="boss", note="送去米面油")
    [help_a] = care.helps(registry, a)
    assert help_a["done_on"] == str(today()) and help_a["note"] == "送去米面油"
    assert care.summary(registry)["helped"] == 1
    with pytest.raises(care.CareError, match="已登记完成"):
        care.mark_done(registry, late, done_on=str(today()), by="boss")
    with pytest.raises(care.CareError, match="不是困难群体"):
        care.plan_help(registry, c, kind="visit", planned_on=str(today()), cadre="x", by="boss")
    with pytest.raises(care.CareError, match="负责干部"):
        care.plan_help(registry, a, kind="visit", planned_on=str(today()), cadre=" ", by="b")
    with pytest.raises(care.CareError, match="帮扶事项"):
        care.plan_help(registry, a, kind="cash", planned_on=str(today()), cadre="x", by="b")


def test_the_progress_page_shows_hardship_first_and_the_care_page_works(registry):
    a, b, c = hardship_households(registry)
    client = make_app(registry).test_client()
    login(client, "boss")
    page = client.get("/progress").text
    assert page.index("困难群体进度") < page.index("各片区签约进度")
    assert page.index("困难群体进度") < page.index("异议待答复")
    token = csrf(client, "/care")
    r = client.post(f"/care/{a}/plan", data={"csrf_token": token, "kind": "moving_help",
                                             "planned_on": str(today()), "cadre": "王干部"},
                    follow_redirects=True)
    assert "已登记帮扶计划" in r.text and "协助搬家" in r.text
    box = client.get(f"/households/{a}").text
    assert 'id="care"' in box and "协助搬家" in box
    assert 'id="care"' not in client.get(f"/households/{c}").text
    r = client.post(f"/care/{a}/plan", data={"csrf_token": token, "kind": "moving_help",
                                             "planned_on": "明天", "cadre": "王干部"},
                    follow_redirects=True)
    assert "计划日期格式应为" in r.text
    # Surveyors do not see the list.
    other = make_app.__globals__["create_app"](registry.path, {"TESTING": True,
                                                              "SECRET_KEY": "test"})
    surveyor = other.test_client()
    login(surveyor, "li")
    assert surveyor.get("/care").status_code == 403


def test_hardship_priority_comes_from_the_settings(registry):
    a, b, c = hardship_households(registry, "swap")
    settings_mod.set_value(registry, "selection_priority", "hardship")
    with pytest.raises(settings_mod.SettingsError):
        settings_mod.set_value(registry, "selection_priority", "everyone")
    sel.fix_order(registry, rule="signing", by="boss")
    [order] = sel.orders(registry)
    assert order["priority"] == "hardship"
    assert set(order["households"][:2]) == {a, b} and order["households"][2] == c


def test_no_care_data_reaches_the_public_site(registry, tmp_path):
    a, b, _ = hardship_households(registry)
    care.plan_help(registry, a, kind="subsidy", planned_on=str(today()), cadre="王干部",
                   by="boss", note="低保户 困难补助")
    out = tmp_path / "public.db"
    publish(registry, out)
    conn = sqlite3.connect(out)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master "
                                             "WHERE type = 'table'")]
        assert not any("care" in t for t in tables)
        for t in tables:
            text = json.dumps(conn.execute(f"SELECT * FROM [{t}]").fetchall(),
                              ensure_ascii=False, default=str)
            assert "王干部" not in text and "困难补助" not in text, t
    finally:
        conn.close()
