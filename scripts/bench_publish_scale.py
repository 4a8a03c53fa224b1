"""Benchmark `anju publish` and the public site at scale, each figure against its floor.

    .venv/bin/python scripts/bench_publish_scale.py [--households 50000] [--dir DIR]
                                                    [--rounds 60] [--province 20] [--no-site]

1. Builds (or reuses, in --dir) a registry with scripts/bench_scale.py's bulk builder, then makes
   it realistic for publication: the agreements get real frozen breakdowns (taken from a small
   demo project, so compensation columns are published), a third of the households a free-text
   attachments description (some naming a neighbour, which the scrubber must mask), and the
   household's `publish: total` choice fields (wishes) values.
2. Times `anju publish` in a fresh process: wall time and peak RSS (ru_maxrss of that process,
   and separately of the digest helper it starts); floor: a plain `INSERT ... SELECT` of the
   published columns, in publication order, into a fresh file (same run).
3. Serves the public.db with our site (`anju serve`) and with plain Datasette (no plugins at
   all, our settings, the inspect file: tuned plain), and times, interleaved, the table page with
   its four facets and the facet pages filtered by zone, by status, and by both (p50/p95 of
   sequential requests); plain gets the same facets asked for by `_facet=`. Our server's peak
   RSS is read from /proc.
4. With --facets (in one process, through ds.client): our site on the public.db against the
   same site on a copy of the file without facet_count, i.e. Datasette's own facet queries,
   JSON with _size=1 (the facets alone) and the HTML pages; p50/p95 of interleaved requests.
5. With --province K: K copies of the public.db as K projects on one province site
   (`anju province`) against plain Datasette serving the same K files.
Prints each figure and its ratio to the floor.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import bench_scale  # noqa: E402
from bench_publish import free_port, p95, start, timings  # noqa: E402

FACETS = ("zone", "status", "structure", "actual_use")
PLAIN = ("import sys; sys._called_from_test = True\n"  # datasette then loads no plugins
         "from datasette.cli import cli; cli()")
PUBLISH = r"""
import json, resource, sys, time
from anju.registry.core.store import Registry
from anju.registry.publication.publish import publish
t = time.perf_counter()
with Registry.open(sys.argv[1]) as reg:
    summary = publish(reg, sys.argv[2])
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "households": summary["households"],
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "helper_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def enrich(path: Path, seed: int = 3) -> None:
    """Real agreement breakdowns, free text and wishes on a bulk-built registry."""
    from anju.registry.core.store import Registry
    from anju.registry.field.demo import build_demo
    rnd = random.Random(seed)
    demo_dir = path.parent / "breakdown-demo"
    if demo_dir.exists():
        shutil.rmtree(demo_dir)
    demo = build_demo(demo_dir, households=120, seed=seed)
    with sqlite3.connect(demo) as conn:
        templates = conn.execute("SELECT mode, breakdown, total FROM agreement WHERE "
                                 "deleted IS NULL AND amends IS NULL").fetchall()
    shutil.rmtree(demo_dir)
    with Registry.open(path) as reg:
        defn = reg.definition.record("household")
        wishes = [f for f in defn.columns if f.publish == "total" and f.type == "select_one"
                  and not f.sensitive]
        conn = reg.conn
        ids = [r[0] for r in conn.execute("SELECT id FROM agreement")]
        members = [r[0] for r in conn.execute("SELECT name FROM member ORDER BY random() "
                                              "LIMIT 5000")]
        conn.execute("BEGIN")
        conn.executemany("UPDATE agreement SET mode = ?, breakdown = ?, total = ? WHERE id = ?",
                         [(*templates[i % len(templates)], aid) for i, aid in enumerate(ids)])
        hids = [r[0] for r in conn.execute("SELECT id FROM household")]
        texts = []
        for hid in hids:
            if rnd.random() < 0.33:
                text = f"围墙{rnd.randrange(2, 40)}米、水井{rnd.randrange(1, 3)}口"
                if rnd.random() < 0.06:
                    text += f"，与{rnd.choice(members)}家共用"
                texts.append((text, hid))
        conn.executemany("UPDATE household SET attachments_desc = ? WHERE id = ?", texts)
        for f in wishes:
            values = [c.value for c in f.choices]
            conn.executemany(f"UPDATE household SET [{f.name}] = ? WHERE id = ?",
                             [(rnd.choice(values), hid) for hid in hids if rnd.random() < 0.6])
        conn.execute("COMMIT")


def published_columns(registry: Path) -> list[str]:
    from anju.registry.core.store import Registry
    from anju.registry.publication.publish import public_fields
    with Registry.open(registry) as reg:
        shown, _ = public_fields(reg)
        stored = {r[1] for r in reg.conn.execute("PRAGMA table_info(household)")}
    return [f.name for f in shown if f.name in stored] + ["status"]


def floor_publish(registry: Path, out: Path) -> float:
    """A plain INSERT ... SELECT of the published columns in publication order."""
    out.unlink(missing_ok=True)
    cols = ", ".join(f"[{c}]" for c in published_columns(registry))
    t = time.perf_counter()
    conn = sqlite3.connect(out, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("ATTACH DATABASE ? AS reg", (f"file:{registry}?mode=ro",))
    conn.execute("BEGIN")
    conn.execute(f"CREATE TABLE household AS SELECT {cols} FROM reg.household WHERE 0")
    conn.execute(f"INSERT INTO household SELECT {cols} FROM reg.household NOT INDEXED "
                 "WHERE deleted IS NULL ORDER BY zone, house_no, id")
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - t


def peak_rss(pid: int) -> float:
    """VmHWM of a running process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def site_pages(public: Path, database: str) -> dict[str, tuple[str, str]]:
    conn = sqlite3.connect(public)
    zone = conn.execute("SELECT zone FROM household GROUP BY zone ORDER BY count(*) DESC"
                        ).fetchone()[0]
    status = conn.execute("SELECT status FROM household GROUP BY status ORDER BY count(*) DESC"
                          ).fetchone()[0]
    conn.close()
    q = urllib.parse.quote
    facets = "&".join(f"_facet={f}" for f in FACETS)
    base = f"/{database}/household"
    return {
        "table+facets": (base, f"{base}?_sort=house_no&{facets}"),
        "zone page": (f"{base}?zone={q(zone)}", f"{base}?zone={q(zone)}&_sort=house_no&{facets}"),
        "status page": (f"{base}?status={q(status)}",
                        f"{base}?status={q(status)}&_sort=house_no&{facets}"),
        "zone+status": (f"{base}?zone={q(zone)}&status={q(status)}",
                        f"{base}?zone={q(zone)}&status={q(status)}&_sort=house_no&{facets}"),
        "facets .json": (f"{base}.json?zone={q(zone)}&_size=1",
                         f"{base}.json?zone={q(zone)}&_size=1&_sort=house_no&{facets}"),
    }


def compare(ours: list[str], plain: list[str], pages: dict, rounds: int, label: str) -> None:
    """Start both servers, time the pages interleaved, print p50/p95 and ratios."""
    from anju.registry.publication.serve import PUBLIC_SETTINGS
    ours_port, plain_port = free_port(), free_port()
    settings = []
    for k, v in PUBLIC_SETTINGS.items():
        settings += ["--setting", k, str(v).lower() if isinstance(v, bool) else str(v)]
    servers = {
        "ours": start([*ours, "--port", str(ours_port)], ours_port),
        "plain": start([*plain, "--port", str(plain_port), *settings], plain_port),
    }
    ports = {"ours": ours_port, "plain": plain_port}
    try:
        results = {}
        for name, paths in pages.items():
            for i, port in enumerate(ports.values()):
                timings(port, paths[i], 3)  # warm-up
            runs = {s: [] for s in ports}
            for _ in range(max(1, rounds // 5)):
                for i, (server, port) in enumerate(ports.items()):
                    runs[server] += timings(port, paths[i], 5)
            results[name] = runs
        print(f"\n{label}: sequential requests ({rounds} each, ms) p50 / p95")
        print(f"{'page':14} {'ours':>15} {'plain':>15} {'ours/plain p95':>15}")
        for name, runs in results.items():
            med = {s: statistics.median(v) * 1000 for s, v in runs.items()}
            p = {s: p95(v) * 1000 for s, v in runs.items()}
            print(f"{name:14} {med['ours']:7.1f} / {p['ours']:5.1f} "
                  f"{med['plain']:7.1f} / {p['plain']:5.1f} {p['ours'] / p['plain']:14.2f}x")
        print(f"  our server's peak RSS {peak_rss(servers['ours'].pid):.0f} MiB, plain "
              f"{peak_rss(servers['plain'].pid):.0f} MiB")
    finally:
        for process in servers.values():
            process.terminate()
            process.wait(timeout=10)


def facets_alone(public: Path, rounds: int) -> None:
    """Our facets (the counts table) against Datasette's own (the file without it)."""
    import asyncio

    from anju.registry.publication.serve import build_datasette
    plain = public.parent / "nofacet" / public.name
    plain.parent.mkdir(exist_ok=True)
    shutil.copy(public, plain)
    conn = sqlite3.connect(plain)
    conn.execute("DROP TABLE facet_count")
    conn.execute("DROP TABLE facet_column")
    conn.commit()
    conn.close()
    pages = {name: paths[0] for name, paths in site_pages(public, "public").items()}
    pages = {**{f"{k} .json": (v.replace("/household", "/household.json", 1)
                               + ("&" if "?" in v else "?") + "_size=1")
                for k, v in pages.items() if not k.endswith(".json")},
             "html table": pages["table+facets"], "html zone": pages["zone page"]}

    async def run() -> None:
        sites = {"counts": build_datasette(public), "datasette": build_datasette(plain)}
        for ds in sites.values():
            await ds.invoke_startup()
        print(f"\nfacets alone, in process ({rounds} each, ms) p50 / p95")
        for name, path in pages.items():
            times: dict[str, list[float]] = {k: [] for k in sites}
            for i in range(rounds + 3):
                for k, ds in sites.items():
                    t = time.perf_counter()
                    response = await ds.client.get(path)
                    if i >= 3:
                        times[k].append(time.perf_counter() - t)
                    assert response.status_code == 200, path
            a, b = times["counts"], times["datasette"]
            print(f"{name:18} {statistics.median(a) * 1000:7.1f} / {p95(a) * 1000:6.1f} "
                  f"{statistics.median(b) * 1000:7.1f} / {p95(b) * 1000:6.1f} "
                  f"{p95(a) / p95(b):6.2f}x")
    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=50_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/anju-bench-publish"))
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--province", type=int, default=0, help="projects on a province site")
    parser.add_argument("--no-site", action="store_true")
    parser.add_argument("--facets", action="store_true", help="the facets alone, in process")
    parser.add_argument("--no-publish", action="store_true", help="reuse DIR/public.db")
    args = parser.parse_args()
    directory = args.dir
    directory.mkdir(parents=True, exist_ok=True)
    registry = directory / "registry.db"
    if not (directory / "enriched").exists():
        if not registry.exists():
            t = time.perf_counter()
            bench_scale.build(registry, args.households)
            print(f"built {args.households:,} households in {time.perf_counter() - t:.0f} s")
        t = time.perf_counter()
        enrich(registry)
        (directory / "enriched").touch()
        print(f"enriched in {time.perf_counter() - t:.0f} s")
    public = directory / "public.db"
    if args.no_publish:
        if args.facets:
            facets_alone(public, args.rounds)
        return
    out = subprocess.run([sys.executable, "-c", PUBLISH, str(registry), str(public)],
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    run = json.loads(out.stdout.strip().splitlines()[-1])
    floor = floor_publish(registry, directory / "floor.db")
    print(f"\npublish {run['households']:,} households: {run['seconds']:.1f} s, peak RSS "
          f"{run['rss']:.0f} MiB (digest helper {run['helper_rss']:.0f} MiB); floor (INSERT ... "
          f"SELECT of the published columns) {floor:.1f} s: {run['seconds'] / floor:.1f}x")
    print(f"  registry {registry.stat().st_size / 2**20:.0f} MiB, public.db "
          f"{public.stat().st_size / 2**20:.0f} MiB")
    if args.facets:
        facets_alone(public, args.rounds)
    if args.no_site:
        return
    inspect = directory / "inspect.json"
    subprocess.run([sys.executable, "-c", PLAIN, "inspect", str(public), "--inspect-file",
                    str(inspect)], check=True, cwd=ROOT)
    compare([sys.executable, "-m", "anju.registry.cli", "serve", str(public)],
            [sys.executable, "-c", PLAIN, "serve", "-i", str(public), "--inspect-file",
             str(inspect)], site_pages(public, "public"), args.rounds,
            f"public site, {run['households']:,} households")
    if args.province:
        pdir = directory / "province"
        pdir.mkdir(exist_ok=True)
        files = []
        for k in range(1, args.province + 1):
            target = pdir / f"p{k:02d}.db"
            if not target.exists():
                shutil.copy(public, target)
            files.append(str(target))
        pinspect = pdir / "inspect.json"
        subprocess.run([sys.executable, "-c", PLAIN, "inspect", *files, "--inspect-file",
                        str(pinspect)], check=True, cwd=ROOT)
        pages = site_pages(public, f"p{args.province // 2:02d}")
        compare([sys.executable, "-m", "anju.registry.cli", "province", *files],
                [sys.executable, "-c", PLAIN, "serve", *[a for f in files for a in ("-i", f)],
                 "--inspect-file", str(pinspect)], pages, args.rounds,
                f"province, {args.province} projects of {run['households']:,} households")


if __name__ == "__main__":
    main()
