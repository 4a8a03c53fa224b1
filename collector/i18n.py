"""Language of the UI: Chinese by default, English one click away (Flask-Babel's locale).

Texts come in pairs: `t("中文", "English")` in templates and code, and bilingual labels
({zh, en}) from the survey definition through `label`.
"""

from __future__ import annotations

from anju.registry.core import localtime
from flask import Flask, current_app, request, session
from flask_babel import get_locale

LANGUAGES = ("zh", "en")


def select_locale() -> str:
    """The user's chosen language (?lang= sets it for the session), Chinese by default."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen
    return session.get("lang", "zh")


def lang() -> str:
    """The current language code, "zh" or "en"."""
    return "en" if str(get_locale()) == "en" else "zh"


def t(zh: str, en: str) -> str:
    """The text in the current language."""
    return en if lang() == "en" else zh


def label(value: dict | str | None) -> str:
    """A bilingual label {zh, en} in the current language."""
    if isinstance(value, dict):
        return value.get(lang()) or value.get("zh", "")
    return value or ""


def local(stamp, seconds: bool = False) -> str:
    """A stored UTC time as people read it: the project's local time (Beijing by default)."""
    return localtime.format_local(stamp, current_app.config.get("TIME_ZONE"), seconds)


def init_app(app: Flask) -> None:
    """Make the helpers available in every template, and `|localtime` for every shown time."""
    app.jinja_env.globals.update(t=t, label=label, lang=lang)
    app.jinja_env.filters["localtime"] = local
