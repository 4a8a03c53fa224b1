"""One error base: every refusal anju raises derives from AnjuError, has its own code and a
Chinese message in the catalog with English; the command line turns any of them into one plain
line and exit status 2, the web app into a page in the user's language (never a traceback)."""

from __future__ import annotations

import gettext
import importlib
import inspect
import pkgutil
from pathlib import Path

import anju.registry
import click
import pytest
from anju.registry.cli import main
from anju.registry.compensation.rules import RulesError
from anju.registry.core.definition import DefinitionError
from anju.registry.core.errors import AnjuError
from anju.registry.core.store import InvalidChange, StoreError
from anju.registry.core.workflow import WorkflowError
from anju.registry.sync.packs import PackError
from babel.messages.pofile import read_po
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.collector_helpers import login, make_app

TRANSLATIONS = Path(__file__).resolve().parents[1] / "collector" / "translations"


def _error_classes() -> list[type]:
    """Every public exception class defined in the registry package."""
    found = {}
    for info in pkgutil.walk_packages(anju.registry.__path__, "anju.registry."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, BaseException)
                    and obj.__module__ == module.__name__ and not name.startswith("_")):
                found[f"{obj.__module__}.{name}"] = obj
    return list(found.values())


def test_every_registry_error_derives_from_the_one_base():
    classes = _error_classes()
    assert len(classes) >= 15, classes
    # The CLI's Abort is click's own way to exit; everything else is a refusal for people.
    stray = [c for c in classes if not issubclass(c, AnjuError | click.ClickException)]
    assert not stray, stray
    codes = [c.code for c in classes if issubclass(c, AnjuError)]
    assert len(codes) == len(set(codes)), sorted(codes)


def test_every_error_message_is_in_the_catalog_with_english():
    with (TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        en = read_po(f, locale="en")
    for cls in [c for c in _error_classes() if issubclass(c, AnjuError)]:
        entry = en.get(cls.zh)
        assert entry is not None and entry.string, (cls, cls.zh)
        assert "%(detail)s" in entry.string


@pytest.mark.parametrize("error", [
    StoreError("locked out"), WorkflowError("cannot move"), PackError("truncated pack"),
    DefinitionError("field x: no type"), RulesError([("zones.A", "number")]),
    InvalidChange("household", {"house_no": ["required"]})])
def test_message_per_language(error):
    """Chinese by the msgid, English through the compiled catalog (stdlib gettext), and the
    raised message, which is what the command prints, unchanged in both."""
    with (TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.mo").open("rb") as f:
        english = gettext.GNUTranslations(f).gettext
    zh, en = error.for_people(), error.for_people(english)
    assert str(error) in zh and str(error) in en
    assert zh.startswith(type(error).zh.split("%")[0])
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in en.replace(str(error), ""))
    assert error.line() == str(error) and error.code.isidentifier()


def test_a_refusal_already_in_chinese_is_shown_as_it_is():
    error = StoreError("本设备无权写入此项(缺少权限:审核决定)")
    assert error.for_people() == str(error)
    assert PackError("x", "newer_schema", version=9).code == "newer_schema"


# -- the command line: one handler ------------------------------------------------------------

def _one_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("anju: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_cli_refusals_are_one_line_and_status_2(tmp_path, registry):
    bad = tmp_path / "bad.yaml"
    bad.write_text("records: [\n", encoding="utf-8")
    runner = CliRunner()
    # survey export: the definition error reaches the group's handler.
    line = _one_line(runner.invoke(main, ["survey", "export", str(bad), "--out",
                                          str(tmp_path / "f.xlsx")]))
    assert "bad.yaml" in line or "yaml" in line.lower()
    assert not (tmp_path / "f.xlsx").exists()
    # survey adopt: the same, on a real central registry, which stays as it was.
    before = registry.definition.hash
    _one_line(runner.invoke(main, ["survey", "adopt", str(registry.path), str(bad)]))
    assert registry.definition.hash == before
    # device grant on a device that does not exist: a StoreError from the registry.
    _one_line(runner.invoke(main, ["device", "grant", str(registry.path), "ghost",
                                 "--capability", "survey"]))


def test_cli_handles_any_anju_error_a_command_lets_through(monkeypatch, tmp_path):
    """A new command needs no try/except: the group turns any AnjuError into one line."""
    @main.command("boom-test", hidden=True)
    def boom() -> None:
        raise PackError("pack.anju: not a pack", "not_a_pack")
    try:
        line = _one_line(CliRunner().invoke(main, ["boom-test"]))
        assert line == "anju: pack.anju: not a pack"
    finally:
        main.commands.pop("boom-test", None)


# -- the web app: one handler -----------------------------------------------------------------

@pytest.fixture
def app(registry):
    app = make_app(registry)
    errors = {"store": StoreError, "workflow": WorkflowError, "pack": PackError,
              "definition": DefinitionError}

    @app.route("/test-refusal/<kind>")
    def refusal(kind):
        from flask import request
        raise errors[kind](request.args.get("detail", "detail"))

    return app


@pytest.mark.parametrize("kind, status", [("store", 409), ("workflow", 409), ("pack", 409),
                                          ("definition", 422)])
def test_web_refusal_is_a_page_in_the_users_language(app, kind, status):
    client = app.test_client()
    login(client)
    page = client.get(f"/test-refusal/{kind}?detail=house+A-1")
    assert page.status_code == status
    assert "无法完成" in page.text and "house A-1" in page.text and "Traceback" not in page.text
    english = client.get(f"/test-refusal/{kind}?detail=house+A-1&lang=en")
    assert english.status_code == status and "house A-1" in english.text
    body = english.text.split("<body", 1)[-1]
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in body.replace("中文", "")), body


@given(detail=st.text(min_size=1, max_size=60))
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_web_refusal_escapes_hostile_detail(app, detail):
    """Whatever the message carries (markup, quotes, percent signs), the page shows it as
    text and never fails."""
    client = app.test_client()
    login(client)
    page = client.get("/test-refusal/pack", query_string={"detail": detail})
    assert page.status_code == 409
    assert "<script>" not in page.text.split("<body", 1)[-1] or "<script>" not in detail
    from markupsafe import escape
    assert str(escape(detail)) in page.text or not detail.strip()


def test_machine_failure_page_in_both_languages(app):
    """A locked database (sqlite3's own error) is a 503 page in the user's language."""
    import sqlite3

    @app.route("/test-locked")
    def locked():
        raise sqlite3.OperationalError("database is locked")

    client = app.test_client()
    login(client)
    page = client.get("/test-locked")
    assert page.status_code == 503 and "数据库正忙" in page.text
    english = client.get("/test-locked?lang=en")
    assert english.status_code == 503 and "The database is busy" in english.text
    assert "数据库正忙" not in english.text
