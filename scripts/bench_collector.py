"""Benchmark the collector on a laptop-sized registry: latency of a save and of a list search.

    .venv/bin/python scripts/bench_collector.py [--households 20000] [--dir DIR] [--n 200]
    .venv/bin/python scripts/bench_collector.py --encrypted [--households 20000] [--dir DIR]

Builds (or reuses, with --dir) a demo registry of 20,000 households, then measures through the
Flask test client, in one run:
- save: a new household with two members posted through the form (validation, one transaction,
  synchronous=FULL commit, redirect);
- edit: a follow-up save of an existing household and its members;
- search: the household list with a search term (house number, owner name or address) and
  sometimes a filter, counts and paging included;
- baseline: a bare Flask route doing one SQLite INSERT (same connection settings) per request.
The four are interleaved, so that whatever else the machine does weighs on each alike. Prints
p50 and p95 wall-clock milliseconds, their ratio to the baseline, and the process's CPU time
(what the request costs without waiting for the disk or for other processes). Targets: save p95
< 30 ms, search p95 < 50 ms.

With --encrypted it measures saves side by side instead: on the registry as it is and on an
encrypted copy (SQLCipher, unlocked by the login), interleaved, and prints the ratio (aim < 1.5).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from anju.collector import create_app
from anju.registry.core.store import connect
from anju.registry.field.demo import build_demo
from flask import Flask

ID_NOS = ("11010519491231002X", "440524188001010014")


def percentile(samples: list[float], q: float) -> float:
    """The q-quantile of samples (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def timed(fn, i: int) -> tuple[float, float]:
    """Milliseconds of one call of fn(i): wall-clock time, and CPU time of this process (which
    leaves out waiting for the disk and for other processes on a busy machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(i)
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def baseline_app(path: Path) -> Flask:
    """A bare Flask app whose one route inserts one row into SQLite."""
    app = Flask("baseline")
    conn = connect(path)
    conn.execute("CREATE TABLE IF NOT EXISTS item (id TEXT PRIMARY KEY, body TEXT)")

    @app.post("/insert")
    def insert():
        db = connect(path)  # per request, as the collector opens its registry per request
        db.execute("INSERT INTO item VALUES (?, ?)", (str(uuid.uuid4()), "x" * 200))
        db.close()
        return "ok"

    conn.close()
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=20000)
    parser.add_argument("--dir", type=Path, help="reuse or build the demo here")
    parser.add_argument("--n", type=int, default=200, help="requests per measurement")
    parser.add_argument("--encrypted", action="store_true",
                        help="side by side: saves on the plain registry and on an encrypted "
                             "copy (SQLCipher, registry/core/atrest.py), and their ratio")
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="anju-bench-"))
    db = directory / "registry.db"
    if not db.exists():
        start = time.perf_counter()
        build_demo(directory, households=args.households, devices=3, seed=1)
        print(f"built {db} with {args.households} households in "
              f"{time.perf_counter() - start:.1f} s")
    if args.encrypted:
        encrypted_side_by_side(directory, db, args.n)
        return
    rng = random.Random(7)
    app = create_app(db, {"TESTING": True, "SECRET_KEY": "bench"})
    client = app.test_client()
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"name": "surveyor1", "password": "anju-demo",
                                "csrf_token": token})
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/households/new").text).group(1)
    run = uuid.uuid4().hex[:6]

    def form(i: int, household_id: str, member_ids=("", "")) -> dict:
        return {"csrf_token": token, "household_id": household_id,
                "house_no": f"BENCH-{run}-{i:05d}", "zone": "西门片区",
                "address": f"西门测试街{i}号", "structure": "brick_wood", "owner_name": "张伟",
                "year_built": "1990", "cert_area": "62.5", "owner_phone": "13800138000",
                "m-0-id": member_ids[0], "m-0-name": "张伟", "m-0-id_no": ID_NOS[0],
                "m-0-relation": "head", "m-1-id": member_ids[1], "m-1-name": "李娜",
                "m-1-id_no": ID_NOS[1], "m-1-relation": "spouse", "action": "save"}

    saved: list[str] = []

    def save(i: int) -> None:
        hid = str(uuid.uuid4())
        response = client.post("/households/new", data=form(len(saved), hid))
        assert response.status_code == 302, re.findall(r'role="alert">([^<]+)<', response.text)
        saved.append(hid)

    def edit(i: int) -> None:
        hid = saved[i % len(saved)]
        with app.app_context():
            from anju.collector.db import get_registry
            members = [m["id"] for m in get_registry().children("member", hid)]
        data = form(saved.index(hid), hid, tuple(members))
        data["address"] = f"西门测试街{i}号之{i}"
        response = client.post(f"/households/{hid}/edit", data=data)
        assert response.status_code == 302, response.text[:500]

    with connect(db) as conn:
        names = [r[0] for r in conn.execute("SELECT owner_name FROM household ORDER BY random() "
                                            "LIMIT 100")]
        zones = [r[0] for r in conn.execute("SELECT DISTINCT zone FROM household")]
    terms = [n[:2] for n in names] + [f"A-{rng.randrange(1, 3000):04d}" for _ in range(50)] + \
        ["东关", "路1", "街2"]

    def search(i: int) -> None:
        params = {"q": rng.choice(terms)}
        if i % 3 == 0:
            params["zone"] = rng.choice(zones)
        if i % 5 == 0:
            params["status"] = "unsurveyed"
        if i % 7 == 0:
            params["page"] = "2"
        response = client.get("/households", query_string=params)
        assert response.status_code == 200

    base = baseline_app(directory / "baseline.db").test_client()

    def bare(i: int) -> None:
        assert base.post("/insert").status_code == 200

    for fn in (save, search, bare):  # warm up caches and code paths
        fn(0)
    # Interleaved, so that whatever else the machine does weighs on every measurement alike.
    kinds = {"baseline insert": bare, "save (household + 2 members)": save,
             "follow-up edit": edit, "list search": search}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in kinds}
    for i in range(args.n):
        for name, fn in kinds.items():
            results[name].append(timed(fn, i))
    base_wall = [w for w, _ in results["baseline insert"]]
    floor, floor95 = statistics.median(base_wall), percentile(base_wall, 0.95)
    print(f"\n{'measurement':30} {'p50 ms':>7} {'p95 ms':>7} {'p50/base':>8} {'p95/base':>8} "
          f"{'cpu p50':>7} {'cpu p95':>7}")
    for name, samples in results.items():
        wall, cpu = [w for w, _ in samples], [c for _, c in samples]
        p50, p95 = statistics.median(wall), percentile(wall, 0.95)
        print(f"{name:30} {p50:7.2f} {p95:7.2f} {p50 / floor:8.1f} {p95 / floor95:8.1f} "
              f"{statistics.median(cpu):7.2f} {percentile(cpu, 0.95):7.2f}")
    print(f"\ntargets: save p95 < 30 ms, search p95 < 50 ms ({args.households} households; "
          f"load average during the run {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


def logged_in(db: Path):
    """A test client of the app on `db`, logged in as the demo's surveyor (on an encrypted
    database this login is what unlocks it), and the CSRF token of its form."""
    app = create_app(db, {"TESTING": True, "SECRET_KEY": "bench", "BACKUP_SCHEDULER": False})
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    response = client.post("/login", data={"name": "surveyor1", "password": "anju-demo",
                                           "csrf_token": token})
    assert response.status_code == 302, response.text[:300]
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/households/new").text).group(1)
    return client, token


def encrypted_side_by_side(directory: Path, db: Path, n: int) -> None:
    """Save latency on the plain registry and on an encrypted copy of it, interleaved."""
    import shutil

    from anju.registry.core import atrest
    sealed = directory / "registry-encrypted.db"
    if not atrest.is_encrypted(sealed):  # also a copy left plain by an interrupted run
        sealed.unlink(missing_ok=True)
        with connect(db) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copyfile(db, sealed)
        atrest.encrypt_file(sealed, "surveyor1", "anju-demo")
    atrest.forget_all()  # the encrypted app opens its database at the login, as on a laptop
    run = uuid.uuid4().hex[:6]
    sides = {"plain": logged_in(db), "encrypted": logged_in(sealed)}
    counter = {name: 0 for name in sides}

    def saver(name: str):
        client, token = sides[name]

        def save(i: int) -> None:
            counter[name] += 1
            k = counter[name]
            data = {"csrf_token": token, "household_id": str(uuid.uuid4()),
                    "house_no": f"BENCH-{name[0]}{run}-{k:05d}", "zone": "西门片区",
                    "address": f"西门测试街{k}号", "structure": "brick_wood",
                    "owner_name": "张伟", "year_built": "1990", "cert_area": "62.5",
                    "owner_phone": "13800138000", "m-0-id": "", "m-0-name": "张伟",
                    "m-0-id_no": ID_NOS[0], "m-0-relation": "head", "m-1-id": "",
                    "m-1-name": "李娜", "m-1-id_no": ID_NOS[1], "m-1-relation": "spouse",
                    "action": "save"}
            response = client.post("/households/new", data=data)
            assert response.status_code == 302, response.text[:300]
        return save

    saves = {name: saver(name) for name in sides}
    for fn in saves.values():
        fn(0)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    for i in range(n):
        for name, fn in saves.items():
            results[name].append(timed(fn, i))
    print(f"\n{'save (household + 2 members)':30} {'p50 ms':>7} {'p95 ms':>7} {'cpu p50':>7} "
          f"{'cpu p95':>7}")
    summary = {}
    for name, samples in results.items():
        wall, cpu = [w for w, _ in samples], [c for _, c in samples]
        summary[name] = (statistics.median(wall), percentile(wall, 0.95),
                         statistics.median(cpu), percentile(cpu, 0.95))
        print(f"{name:30} " + " ".join(f"{v:7.2f}" for v in summary[name]))
    ratio = [e / p for e, p in zip(summary["encrypted"], summary["plain"])]
    print(f"{'ratio encrypted / plain':30} " + " ".join(f"{v:7.2f}" for v in ratio))
    print(f"\naim: ratio < 1.5 ({n} saves each; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
