"""Benchmark the merge of realistic laptops' packs against two honest floors, and the checks.

    nice -n 10 .venv/bin/python scripts/bench_merge_scale.py DIR [--households 50000]
                                                     [--laptops 100] [--profile] [--checks]

DIR holds the data of scripts/scale_data.py (`packs`; made here when missing). Each measure runs
in its own process on a fresh copy of the empty central registry (so each peak memory is its
own), in one run:

- merge:   `merge_packs` of every laptop's pack (decrypt, verify every change's signature
           chain, validate, fold, write, then the central checks once), as `anju merge` does;
- floor_after: the same rows (change log and record tables, read from the merged registry)
           copied into the same schema with its secondary indexes dropped, then the indexes
           built once after the load: the honest floor;
- floor_during: the same copy with every index in place during the load (random-UUID index
           maintenance included), the floor an indexed `INSERT ... SELECT` gives;
- checks:  (with --checks) `anju check` (run_checks) on the merged registry, against one read
           of the columns the checks use (the checks' floor), and the incremental checks of the
           last pack's households.

Prints seconds, CPU seconds and peak memory of each and merge/floor ratios, and whether the
copies and the merge end with the same `anju digest`. --profile writes a cProfile of the merge
to DIR/merge.prof and prints its top functions.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from anju.registry.core.digest import digest  # noqa: E402
from anju.registry.core.store import Registry  # noqa: E402

COPIED = ("change", "household", "member", "visit", "agreement", "conflict")


def run_merge(root: Path, target: Path, profile: bool) -> dict:
    """merge_packs as `anju merge` runs it; the central checks at its end timed apart."""
    from anju.registry.review import checks
    from anju.registry.sync import merge
    packs = sorted((root / "packs").glob("*.pack"))
    reg = Registry.open(target)
    timed = {"checks": 0.0}
    hooks = [checks]
    try:
        from anju.registry.review import incremental
        hooks.append(incremental)
    except ImportError:  # an anju before incremental checks
        pass
    for module in hooks:
        def timed_hook(*args, _after=module.after_merge, **kwargs):
            t = time.perf_counter()
            _after(*args, **kwargs)
            timed["checks"] += time.perf_counter() - t
        module.after_merge = timed_hook
    if profile:
        import cProfile
        prof = cProfile.Profile()
        prof.enable()
    results = merge.merge_packs(reg, packs)
    if profile:
        prof.disable()
        prof.dump_stats(str(root / "merge.prof"))
    bad = [r.line() for r in results if not r.ok]
    if bad:
        raise SystemExit(bad[0])
    reg.close()
    return {"new": sum(r.new for r in results), "checks": timed["checks"]}


def run_floor(root: Path, target: Path, after: bool) -> dict:
    """Copy the merged registry's rows into `target` (the same empty schema)."""
    import sqlite3
    source = root / "merged.db"
    conn = sqlite3.connect(str(target), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    indexes = []
    if after:
        indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                               f"AND sql IS NOT NULL AND tbl_name IN "
                               f"({', '.join('?' for _ in COPIED)})", COPIED).fetchall()
        for name, _ in indexes:
            conn.execute(f"DROP INDEX [{name}]")
    conn.execute("ATTACH DATABASE ? AS src", (str(source),))
    conn.execute("BEGIN IMMEDIATE")
    for table in COPIED:
        cols = [r[1] for r in conn.execute(f"PRAGMA main.table_info([{table}])")]
        names = ", ".join(f"[{c}]" for c in cols)
        conn.execute(f"INSERT OR IGNORE INTO main.[{table}] ({names}) "
                     f"SELECT {names} FROM src.[{table}]")
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("DETACH DATABASE src")
    conn.close()
    return {}


def run_checks(root: Path, target: Path) -> dict:
    """The full checks on the merged registry, their floor, and the incremental checks."""
    from anju.registry.review import checks, incremental
    reg = Registry.open(target)
    out = {}
    t = time.perf_counter()
    for sql in checks_floor_queries():
        for _ in reg.conn.execute(sql):
            pass
    out["floor"] = time.perf_counter() - t
    t = time.perf_counter()
    checks.run_checks(reg)
    out["full"] = time.perf_counter() - t
    checks.prepare(reg)
    settings = checks.load_settings(reg)
    each = {}
    for check in checks.CHECKS:
        t = time.perf_counter()
        check(reg, settings)
        each[check.__name__[6:]] = round(time.perf_counter() - t, 2)
    out["each"] = dict(sorted(each.items(), key=lambda kv: -kv[1]))
    last = reg.conn.execute("SELECT device_id FROM change ORDER BY rowid DESC LIMIT 1").fetchone()
    touched = [r[0] for r in reg.conn.execute(
        "SELECT DISTINCT coalesce(m.household_id, v.household_id, a.household_id, c.record_id) "
        "FROM change c LEFT JOIN member m ON m.id = c.record_id LEFT JOIN visit v ON v.id = "
        "c.record_id LEFT JOIN agreement a ON a.id = c.record_id WHERE c.device_id = ?", last)]
    t = time.perf_counter()
    incremental.recheck(reg, touched)
    out["incremental"] = time.perf_counter() - t
    out["touched"] = len(touched)
    reg.close()
    return out


def checks_floor_queries() -> list[str]:
    """One read of every column the checks use (the checks' floor)."""
    return [
        "SELECT id, house_no, zone, address, owner_name, owner_id_no, property_cert_no, "
        "house_cert_no, land_cert_no, cert_area, surveyed_area, registered_use, actual_use, "
        "year_built, status, survey_date, valuation_commissioned, valuation_date, structure, "
        "deleted FROM household",
        "SELECT id, household_id, name, id_no, relation, registered_on, deleted FROM member",
        "SELECT id, household_id, number, signed_on, total, amends, deleted, created_by "
        "FROM agreement",
        "SELECT record_id, at, hlc FROM change"]


def child(method: str, root: Path, profile: bool) -> None:
    target = root / f"target-{method}.db"
    if method == "checks":
        target = root / "merged.db"
    else:
        shutil.copy(root / "central.db", target)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    if method == "merge":
        extra = run_merge(root, target, profile)
    elif method == "checks":
        extra = run_checks(root, target)
    else:
        extra = run_floor(root, target, after=method == "floor_after")
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out = {"method": method, "seconds": seconds,
           "cpu": usage.ru_utime + usage.ru_stime - cpu0, "peak": usage.ru_maxrss * 1024,
           **extra}
    if method != "checks":
        with Registry.open(target) as reg:
            out["digest"] = digest(reg)
            out["households"] = reg.conn.execute("SELECT count(*) FROM household").fetchone()[0]
            out["changes"] = reg.conn.execute("SELECT count(*) FROM change").fetchone()[0]
        if method == "merge":
            target.replace(root / "merged.db")
            for ext in ("-wal", "-shm"):
                Path(str(target) + ext).unlink(missing_ok=True)
        else:
            target.unlink()
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--households", type=int, default=50_000)
    parser.add_argument("--laptops", type=int, default=100)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--checks", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    root = args.dir
    if args.child:
        child(args.child, root, args.profile)
        return
    if not (root / "central.db").exists():
        import scale_data
        t = time.perf_counter()
        scale_data.write_packs(root, args.households, args.laptops)
        print(f"packs written in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    results = {}
    methods = ["merge", "floor_after", "floor_during"] + (["checks"] if args.checks else [])
    for method in methods:
        cmd = [sys.executable, __file__, str(root), "--child", method]
        if args.profile:
            cmd.append("--profile")
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(out.stderr[-2000:])
        results[method] = json.loads(out.stdout.strip().splitlines()[-1])
    m, fa, fd = results["merge"], results["floor_after"], results["floor_during"]
    print(f"{m['households']} households, {m['changes']} changes, "
          f"{len(list((root / 'packs').glob('*.pack')))} packs")
    print(f"{'method':13} {'seconds':>8} {'CPU s':>7} {'peak MiB':>9} {'merge/this':>10}  digest")
    for name in ("merge", "floor_after", "floor_during"):
        r = results[name]
        print(f"{name:13} {r['seconds']:8.1f} {r['cpu']:7.1f} {r['peak'] / 2**20:9.0f} "
              f"{m['seconds'] / r['seconds']:10.2f}  {r['digest'][:16]}")
    print(f"(the merge's time includes the central checks at its end: {m['checks']:.1f} s; "
          f"without them merge/floor_after = "
          f"{(m['seconds'] - m['checks']) / fa['seconds']:.2f})")
    same = m["digest"] == fa["digest"] == fd["digest"]
    print(f"same digest: {same}; merge within 3x the honest floor (indexes after): "
          f"{m['seconds'] <= 3 * fa['seconds']}")
    if args.checks:
        c = results["checks"]
        print(f"checks: full {c['full']:.1f} s, floor (one read of their columns) "
              f"{c['floor']:.2f} s, ratio {c['full'] / c['floor']:.1f}; incremental "
              f"{c['incremental']:.2f} s for the {c['touched']} households of one pack; "
              f"peak {c['peak'] / 2**20:.0f} MiB")
        print(f"  each check (s): {c['each']}")
    if args.profile:
        import pstats
        pstats.Stats(str(root / "merge.prof")).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
