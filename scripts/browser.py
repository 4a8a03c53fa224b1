"""Find a Chromium for the browser tests and the screenshots, installing one where none exists.

Order: $ANJU_BROWSER; Playwright's own Chromium (`playwright install chromium`); a system Chromium
or Chrome on PATH or in the usual places (Debian, macOS, Windows). When none is found it installs
Debian's chromium (and the CJK fonts) with apt, as root or with sudo, or else tries
`playwright install chromium` (needs Playwright's download site). Prints the executable's path
on stdout, or one plain line on stderr and exit 2.

Usage: python scripts/browser.py [--find-only]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
PLACES = (
    "/usr/bin/chromium", "/usr/bin/chromium-browser", "/snap/bin/chromium",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    r"C:\Program Files\Google\Chrome\Application\chrome.exe",
    r"C:\Program Files (x86)\Google\Chrome\Application\chrome.exe",
)


def playwright_chromium() -> str | None:
    """The Chromium that `playwright install chromium` put in Playwright's cache, if any."""
    try:
        from playwright.sync_api import sync_playwright
        with sync_playwright() as p:
            path = p.chromium.executable_path
    except Exception:  # no playwright, or no driver: not a browser we can use
        return None
    return path if path and Path(path).is_file() else None


def find() -> str | None:
    """The first usable browser, without installing anything."""
    given = os.environ.get("ANJU_BROWSER")
    if given:
        return given if Path(given).is_file() else None
    found = playwright_chromium()
    if found:
        return found
    for name in CANDIDATES:
        if shutil.which(name):
            return shutil.which(name)
    return next((p for p in PLACES if Path(p).is_file()), None)


def _quiet(cmd: list[str], timeout: int = 900) -> bool:
    try:
        return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=timeout).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def install() -> None:
    """Debian's packages first where we may use apt (they need no download site of their own,
    only the package mirror), then Playwright's download."""
    if shutil.which("apt-get"):
        sudo = [] if hasattr(os, "geteuid") and os.geteuid() == 0 else ["sudo", "-n"]
        if not sudo or shutil.which("sudo"):
            env_cmd = ["env", "DEBIAN_FRONTEND=noninteractive"]
            packages = ["chromium", "fonts-noto-cjk"]
            if not _quiet(sudo + env_cmd + ["apt-get", "install", "-y", "-q", *packages]):
                _quiet(sudo + ["apt-get", "update", "-q"])
                _quiet(sudo + env_cmd + ["apt-get", "install", "-y", "-q", *packages])
            if find():
                return
    _quiet([sys.executable, "-m", "playwright", "install", "chromium"], timeout=300)


def main(argv: list[str]) -> int:
    path = find()
    if path is None and "--find-only" not in argv:
        install()
        path = find()
    if path is None:
        print("browser.py: no Chromium found and none could be installed; install Chromium or "
              "Chrome, or set ANJU_BROWSER to its executable", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
