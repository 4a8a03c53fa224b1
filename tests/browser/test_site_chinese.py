"""Every page a resident can reach on the public site, read in a real browser in Chinese mode:
no English UI text (data values aside), and nothing fetched from off the machine."""

from __future__ import annotations

import subprocess
import sys
from collections import deque
from pathlib import Path
from urllib.parse import quote, urljoin, urlparse

import pytest
from anju.registry.core.store import Registry
from anju.registry.publication.publish import publish

from tests.browser.conftest import free_port, stop, wait_until_up
from tests.english import ALLOWED, WORD

pytestmark = pytest.mark.browser
DOWNLOADS = (".csvzh", ".xlsx", ".json", ".db", ".csv")
MAX_PAGES = 80
# What the resident reads: the page's text without data cells, code and the SQL editor.
VISIBLE_UI_TEXT = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll('td, code, pre, textarea, script, style, svg').forEach(e => e.remove());
  return document.title + '\\n' + body.innerText;
}"""


@pytest.fixture
def live_public(demo_registry):
    out = demo_registry.parent / "public.db"
    with Registry.open(demo_registry) as reg:
        publish(reg, out)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "anju.registry.cli", "serve", str(out), "--host", "127.0.0.1",
         "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[2])
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/-/versions.json", process)
        yield base
    finally:
        stop(process)


def _english(text: str) -> set[str]:
    return {w for w in WORD.findall(text) if w.lower() not in ALLOWED} - {"public"}


def test_every_reachable_public_page_reads_in_chinese(live_public, page):
    base = live_public
    extra = ["/public?sql=" + quote("selec x"), "/public?sql=" + quote("select x from zone"),
             "/nowhere", "/public/nowhere", "/public/household/99999",
             "/-/lookup?house_no=A-0001", "/public/household?_search=" + quote("街")]
    queue = deque(["/"] + extra)
    seen: set[str] = set()
    problems = {}
    while queue and len(seen) < MAX_PAGES:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        page.goto(base + path)
        words = _english(page.evaluate(VISIBLE_UI_TEXT))
        if words:
            problems[path] = sorted(words)
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            url = urlparse(urljoin(base + path, href))
            if url.netloc != urlparse(base).netloc or url.path.endswith(DOWNLOADS):
                continue
            target = url.path + (f"?{url.query}" if url.query else "")
            if "_facet_size" in target or "_next=" in target and target.count("_next=") > 1:
                continue
            if target not in seen:
                queue.append(target)
    assert len(seen) >= 20, seen
    assert problems == {}, problems
    host = urlparse(base).netloc
    assert all(urlparse(u).netloc == host for u in page.seen_urls if u.startswith("http"))


def test_downloads_are_files_not_pages(live_public, page):
    with page.expect_download() as info:
        page.goto(live_public + "/public/household")
        page.click("text=CSV 表格（Excel 可直接打开）")
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and "房屋编号".encode() in data
