"""Benchmark of the central office's checks (registry/checks.py) on a large registry.

Builds a demo project of --base households, then multiplies its household and member rows with
plain SQL up to --households (each copy with its own ids, house numbers, addresses, certificate
and ID numbers, so copies do not flag each other), and times every check and the whole
`run_checks` (flag table rebuilt). The baseline, measured in the same run, is one plain read of
every household and member column the checks look at: the floor for any check.

    .venv/bin/python scripts/bench_checks.py --households 250000
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from anju.registry.core.settings import load as load_settings
from anju.registry.core.store import Registry, transaction
from anju.registry.field.demo import build_demo
from anju.registry.review import checks


def amplify(reg: Registry, target: int) -> None:
    """Copy the household and member rows until there are `target` households."""
    base = reg.conn.execute("SELECT count(*) FROM household").fetchone()[0]
    hcols = [r[1] for r in reg.conn.execute("PRAGMA table_info(household)")]
    mcols = [r[1] for r in reg.conn.execute("PRAGMA table_info(member)")]
    suffixed = {"id": "id || '-' || :k", "house_no": "house_no || 'x' || :k",
                "address": "address || '之' || :k", "owner_id_no": "owner_id_no || :k",
                "property_cert_no": "property_cert_no || :k",
                "house_cert_no": "house_cert_no || :k", "land_cert_no": "land_cert_no || :k",
                "household_id": "household_id || '-' || :k", "id_no": "id_no || :k"}
    copies = -(-target // base) - 1
    with transaction(reg.conn):
        for k in range(1, copies + 1):
            room = target - base * k
            if room <= 0:
                break
            hsel = ", ".join(suffixed.get(c, f"[{c}]") for c in hcols)
            reg.conn.execute(f"INSERT INTO household SELECT {hsel} FROM household "
                             f"WHERE id NOT LIKE '%-%-%-%-%-%' LIMIT :room",
                             {"k": k, "room": room})
            msel = ", ".join(suffixed.get(c, f"[{c}]") for c in mcols)
            reg.conn.execute(f"INSERT INTO member SELECT {msel} FROM member m "
                             f"WHERE household_id || '-' || :k IN (SELECT id FROM household)",
                             {"k": k})


CPU: dict[str, float] = {}


def timed(fn):
    """(wall seconds, result); the CPU seconds of the call are left in CPU['last']."""
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    CPU["last"] = time.process_time() - cpu
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=250_000)
    parser.add_argument("--base", type=int, default=25_000, help="demo households to build")
    parser.add_argument("--keep", help="build in this directory and keep it")
    args = parser.parse_args()
    workdir = Path(args.keep or tempfile.mkdtemp(prefix="anju-bench-checks-"))
    try:
        db = workdir / "registry.db"
        if not db.exists():
            t, _ = timed(lambda: build_demo(workdir, households=min(args.base, args.households),
                                            devices=4, seed=11))
            print(f"built demo of {args.base} households in {t:.1f} s")
        reg = Registry.open(db)
        if reg.conn.execute("SELECT count(*) FROM household").fetchone()[0] < args.households:
            t, _ = timed(lambda: amplify(reg, args.households))
            print(f"amplified to {args.households} households in {t:.1f} s")
        counts = {n: reg.conn.execute(f"SELECT count(*) FROM [{n}]").fetchone()[0]
                  for n in ("household", "member")}
        print(f"registry: {counts['household']} households, {counts['member']} members")

        def baseline():
            n = 0
            for _ in reg.conn.execute(
                    "SELECT id, zone, house_no, address, owner_id_no, property_cert_no, "
                    "house_cert_no, land_cert_no, year_built, cert_area, surveyed_area, "
                    "registered_use, actual_use, survey_date, valuation_commissioned, "
                    "valuation_date, deleted FROM household"):
                n += 1
            for _ in reg.conn.execute("SELECT id, household_id, id_no, registered_on, deleted "
                                      "FROM member"):
                n += 1
            return n
        timed(baseline)  # warm the page cache for a fair floor
        floor, _ = timed(baseline)
        cpu_floor = CPU["last"]
        print(f"baseline (read every checked column once): {floor:.2f} s wall, "
              f"{cpu_floor:.2f} s CPU")
        checks.prepare(reg)
        settings = load_settings(reg)
        for check in checks.CHECKS:
            t, flags = timed(lambda c=check: c(reg, settings))
            cpu = CPU["last"]
            print(f"  {check.__name__:<24} {t:6.2f} s wall {t / floor:5.1f}x  "
                  f"{cpu:6.2f} s CPU {cpu / cpu_floor:5.1f}x  {len(flags):6d} flags")
        with transaction(reg.conn):
            reg.conn.execute("DELETE FROM flag_household")
            reg.conn.execute("DELETE FROM flag")
        for what in ("first run, empty flag table", "rerun, flags already stored"):
            t, flags = timed(lambda: checks.run_checks(reg))
            print(f"run_checks ({what}): {t:.2f} s wall = {t / floor:.1f}x baseline, "
                  f"{CPU['last']:.2f} s CPU = {CPU['last'] / cpu_floor:.1f}x, {len(flags)} flags")
        print(f"(load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        reg.close()
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
