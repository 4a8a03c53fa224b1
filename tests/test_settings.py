"""Project settings: validation, the command line, the admin page and 包户 assignments."""

import json

import pytest
from anju.registry.cli import main
from anju.registry.core import settings
from anju.registry.core.store import StoreError
from anju.registry.core.users import add_user
from click.testing import CliRunner

from tests.collector_helpers import CSRF_RE


def test_valid_settings_are_stored_with_defaults_and_unknown_keys_kept(registry):
    registry.set_meta("settings", json.dumps({"compensation": {"rate": 3}}))
    stored = settings.save(registry, {**settings.load(registry), "freeze_date": "2025-03-01",
                                      "zones": [{"name": "西门片区", "target": "120",
                                                 "deadline": "2026-12-31"}]})
    assert stored["zones"] == [{"name": "西门片区", "code": None, "target": 120,
                                "deadline": "2026-12-31"}]
    assert stored["area_tolerance"] == 0.05 and stored["compensation"] == {"rate": 3}
    assert registry.settings == stored


@pytest.mark.parametrize("doc, where", [
    ({"zones": [{"name": "A", "target": -1}]}, "zones.0.target"),
    ({"zones": [{"name": "A", "target": 1}, {"name": "A", "target": 2}]}, "zones"),
    ({"freeze_date": "2025-02-30"}, "freeze_date"),
    ({"area_tolerance": 2}, "area_tolerance"),
    ({"teams": [{"name": "一组", "cadres": ["王芳"]}, {"name": "二组", "cadres": ["王芳"]}]},
     "teams"),
    ({"survey_start": "2025-05-01", "signing_start": "2025-04-01"}, "signing_start"),
])
def test_invalid_settings_rejected_and_nothing_written(registry, doc, where):
    before = registry.meta("settings")
    with pytest.raises(settings.SettingsError) as exc:
        settings.save(registry, doc)
    lines = settings.error_lines(exc.value.errors, "zh")
    assert lines and lines[0].startswith(where)
    assert registry.meta("settings") == before


def test_assign_households_to_a_cadre_is_a_change(registry, household):
    settings.set_team(registry, "第一工作组", ["王芳", "李强"])
    assert settings.assign(registry, "王芳", ["A-0001"], by="admin") == 1
    assert registry.get("household", household)["cadre"] == "王芳"
    assert registry.history(household)[-1]["fields"] == {"cadre": "王芳"}
    with pytest.raises(settings.SettingsError):
        settings.assign(registry, "赵六", ["A-0001"], by="admin")
    with pytest.raises(StoreError, match="Z-9"):
        settings.assign(registry, "李强", ["A-0001", "Z-9"], by="admin")
    assert registry.get("household", household)["cadre"] == "王芳"   # all or nothing
    assert settings.responsibility(registry)[0] == {"cadre": "王芳", "team": "第一工作组",
                                                    "households": 1}


def test_cli_settings(registry, household):
    db = str(registry.path)
    run = CliRunner().invoke
    assert run(main, ["settings", db, "set", "freeze_date", "2025-01-01"]).exit_code == 0
    assert run(main, ["settings", db, "zone", "add", "西门片区", "--target", "80",
                      "--deadline", "2026-09-30"]).exit_code == 0
    assert run(main, ["settings", db, "team", "一组", "王芳"]).exit_code == 0
    assert run(main, ["settings", db, "assign", "王芳", "A-0001"]).exit_code == 0
    shown = json.loads(run(main, ["settings", db, "show"]).output)
    assert shown["freeze_date"] == "2025-01-01" and shown["zones"][0]["target"] == 80
    bad = run(main, ["settings", db, "set", "freeze_date", "someday"])
    assert bad.exit_code == 2 and "freeze_date: Date must be YYYY-MM-DD" in bad.output
    bad = run(main, ["settings", db, "set", "colour", "red"])
    assert bad.exit_code == 2 and "Unknown setting" in bad.output
    bad = run(main, ["settings", db, "zone", "remove", "东门"])
    assert bad.exit_code == 2


def test_cli_check_prints_flags(registry):
    registry.save("household", None, {"house_no": "A-0001", "zone": "西门", "address": "x1",
                                      "structure": "simple", "owner_name": "张伟",
                                      "cert_area": 50, "surveyed_area": 70}, by="t", full=True)
    result = CliRunner().invoke(main, ["check", str(registry.path)])
    assert result.exit_code == 0 and "area_mismatch" in result.output


def test_settings_page(registry, household):
    from anju.collector import create_app
    add_user(registry, "root", "test-password", "admin")
    add_user(registry, "boss", "test-password", "supervisor")
    client = create_app(registry.path, {"TESTING": True, "SECRET_KEY": "t"}).test_client()

    def login(name):
        token = CSRF_RE.search(client.get("/login").text).group(1)
        client.post("/login", data={"name": name, "password": "test-password",
                                    "csrf_token": token})

    login("boss")
    assert client.get("/settings").status_code == 403
    client.get("/logout")
    login("root")
    token = CSRF_RE.search(client.get("/settings").text).group(1)
    form = {"csrf_token": token, "freeze_date": "2025-01-01", "survey_start": "",
            "signing_start": "", "area_tolerance_percent": "8",
            "zone-name-0": "西门片区", "zone-code-0": "X", "zone-target-0": "abc",
            "zone-deadline-0": "", "zone-name-1": "", "zone-code-1": "", "zone-target-1": "",
            "zone-deadline-1": "", "team-name-0": "一组", "team-cadres-0": "王芳、李强"}
    page = client.post("/settings", data=form)
    assert page.status_code == 400 and "应为整数" in page.text and 'value="abc"' in page.text
    assert registry.settings == {}
    form["zone-target-0"] = "40"
    assert client.post("/settings", data=form).status_code == 302
    stored = settings.load(registry)
    assert stored["area_tolerance"] == 0.08 and stored["teams"][0]["cadres"] == ["王芳", "李强"]
    assert stored["zones"][0]["target"] == 40
    client.post("/settings/assign", data={"csrf_token": token, "cadre": "李强",
                                          "house_nos": "A-0001"})
    assert registry.get("household", household)["cadre"] == "李强"


def test_export_warning_hours_is_a_project_setting(registry):
    from anju.registry.core.settings import SettingsError, set_value
    from anju.registry.sync.export_status import warn_hours
    set_value(registry, "export_warn_hours", "24")
    assert registry.settings["export_warn_hours"] == 24
    assert warn_hours(registry) == 24
    with pytest.raises(SettingsError):
        set_value(registry, "export_warn_hours", "0")
    assert registry.settings["export_warn_hours"] == 24
