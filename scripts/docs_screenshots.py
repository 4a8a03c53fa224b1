"""Screenshots of the real pages for the operator's guide (docs/img/*.png).

Builds a small demo project in a temporary folder: the central registry (`anju demo`), a laptop
enrolled from it that has merged the central pack and surveyed a little, a backup folder standing
for a USB stick; starts `anju collect` on both and the public site on the published database, and
photographs the pages with Playwright and Debian's chromium. Run by hand:

    .venv/bin/python scripts/docs_screenshots.py [docs/img]
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import browser as browser_finder  # noqa: E402
from anju.registry.core.store import Registry  # noqa: E402
from anju.registry.core.users import add_user  # noqa: E402
from anju.registry.field import backup  # noqa: E402
from anju.registry.field.demo import build_demo  # noqa: E402
from anju.registry.sync.enrollment import enroll_device, init_laptop  # noqa: E402
from anju.registry.sync.merge import merge_pack  # noqa: E402
from anju.registry.sync.packs import export_pack  # noqa: E402

ANJU = [sys.executable, "-m", "anju.registry.cli"]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
PASSWORD = "anju-demo"
HOUSEHOLD = {"house_no": "DG-A-9001", "zone": "东关片区A地块", "address": "东关街128号",
             "structure": "brick_concrete", "owner_name": "王秀英"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], url: str) -> subprocess.Popen:
    """Start a server process and wait until `url` answers."""
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return proc
        except urllib.error.HTTPError:
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{args} did not answer at {url}")


def build_project(work: Path) -> tuple[Path, Path, Path]:
    """The central registry, one laptop with data and backups, and the public database."""
    central_db = build_demo(work / "central", households=240, devices=3, seed=7)
    laptop_db = work / "laptop" / "laptop.db"
    laptop_db.parent.mkdir()
    usb = work / "KINGSTON" / "安居备份"
    usb.mkdir(parents=True)
    with Registry.open(central_db) as central:
        enroll_device(central, "laptop-01", work / "anju-enrol-laptop-01.json")
        init_laptop(laptop_db, work / "anju-enrol-laptop-01.json")
        export_pack(central, work / "central.pack")
    with Registry.open(laptop_db) as laptop:
        add_user(laptop, "surveyor1", PASSWORD, "surveyor")
        result = merge_pack(laptop, work / "central.pack")
        assert result.ok, result.reason
        hid = laptop.save("household", None, dict(HOUSEHOLD), by="surveyor1", full=True)
        laptop.save("member", None, {"household_id": hid, "name": "王秀英", "relation": "head",
                                     "id_no": "11010519491231002X"}, by="surveyor1", full=True)
        laptop.set_meta("backup_dir", str(usb))
        laptop.set_meta("backup_every_minutes", "30")
        backup.backup_now(laptop, usb, reason="import")
        backup.backup_now(laptop, usb, reason="scheduled")
        backup.backup_now(laptop, usb, reason="manual")
        export_pack(laptop, work / "anju-laptop-01-20261127-1730.pack")
        laptop.conn.execute("DELETE FROM meta WHERE key = 'last_export_at'")
        # The morning's work has waited 9 hours for an export: the banner shows.
        laptop.conn.execute(
            "UPDATE change SET received_at = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now', "
            "'-9 hours') WHERE device_id = ?", (laptop.device_id,))
    public_db = work / "public.db"
    subprocess.run([*ANJU, "publish", str(central_db), "--out", str(public_db)], cwd=ROOT,
                   check=True, capture_output=True)
    return central_db, laptop_db, public_db


def shoot(out: Path) -> list[str]:
    """Photograph the pages; return the file names written."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    with tempfile.TemporaryDirectory(prefix="anju-docs-") as tmp:
        work = Path(tmp)
        central_db, laptop_db, public_db = build_project(work)
        ports = free_port(), free_port(), free_port()
        lap, cen, pub = (f"http://127.0.0.1:{p}" for p in ports)
        procs = [
            start([*ANJU, "collect", str(laptop_db), "--port", str(ports[0])], lap + "/login"),
            start([*ANJU, "collect", str(central_db), "--port", str(ports[1])], cen + "/login"),
            start([*ANJU, "serve", str(public_db), "--port", str(ports[2])], pub + "/"),
        ]
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=browser_finder.find(),
                                            args=CHROMIUM_ARGS)
                context = browser.new_context(viewport={"width": 1280, "height": 800},
                                              locale="zh-CN", device_scale_factor=1)
                page = context.new_page()

                def snap(name: str, url: str | None = None, full: bool = False,
                         height: int | None = None) -> None:
                    if url:
                        response = page.goto(url)
                        if response is None or response.status >= 400:
                            print(f"skipped {name}: {url} answered "
                                  f"{response.status if response else 'nothing'}")
                            return
                    clip = None
                    if height:
                        clip = {"x": 0, "y": 0, "width": 1280, "height": height}
                        full = True
                    page.screenshot(path=str(out / f"{name}.png"), full_page=full, clip=clip)
                    written.append(f"{name}.png")

                def login(base: str, name: str) -> None:
                    page.goto(base + "/login")
                    page.fill("input[name=name]", name)
                    page.fill("input[name=password]", PASSWORD)
                    page.click("button.primary")
                    page.wait_for_load_state()

                # -- the surveyor's laptop ------------------------------------------------------
                snap("laptop-login", lap + "/login")
                login(lap, "surveyor1")
                snap("laptop-households", lap + "/households")
                snap("laptop-form", lap + "/households/new", height=1500)
                page.goto(lap + "/households?q=DG-A-9001")
                link = page.locator("table a[href*='/households/']").first
                if link.count():
                    dossier = link.get_attribute("href")
                    snap("laptop-dossier", lap + dossier, height=1300)
                    snap("laptop-visit", lap + dossier + "/visits/new", height=1000)
                snap("laptop-sync", lap + "/sync")
                snap("laptop-backup", lap + "/backup", height=1100)
                page.goto(lap + "/households")
                page.click("header form button")  # log out: the reminder shows
                page.wait_for_load_state()
                snap("laptop-logout-reminder")

                # -- the central office ---------------------------------------------------------
                login(cen, "admin")
                snap("central-devices", cen + "/devices")
                snap("central-sync", cen + "/sync")
                page.set_input_files("input[name=packs]",
                                     str(work / "anju-laptop-01-20261127-1730.pack"))
                page.click("form[enctype] button.primary")
                page.wait_for_load_state()
                snap("central-merge-results")
                snap("central-conflicts", cen + "/conflicts", height=900)
                snap("central-review", cen + "/review", height=1200)
                snap("central-progress", cen + "/progress", height=1300)
                snap("central-compensation", cen + "/compensation", height=1000)
                snap("central-settings", cen + "/settings", height=1100)

                # -- the public site ------------------------------------------------------------
                snap("public-home", pub + "/", height=1000)
                snap("public-progress", pub + "/-/progress", height=1100)
                page.goto(pub + "/-/lookup")
                page.fill("input[name=house_no]", "A-0008")
                page.click("form.anju-lookup button")
                page.wait_for_load_state()
                snap("public-lookup")
                browser.close()
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(10)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "img"
    for name in shoot(target):
        print(target / name)
