"""Language of the UI: Chinese by default, English one click away (Flask-Babel's locale).

UI texts are gettext messages whose msgid is the Chinese: `_("中文")` (and `ngettext` where a
count decides the wording) in code and templates; the English lives in the catalog
collector/translations/en/LC_MESSAGES/messages.po. The registry's message tables mark their
Chinese with `N_()` and are translated here at render time with `_(pair[0])`. The survey's own
bilingual labels ({zh, en}) are data and are shown through `label`.
"""

from __future__ import annotations

from anju.registry.core import localtime
from anju.registry.core.i18n import N_
from flask import Flask, current_app, request, session
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

__all__ = ["LANGUAGES", "N_", "_", "label", "lang", "local", "ngettext", "select_locale"]

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
    app.jinja_env.globals.update(label=label, lang=lang)
    app.jinja_env.filters["localtime"] = local
