"""Code that runs on the surveyors' Windows laptops avoids what only works on POSIX.

A guard over the source of registry/, collector/ and plugins/: each pattern below once broke, or
would break, on Windows. The install bundle test proves the rest (a clean install runs).
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    r"\bos\.fork\(": "fork does not exist on Windows; use threads (the web app is threaded)",
    r"\bimport (fcntl|pwd|grp|termios)\b": "a POSIX-only module",
    r"\bos\.(getuid|geteuid|chown|killpg|setsid)\(": "a POSIX-only call",
    r"""f["']file:\{""": "a hand-made SQLite URI breaks on C:\\ paths and '#' in names; "
                        "use Path(p).resolve().as_uri()",
    r"\bsignal\.SIG(KILL|HUP|USR1|USR2|ALRM)\b": "a signal Windows does not have",
    r"""["']/dev/null["']""": "use os.devnull",
    r"\bos\.rename\(": "fails on Windows when the target exists; use os.replace",
}


def sources():
    for top in ("registry", "collector", "plugins"):
        yield from sorted((ROOT / top).rglob("*.py"))


@pytest.mark.parametrize("pattern, why", FORBIDDEN.items())
def test_no_posix_only_code(pattern, why):
    found = [f"{p.relative_to(ROOT)}:{n}" for p in sources()
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if re.search(pattern, line)]
    assert not found, f"{why}: {', '.join(found)}"
