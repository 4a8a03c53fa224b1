"""The one rule for a `next` address after a login or an action: a path on this site, or none.

Browsers read `//evil`, `/\\evil`, `\\\\evil` and `/%5Cevil` as other hosts, and some decode
%2F or drop tabs and newlines before they do, so a target is accepted only if it is a plain
absolute path that stays one under every such reading.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit


def safe_next(value: str | None, default: str = "/") -> str:
    """`value` if it is a local path (starts with one '/', no host, no backslash, no control
    character, also after percent-decoding), else `default`."""
    if not isinstance(value, str) or not value or len(value) > 2000:
        return default
    text = value
    for _ in range(3):  # doubly and triply encoded forms too
        if not _plain_path(text):
            return default
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    else:
        if not _plain_path(text):
            return default
    return value


def _plain_path(text: str) -> bool:
    if not text.startswith("/") or text.startswith("//"):
        return False
    if "\\" in text or any(ord(c) < 32 or ord(c) == 127 for c in text):
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc
