"""Message marking for translation catalogs, usable anywhere (no Flask here).

The registry's message tables keep their (Chinese, English) pairs, so the CLI prints plain words
without a web app; the Chinese is wrapped in `N_()` so `pybabel extract` puts it in the catalog,
and the web app translates it at render time with gettext (msgid = the Chinese).
"""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for a no-op marker
    """Mark a message for extraction without translating it now (translated where rendered)."""
    return message
