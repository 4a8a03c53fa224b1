"""Language of the UI: Chinese by default, English one click away (Flask-Babel's locale).

UI texts are gettext messages whose msgid is the Chinese: `_("中文")` (and `ngettext` where a
count decides the wording) in code and templates; the English lives in the catalog
collector/translations/en/LC_MESSAGES/messages.po. The registry's message tables mark their
Chinese with `N_()` and are translated here at render time with `_(pair[0])`. The survey's own
bilingual labels ({zh, en}) are data and are shown through `label`.
"""

from __future__ import annotations

from anju.registry.core import localtime
from anju.registry.core.i18n import N_, Term
from flask import Flask, current_app, request, session
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

__all__ = ["LANGUAGES", "N_", "_", "label", "lang", "local", "ngettext", "phrase", "select_locale",
           "term", "tr"]

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


def tr(msgid) -> str:
    """A registry table's Chinese (an N_() msgid) in the current language, as plain text.

    Unlike the templates' `_()` (which marks its result safe under autoescape), this returns a
    str, so a value that is not in the catalog (data, possibly hostile) is escaped on render.
    """
    if msgid is None or msgid == "":
        return ""
    return str(_(str(msgid)))


def term(table: dict, key, default=None) -> str:
    """The label of `key` in a registry table ({key: N_("中文")} or {key: (N_("中文"), en)}),
    translated; an unknown key is shown as itself (escaped on render), or as `default`."""
    value = table.get(key) if isinstance(key, str) else None
    if isinstance(value, tuple):
        value = value[0]
    if value:
        return tr(value)
    return str(default if default is not None else key if key is not None else "")


def item_label(item) -> str:
    """A breakdown line's name (registry.compensation ITEM_LABELS by its key) in the current
    language, keeping what it names after "·" (a flat, an attachment) as data."""
    from anju.registry.compensation.calculation import ITEM_LABELS
    label = str(getattr(item, "label", "") or "")
    key = getattr(item, "key", None)
    if key not in ITEM_LABELS:
        return label
    named = label.split("·", 1)[1] if "·" in label else ""
    return term(ITEM_LABELS, key) + (f" · {named}" if named and lang() == "en" else
                                     f"·{named}" if named else "")


def phrase(value) -> str:
    """A registry phrase (msgid, args) in the current language, plain text; arguments that are
    table terms (registry.legal.path.Term) are translated too, the others are data."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    msgid, args = value
    args = {k: tr(v) if isinstance(v, Term) else v for k, v in (args or {}).items()}
    return str(_(msgid, **args)) if args else tr(msgid)


def phrases(values) -> str:
    """Several phrases (a step's details) joined the way the current language punctuates."""
    return ("; " if lang() == "en" else ";").join(phrase(v) for v in values or () if v)


def local(stamp, seconds: bool = False) -> str:
    """A stored UTC time as people read it: the project's local time (Beijing by default)."""
    return localtime.format_local(stamp, current_app.config.get("TIME_ZONE"), seconds)


def init_app(app: Flask) -> None:
    """Make the helpers available in every template, and `|localtime` for every shown time."""
    app.jinja_env.globals.update(label=label, lang=lang, term=term, phrase=phrase,
                                 phrases=phrases, item_label=item_label)
    app.jinja_env.filters["tr"] = tr
    app.jinja_env.filters["localtime"] = local
