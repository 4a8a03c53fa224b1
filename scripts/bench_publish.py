"""Benchmark of publication and of the public site on 250,000 households (run by hand).

    .venv/bin/python scripts/bench_publish.py [--households 250000] [--dir /tmp/anju-bench]

1. Builds (once; reused from --dir) a registry of N households: a real demo project of 5,000
   households (members, visits, changes) whose record rows are then copied with new ids up to N
   (the change log is not copied: publication reads the record tables and the digest).
2. Times `publish` (target < 60 s for 250,000).
3. Starts our site (`anju serve`) and plain `datasette -i` on the same public.db, and times the
   main table page with its four facets, the dashboard, the lookup and a JSON API query on both,
   interleaved in the same run (median and p95 of sequential requests), where plain Datasette
   gets the closest page it has (the zone table for the dashboard, a filtered table page for the
   lookup). Plain runs twice: with its defaults, and with our settings but no plugins (which
   isolates the cost of the plugins: target under 10%).
4. Requests per second under a 10-connection load from a second process, for both.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from anju.registry.core.store import Registry  # noqa: E402
from anju.registry.publication.publish import publish  # noqa: E402
from anju.registry.publication.serve import PUBLIC_SETTINGS  # noqa: E402

SEED_HOUSEHOLDS = 5000
ROUNDS = 40
LOAD_SECONDS = 10
CONNECTIONS = 10


def build_registry(directory: Path, households: int) -> Path:
    """A registry of `households` households: one real demo project, its rows copied."""
    path = directory / "registry.db"
    if path.exists():
        return path
    from anju.registry.field.demo import build_demo
    seed_dir = directory / "seed"
    t = time.perf_counter()
    build_demo(seed_dir, households=min(SEED_HOUSEHOLDS, households), seed=11)
    print(f"demo of {min(SEED_HOUSEHOLDS, households)} households: "
          f"{time.perf_counter() - t:.1f} s")
    src = sqlite3.connect(seed_dir / "registry.db")
    dst = sqlite3.connect(path)
    src.backup(dst)
    src.close()
    copies = -(-households // SEED_HOUSEHOLDS) - 1
    t = time.perf_counter()
    dst.execute("BEGIN")
    for table, rewrite in (("household", {"id", "house_no"}), ("member", {"id", "household_id"}),
                           ("visit", {"id", "household_id"})):
        cols = [r[1] for r in dst.execute(f"PRAGMA table_info([{table}])")]
        for k in range(1, copies + 1):
            select = ", ".join(f"[{c}] || '-{k}'" if c in rewrite else f"[{c}]" for c in cols)
            limit = ""
            if table == "household":
                limit = f" LIMIT {min(SEED_HOUSEHOLDS, households - k * SEED_HOUSEHOLDS)}"
            dst.execute(f"INSERT INTO [{table}] SELECT {select} FROM [{table}] "
                        f"WHERE id NOT LIKE '%-%-%-%-%-%'{limit}")
    dst.execute("COMMIT")
    dst.close()
    shutil.rmtree(seed_dir)
    print(f"copied rows up to {households} households: {time.perf_counter() - t:.1f} s")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            get(port, "/-/versions.json")
            return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode()) from None
            time.sleep(0.2)
    raise RuntimeError(f"{cmd} did not start")


def get(port: int, path: str, conn: http.client.HTTPConnection | None = None) -> int:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        if own:
            conn.close()


def timings(port: int, path: str, rounds: int) -> list[float]:
    out = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(rounds):
        t = time.perf_counter()
        status = get(port, path, conn)
        out.append(time.perf_counter() - t)
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status}")
    conn.close()
    return out


def p95(values: list[float]) -> float:
    return sorted(values)[max(int(len(values) * 0.95) - 1, 0)]


LOAD_CLIENT = r"""
import http.client, json, sys, threading, time
port, seconds, connections = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
paths = json.loads(sys.argv[4])
count = [0] * connections
errors = [0] * connections
def worker(i):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        conn.request("GET", paths[n % len(paths)])
        r = conn.getresponse(); r.read()
        if r.status == 200: count[i] += 1
        else: errors[i] += 1
        n += 1
threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
t = time.monotonic()
[th.start() for th in threads]; [th.join() for th in threads]
print(json.dumps({"requests": sum(count), "errors": sum(errors), "seconds": time.monotonic() - t}))
"""


def load(port: int, paths: list[str]) -> dict:
    """Requests per second from a second process holding 10 keep-alive connections."""
    out = subprocess.run([sys.executable, "-c", LOAD_CLIENT, str(port), str(LOAD_SECONDS),
                          str(CONNECTIONS), json.dumps(paths)], capture_output=True, text=True,
                         check=True)
    result = json.loads(out.stdout)
    result["rps"] = result["requests"] / result["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=250_000)
    parser.add_argument("--dir", default="/tmp/anju-bench")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    registry = build_registry(directory, args.households)
    public = directory / "public.db"
    with Registry.open(registry) as reg:
        n = reg.conn.execute("SELECT count(*) FROM household").fetchone()[0]
        m = reg.conn.execute("SELECT count(*) FROM member").fetchone()[0]
        t = time.perf_counter()
        summary = publish(reg, public)
        seconds = time.perf_counter() - t
    print(f"\npublish: {n:,} households ({m:,} members) in {seconds:.1f} s "
          f"(target < 60 s) -> {public.stat().st_size / 2**20:.0f} MiB")
    assert summary["households"] == n

    conn = sqlite3.connect(public)
    house_no = conn.execute("SELECT house_no FROM household ORDER BY id DESC LIMIT 1"
                            ).fetchone()[0]
    zone = conn.execute("SELECT zone FROM household LIMIT 1").fetchone()[0]
    conn.close()
    q = urllib.parse.quote
    facets = "&".join(f"_facet={f}" for f in ("zone", "status", "structure", "actual_use"))
    json_api = (f"/public/household.json?zone={q(zone)}&status={q('已签约')}"
                "&_sort=surveyed_area&_size=50&_shape=objects")
    pages = {  # name: (our path, plain Datasette's closest path)
        "table+facets": ("/public/household", f"/public/household?_sort=house_no&{facets}"),
        "dashboard": ("/-/progress", "/public/zone"),
        "lookup": (f"/-/lookup?house_no={q(house_no)}",
                   f"/public/household?house_no={q(house_no)}"),
        # our metadata's default facets apply to the JSON API too: plain gets them asked for
        "json api": (json_api, f"{json_api}&{facets}"),
    }
    ours_port, plain_port, same_port = free_port(), free_port(), free_port()
    same_settings = []
    for k, v in PUBLIC_SETTINGS.items():
        same_settings += ["--setting", k, str(v).lower() if isinstance(v, bool) else str(v)]
    inspect_file = directory / "inspect.json"
    subprocess.run([sys.executable, "-m", "datasette", "inspect", str(public), "--inspect-file",
                    str(inspect_file)], check=True)
    servers = {
        "ours": start([sys.executable, "-m", "anju.registry.cli", "serve", str(public), "--port",
                       str(ours_port)], ours_port),
        "plain": start([sys.executable, "-m", "datasette", "serve", "-i", str(public), "--port",
                        str(plain_port)], plain_port),
        "plain+settings": start([sys.executable, "-m", "datasette", "serve", "-i", str(public),
                                 "--port", str(same_port), "--inspect-file", str(inspect_file),
                                 *same_settings], same_port),
    }
    ports = {"ours": ours_port, "plain": plain_port, "plain+settings": same_port}
    try:
        results: dict[str, dict[str, list[float]]] = {}
        for name, (ours_path, plain_path) in pages.items():
            for server, port in ports.items():
                path = ours_path if server == "ours" else plain_path
                timings(port, path, 3)  # warm-up: first queries, caches
            runs = {s: [] for s in ports}
            for _ in range(args.rounds // 5):  # interleaved, so drift hits all alike
                for server, port in ports.items():
                    path = ours_path if server == "ours" else plain_path
                    runs[server] += timings(port, path, 5)
            results[name] = runs
        print(f"\nsequential requests ({args.rounds} each, ms): median / p95")
        print(f"{'page':14} {'ours':>15} {'plain -i':>15} {'plain+settings':>15} "
              f"{'ours/plain':>11} {'ours/plain+s':>13}")
        for name, runs in results.items():
            med = {s: statistics.median(v) * 1000 for s, v in runs.items()}
            p = {s: p95(v) * 1000 for s, v in runs.items()}
            print(f"{name:14} {med['ours']:7.1f} / {p['ours']:5.1f} "
                  f"{med['plain']:7.1f} / {p['plain']:5.1f} "
                  f"{med['plain+settings']:7.1f} / {p['plain+settings']:5.1f} "
                  f"{med['ours'] / med['plain']:10.2f}x "
                  f"{med['ours'] / med['plain+settings']:12.2f}x")
        print(f"\nload: {CONNECTIONS} connections from a second process, 2 x {LOAD_SECONDS} s "
              "per server (alternating), mix of table+facets, lookup, json api")
        loads: dict[str, list[dict]] = {s: [] for s in ports}
        for order in (list(ports), list(reversed(ports))):
            for server in order:
                mix = [pages[k][0 if server == "ours" else 1]
                       for k in ("table+facets", "lookup", "json api")]
                loads[server].append(load(ports[server], mix))
        for server, runs in loads.items():
            rps = statistics.mean(r["rps"] for r in runs)
            print(f"  {server:15} {rps:7.1f} requests/s ({sum(r['requests'] for r in runs)} ok, "
                  f"{sum(r['errors'] for r in runs)} errors)")
    finally:
        for process in servers.values():
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
