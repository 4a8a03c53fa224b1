"""One base for every error anju raises for people to act on.

An `AnjuError` has a stable `code` (for programs and tests; each subclass gets its own, the
class name in snake case, unless it names one), the message given when raised (`str(exc)`: the
plain words the `anju` command prints, a contract) and a message per language for the web app:
`zh`, a Chinese gettext msgid (marked with N_ so it is in the catalog, translated where it is
shown), formatted with the error's `params` and `detail` (the raised message).

So the command line has one handler (registry/cli/base.py: one plain line, exit status 2) and
the web app one handler (collector/hardening.py: a page in the user's language), instead of a
try/except per command or view.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from anju.registry.core.i18n import N_

_CJK = re.compile(r"[\u4e00-\u9fff]")


def _snake(name: str) -> str:
    base = name[:-5] if name.endswith("Error") and len(name) > 5 else name
    return re.sub(r"(?<!^)(?=[A-Z])", "_", base).lower()


class AnjuError(Exception):
    """An error for people: what was refused and why, with a code and per-language words."""

    code = "anju"
    zh = N_("未能完成：%(detail)s")

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            cls.code = _snake(cls.__name__)

    def __init__(self, message: str = "", code: str | None = None, *, zh: str | None = None,
                 **params) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        if zh is not None:
            self.zh = zh
        self.params = params

    def line(self) -> str:
        """The one plain line the command prints (the message it was raised with)."""
        return str(self) or self.for_people()

    def for_people(self, translate: Callable[[str], str] = lambda msgid: msgid) -> str:
        """The message in the UI's language: the Chinese msgid through `translate` (gettext),
        with the error's params. A refusal raised with its own Chinese words and no msgid of its
        own is already said for people, and is shown as it is."""
        detail = str(self)
        if "zh" not in self.__dict__ and _CJK.search(detail):
            return detail
        try:
            return translate(self.zh) % {"detail": detail, **self.params}
        except (KeyError, ValueError, TypeError):  # a msgid and params that do not fit
            return detail or translate(AnjuError.zh) % {"detail": self.code}
