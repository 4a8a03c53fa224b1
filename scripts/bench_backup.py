"""Benchmark: how long a laptop backup takes, against a plain file copy of the same database.

    .venv/bin/python scripts/bench_backup.py [HOUSEHOLDS]      (default 5000)

Builds a demo registry, then times in the same run: a plain copy of the file (the baseline, not
consistent while the app writes), `backup_now` (online backup in one step + integrity check +
fsync + rename), and a save in the web app's way while no backup runs and while one runs (a
backup holds a read snapshot; in WAL mode writers go on). Prints seconds and ratios.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from anju.registry.core.store import Registry  # noqa: E402
from anju.registry.field.backup import backup_now  # noqa: E402
from anju.registry.field.demo import build_demo  # noqa: E402

HOUSEHOLD = {"zone": "东关片区A地块", "address": "东关街12号", "structure": "brick_concrete",
             "owner_name": "张伟"}


def timed(fn, repeat: int = 3) -> float:
    """The median wall time of `fn` over `repeat` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def save_latencies(db: Path, n: int, prefix: str) -> list[float]:
    """Seconds per household save, the web app's way (one transaction each)."""
    out = []
    with Registry.open(db) as reg:
        for i in range(n):
            start = time.perf_counter()
            reg.save("household", None, {**HOUSEHOLD, "house_no": f"{prefix}-{i:05d}"},
                     by="bench", full=True)
            out.append(time.perf_counter() - start)
    return out


def main(households: int = 5000) -> None:
    with tempfile.TemporaryDirectory(prefix="anju-bench-") as tmp:
        work = Path(tmp)
        db = build_demo(work / "demo", households=households, devices=3, seed=1)
        usb = work / "usb"
        usb.mkdir()
        size = db.stat().st_size / 1e6
        copy = timed(lambda: shutil.copyfile(db, work / "copy.db"))
        online = timed(lambda: backup_now(db, usb, keep=3))
        quiet = save_latencies(db, 50, "Q")
        busy: list[float] = []
        stop = threading.Event()

        def back_up_continuously() -> None:
            while not stop.is_set():
                backup_now(db, usb, keep=3)

        worker = threading.Thread(target=back_up_continuously)
        worker.start()
        try:
            busy = save_latencies(db, 50, "B")
        finally:
            stop.set()
            worker.join()
        q, b = statistics.median(quiet), statistics.median(busy)
        print(f"database: {households} households, {size:.1f} MB")
        print(f"plain file copy (baseline):  {copy:.3f} s")
        print(f"backup_now (online, checked): {online:.3f} s  = {online / copy:.1f}x the copy")
        print(f"save, no backup running:      {q * 1000:.1f} ms median")
        print(f"save, backups running:        {b * 1000:.1f} ms median = {b / q:.2f}x; "
              f"max {max(busy) * 1000:.0f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
