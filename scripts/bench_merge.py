"""Benchmark: merging 100 laptop packs holding 250,000 households with their members.

Compares, in the same run and on the same data, three ways of getting the laptops' rows into an
empty central registry, each in its own process (so each peak memory is its own):
  raw     INSERT INTO ... SELECT from each attached laptop database (the floor: no checks)
  upsert  a naive sqlite-utils upsert_all of the same change and record rows
  merge   `registry.merge.merge_pack` of each laptop's pack (decrypt, verify, validate, fold)
and prints time and peak memory of each, with ratios against `raw`, and whether the three end
with the same registry digest.

    .venv/bin/python scripts/bench_merge.py                       # 100 packs, 250,000 households
    .venv/bin/python scripts/bench_merge.py --households 5000 --packs 10   # a quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from anju.registry.core.changes import Change  # noqa: E402
from anju.registry.core.signing import own_key, sign_run  # noqa: E402
from anju.registry.core.store import Registry, transaction  # noqa: E402
from anju.registry.core.validation import id_check_char  # noqa: E402

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
ZONES = ("东关片区A地块", "东关片区B地块", "西门片区", "北街片区")
RECORD_TABLES = ("household", "member")


def resident_id(rng: random.Random) -> str:
    born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(28000))
    body = f"110105{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + id_check_char(body)


def laptop_changes(rng: random.Random, device_id: str, first: int, count: int) -> list[Change]:
    """One laptop's survey work: each household in one change, each member in one."""
    changes: list[Change] = []
    uid = lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))  # noqa: E731
    start = dt.datetime(2026, 9, 1, 8)

    def emit(record_type, record_id, fields):
        at = start + dt.timedelta(seconds=len(changes) * 7 + rng.randrange(5))
        changes.append(Change(change_id=uid(), device_id=device_id, seq=len(changes) + 1,
                              record_type=record_type, record_id=record_id, fields=fields,
                              base=dict.fromkeys(fields), at=at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                              by="surveyor"))

    for n in range(first, first + count):
        hid = uid()
        owner = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
        area = round(rng.uniform(18, 140), 2)
        emit("household", hid, {
            "house_no": f"H-{n:07d}", "zone": ZONES[n % len(ZONES)],
            "address": f"东关街{n % 997 + 1}号", "structure": "brick_concrete",
            "owner_name": owner, "owner_id_no": resident_id(rng),
            "owner_phone": f"138{rng.randrange(10**8):08d}", "cert_area": area,
            "surveyed_area": round(area * 1.02, 2), "year_built": rng.randrange(1960, 2010),
            "floors": rng.choice((1, 1, 2)), "status": "surveyed", "survey_date": "2026-09-01",
            "registered_count": 3, "resident_count": 3})
        for k in range(rng.choice((1, 1, 2, 2, 3, 3, 4))):
            name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=2))
            emit("member", uid(), {"household_id": hid, "name": name, "id_no": resident_id(rng),
                                   "relation": "head" if k == 0 else "child",
                                   "registered_on": "2001-05-01"})
    return changes


def setup(root: Path, households: int, packs: int, seed: int) -> None:
    """An enrolled central registry (empty), and per laptop its database and its pack."""
    from anju.registry.sync.enrollment import enroll_device, init_laptop
    from anju.registry.sync.packs import export_pack
    (root / "laptops").mkdir(parents=True)
    (root / "packs").mkdir()
    central = Registry.create(root / "central.db", project="bench", role="central",
                              device_name="central")
    rng = random.Random(seed)
    per = households // packs
    for i in range(packs):
        name = f"lap{i:03d}"
        enroll_device(central, name, root / f"{name}.enrol")
        init_laptop(root / "laptops" / f"{name}.db", root / f"{name}.enrol")
        (root / f"{name}.enrol").unlink()
        with Registry.open(root / "laptops" / f"{name}.db") as laptop:
            key = own_key(laptop.conn, laptop.device_id, "laptop")
            changes = sign_run(key, laptop.project_id,
                               laptop_changes(rng, laptop.device_id, i * per, per))
            with transaction(laptop.conn):
                laptop.apply(changes)
            export_pack(laptop, root / "packs" / f"{name}.pack")
        print(f"\rset up {i + 1}/{packs} laptops", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    central.close()


def run_raw(target: Path, laptops: list[Path]) -> None:
    reg = Registry.open(target)
    for db in laptops:
        reg.conn.execute("ATTACH DATABASE ? AS src", (str(db),))
        with transaction(reg.conn):
            reg.conn.execute("INSERT INTO change SELECT * FROM src.change")
            for table in RECORD_TABLES:
                reg.conn.execute(f"INSERT INTO [{table}] SELECT * FROM src.[{table}]")
        reg.conn.execute("DETACH DATABASE src")
    reg.close()


def run_upsert(target: Path, laptops: list[Path]) -> None:
    import sqlite_utils
    dest = sqlite_utils.Database(str(target))
    for db in laptops:
        src = sqlite_utils.Database(str(db))
        with dest.conn:
            dest["change"].upsert_all(src["change"].rows, pk="change_id")
            for table in RECORD_TABLES:
                dest[table].upsert_all(src[table].rows, pk="id")
        src.close()
    dest.close()


def run_merge(target: Path, packs: list[Path]) -> None:
    from anju.registry.sync.merge import merge_pack
    reg = Registry.open(target)
    for pack in packs:
        result = merge_pack(reg, pack)
        if not result.ok:
            raise SystemExit(result.line())
    reg.close()


def child(method: str, root: Path) -> None:
    """Run one method on a fresh copy of the empty central registry; print its measures."""
    target = root / f"target-{method}.db"
    shutil.copy(root / "central.db", target)
    laptops = sorted((root / "laptops").glob("*.db"))
    packs = sorted((root / "packs").glob("*.pack"))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    {"raw": lambda: run_raw(target, laptops), "upsert": lambda: run_upsert(target, laptops),
     "merge": lambda: run_merge(target, packs)}[method]()
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak = usage.ru_maxrss * 1024
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    from anju.registry.core.digest import digest
    with Registry.open(target) as reg:
        counts = {t: reg.conn.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0]
                  for t in ("change", *RECORD_TABLES)}
        fingerprint = digest(reg)
    print(json.dumps({"method": method, "seconds": seconds, "cpu": cpu, "peak": peak,
                      "counts": counts,
                      "digest": fingerprint}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=250_000)
    parser.add_argument("--packs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", help="keep the data here (default: a temporary directory)")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="anju-bench-"))
    if not (root / "central.db").exists():
        started = time.perf_counter()
        setup(root, args.households, args.packs, args.seed)
        print(f"setup: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    results = {}
    for method in ("raw", "upsert", "merge"):
        out = subprocess.run([sys.executable, __file__, "--child", method, str(root)],
                             capture_output=True, text=True, check=True)
        results[method] = json.loads(out.stdout.strip().splitlines()[-1])
    floor = results["raw"]
    print(f"{args.packs} packs, {args.households} households: "
          f"{floor['counts']['household']} households, {floor['counts']['member']} members, "
          f"{floor['counts']['change']} changes")
    print(f"{'method':8} {'seconds':>9} {'x raw':>7} {'CPU s':>8} {'x raw':>7} "
          f"{'peak MiB':>9} {'x raw':>7}  digest")
    for method, r in results.items():
        print(f"{method:8} {r['seconds']:9.1f} {r['seconds'] / floor['seconds']:7.2f} "
              f"{r['cpu']:8.1f} {r['cpu'] / floor['cpu']:7.2f} "
              f"{r['peak'] / 2**20:9.1f} {r['peak'] / floor['peak']:7.2f}  {r['digest'][:16]}"
              f"{'' if r['counts'] == floor['counts'] else '  COUNTS DIFFER'}")
    merge, upsert = results["merge"], results["upsert"]
    print(f"targets: merge within 3x of raw: {merge['seconds'] <= 3 * floor['seconds']}; "
          f"faster than naive upsert: {merge['seconds'] < upsert['seconds']}; "
          f"peak under 1 GiB: {merge['peak'] < 2**30}; "
          f"same digest as raw: {merge['digest'] == floor['digest']}")
    if not args.dir:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
