"""`make run`: start the web app and the public site on the demo project, print where they are.

The demo project is built by `anju demo` (the Makefile does that when it is absent). Both servers
listen on 127.0.0.1 only; Ctrl+C stops them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ANJU = [sys.executable, "-m", "anju.registry.cli"]


def wait_for(url: str, seconds: float = 30) -> bool:
    """Whether `url` answers within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return True
        except OSError:
            time.sleep(0.2)
    return False


def main(directory: str = "demo") -> int:
    """Start both servers and keep them running until interrupted."""
    demo = Path(directory)
    registry, public = demo / "registry.db", demo / "public.db"
    if not public.exists():
        subprocess.run([*ANJU, "publish", str(registry), "--out", str(public)], check=False)
    app_port = int(os.environ.get("ANJU_PORT", "5000"))
    site_port = int(os.environ.get("ANJU_SITE_PORT", "8001"))
    procs = [subprocess.Popen([*ANJU, "collect", str(registry), "--port", str(app_port)])]
    if public.exists():
        procs.append(subprocess.Popen([*ANJU, "serve", str(public), "--port", str(site_port)]))
    ok_app = wait_for(f"http://127.0.0.1:{app_port}/login")
    ok_site = public.exists() and wait_for(f"http://127.0.0.1:{site_port}/")
    print()
    print(f"  web app (surveyors and central office): http://127.0.0.1:{app_port}/"
          + ("" if ok_app else "  (did not start; see the messages above)"))
    if public.exists():
        print(f"  public site (Datasette):                 http://127.0.0.1:{site_port}/"
              + ("" if ok_site else "  (did not start; see the messages above)"))
    print("  demo logins: admin / supervisor / surveyor1, password anju-demo")
    print("  Ctrl+C stops both.")
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT if os.name != "nt" else signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
