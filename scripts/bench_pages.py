"""Benchmark the central office's pages and reports on one big registry, against floors.

    nice -n 10 .venv/bin/python scripts/bench_pages.py [--households 50000 | --250k | --1m]
                                                       [--dir DIR] [--n 20] [--before]

Builds (or reuses, with --dir) a registry with scripts/bench_scale.py's bulk builder, then makes
it look like a project in its signing campaign (`enrich`): certificate areas on every house,
about half of the households signed (signed / handed over / demolished) with an agreement whose
breakdown is a real frozen breakdown (1.7 KB of JSON, money or swap), a payment for most of them,
a status change per stage reached spread over 120 days (so the trend has days to count), a few
amendments and double agreements, and the checks' flags (`run_checks`).

Then measures, each in a fresh child process so that its peak memory is its own (ru_maxrss):

- pages through the real Flask test client, logged in as a supervisor: /progress,
  /compensation, /review, a zone's list (first page and a deep page); p50/p95 over --n
  requests. Floor: one SQL read of the same figures on the same file (the page's counts and
  sums as one plain GROUP BY, its rows as one LIMIT query), p95 of the same number of runs.
- `anju report` (registry.review.report: the snapshot once, the 日报 workbook and the summary)
  against one SQL read of its per-zone figures.
- all zone lists as one XLSX workbook (every household of the registry, write-only openpyxl)
  against one SQL read of the same rows (household columns joined with their agreements) and,
  as a second floor, writing those rows with openpyxl write-only and nothing else.
- --before: the same pages and reports the straightforward way (lists.zone_list per zone, the
  trend from the whole log, the streaming-free 日报), once, to show what was saved.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_scale  # noqa: E402  (the bulk builder)

SIGNED = ("signed", "handed_over", "demolished")
DAYS = 120


def percentile(samples: list[float], q: float) -> float:
    return bench_scale.percentile(samples, q)


def _template() -> dict:
    """A real frozen breakdown (the demo's shape), as the template of every agreement."""
    items = [
        ("house_value", "被征收房屋价值补偿", "1039650.00", "认定面积 × 评估单价"),
        ("flat_value", "安置房价款(抵扣)", "-585000.00", "-(安置房面积 × 安置房单价)"),
        ("decoration", "装修补偿", "0.00", "认定面积 × 装修补偿标准 = 119.50 × 0.00"),
        ("moving", "搬迁费", "2868.00", "每次 max(认定面积 × 标准, 最低额) × 次数 = 1,434.00 × 2"),
        ("temporary", "临时安置费", "96795.00", "计费面积 × 标准 × 前 18 个月 + 其后 18 个月加倍"),
        ("incentive", "签约奖励", "30000.00", "定额 30,000.00")]
    return {"area": "119.50", "area_basis": "证载面积 119.50㎡", "difference": "-454650.00",
            "flat": {"area": "90", "code": "F90", "label": "90㎡三室两厅(期房)", "ready": False,
                     "unit_price": "6500", "value": "585000.00"},
            "house": {"address": "", "cert_area": 119.5, "decoration": "none", "house_no": "",
                      "structure": "brick_wood", "surveyed_area": 126.13,
                      "unregistered_area": None, "year_built": 1960, "zone": ""},
            "items": [{"amount": amount, "basis": f"{label}:认定面积 119.50㎡;标准依补偿方案",
                       "formula": formula, "key": key, "label": label}
                      for key, label, amount, formula in items],
            "missing": [], "mode": "swap", "on": "2026-11-09",
            "options": {"flat": "F90", "transition_flat": False},
            "rules": {"basis": None, "computed_on": "2026-11-09", "effective_from": None,
                      "hash": "fa4c9a7ec4ccf303", "name": "示例", "version": "2026-1"},
            "total": "584313.00"}


def enrich(db: Path, seed: int = 3, checks: bool = True) -> None:
    """Make the bulk-built registry a project in its signing campaign (see the module doc)."""
    import datetime as dt

    from anju.registry.core.changes import now
    from anju.registry.core.store import Registry
    from anju.registry.review.checks import run_checks
    rnd = random.Random(seed)
    reg = Registry.open(db)
    conn, device = reg.conn, reg.device_id
    conn.execute("PRAGMA synchronous=OFF")
    seq = conn.execute("SELECT coalesce(max(seq), 0) FROM change WHERE device_id = ?",
                       (device,)).fetchone()[0]
    start = dt.date(2026, 7, 1)
    stamp = now()
    template = _template()
    conn.execute("BEGIN")
    conn.execute("DELETE FROM agreement")  # the bulk builder's agreements carry no breakdown
    conn.execute("DELETE FROM change WHERE record_type = 'agreement'")
    conn.execute("UPDATE household SET cert_area = 30 + (abs(random()) % 12000) / 100.0, "
                 "surveyed_area = 30 + (abs(random()) % 12000) / 100.0")
    rows = conn.execute("SELECT id, house_no, zone, status FROM household").fetchall()
    agreements, payments, changes, statuses = [], [], [], []
    path = ["surveyed", "published", "valued", "signed", "handed_over", "demolished"]
    for i, (hid, house_no, zone, status) in enumerate(rows):
        if status != "unsurveyed" and rnd.random() < 0.75:
            status = rnd.choice(("signed",) * 5 + ("handed_over",) * 2 + ("demolished",))
        elif status in SIGNED:
            status = "valued"
        statuses.append((status, hid))
        if status == "unsurveyed":
            continue
        day = start + dt.timedelta(days=rnd.randrange(DAYS - 30))
        for stage in path[:path.index(status) + 1] if status in path else ["surveyed", status]:
            seq += 1
            at = f"{day.isoformat()}T0{rnd.randrange(10)}:00:00.000000Z"
            changes.append((str(uuid.UUID(int=rnd.getrandbits(128))), device, seq, "household",
                            hid, json.dumps({"status": stage}), "{}", at, "bench", None, stamp))
            day += dt.timedelta(days=rnd.randrange(0, 6))
            if stage == "signed":
                signed_on = day.isoformat()
        if status not in SIGNED:
            continue
        mode = "swap" if rnd.random() < 0.4 else "money"
        area = f"{30 + rnd.randrange(12000) / 100:.2f}"
        total = f"{rnd.randrange(-200000_00, 1500000_00) / 100 if mode == 'swap' else rnd.randrange(100000_00, 1500000_00) / 100:.2f}"  # noqa: E501
        b = dict(template, area=area, total=total, mode=mode, on=signed_on)
        b["house"] = dict(template["house"], house_no=house_no, zone=zone)
        if mode == "money":
            b["flat"], b["difference"] = None, None
        aid = str(uuid.UUID(int=rnd.getrandbits(128)))
        n = len(agreements)
        agreements.append((aid, hid, f"AG-{i:07d}", signed_on, mode, json.dumps(
            b, ensure_ascii=False), float(total), None, None, stamp, "bench", stamp, "bench"))
        if n % 500 == 7:  # an amendment now and then: the amended one is not in force
            agreements.append((str(uuid.UUID(int=rnd.getrandbits(128))), hid, f"AG-{i:07d}-B1",
                               signed_on, mode, json.dumps(b, ensure_ascii=False),
                               float(total) + 100, aid, "面积更正", stamp, "bench", stamp,
                               "bench"))
        elif n % 997 == 11:  # a double agreement: none in force
            agreements.append((str(uuid.UUID(int=rnd.getrandbits(128))), hid, f"AG-{i:07d}-X",
                               signed_on, mode, json.dumps(b, ensure_ascii=False),
                               float(total), None, None, stamp, "bench", stamp, "bench"))
        if float(total) > 0 and rnd.random() < 0.7:
            payments.append((str(uuid.UUID(int=rnd.getrandbits(128))), hid, aid,
                             round(float(total) * rnd.choice((0.5, 1.0)), 2), signed_on,
                             "bank_transfer", f"V{i:07d}", None, None, stamp, "bench", stamp,
                             "bench"))
    conn.executemany("UPDATE household SET status = ? WHERE id = ?", statuses)
    conn.executemany("INSERT INTO change (change_id, device_id, seq, record_type, record_id, "
                     "fields, base, at, by, note, received_at) VALUES "
                     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", changes)
    conn.executemany("INSERT INTO agreement (id, household_id, number, signed_on, mode, "
                     "breakdown, total, amends, reason, created_at, created_by, updated_at, "
                     "updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", agreements)
    conn.executemany("INSERT INTO change (change_id, device_id, seq, record_type, record_id, "
                     "fields, base, at, by, note, received_at) SELECT lower(hex(randomblob(16))),"
                     " ?, ?, 'agreement', ?, '{}', '{}', ?, 'bench', NULL, ?",
                     [(device, seq + 1 + k, a[0], stamp, stamp) for k, a in enumerate(agreements)])
    conn.executemany("INSERT INTO payment (id, household_id, agreement, amount, paid_on, method, "
                     "voucher_no, reverses, reason, created_at, created_by, updated_at, "
                     "updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", payments)
    conn.execute("INSERT INTO user (name, password_hash, role, created_at) SELECT 'boss', "
                 "password_hash, 'supervisor', created_at FROM user WHERE name = ?",
                 (bench_scale.SURVEYORS[0],))
    conn.execute("COMMIT")
    if checks:
        t = time.perf_counter()
        flags = run_checks(reg)
        print(f"  checks: {len(flags)} flags in {time.perf_counter() - t:.1f} s")
    conn.execute("ANALYZE")
    reg.close()


# ---------------------------------------------------------------- measurements (children)

def _floor_sql(conn, kind: str, zone: str):
    """The floor of each measurement: one plain SQL read of the same figures or rows."""
    signed = ", ".join(f"'{s}'" for s in SIGNED)
    if kind == "compensation":
        return conn.execute(
            f"SELECT h.zone, count(*), sum(h.status IN ({signed})), sum(a.total) FROM household h "
            "LEFT JOIN agreement a ON a.household_id = h.id AND a.deleted IS NULL "
            "WHERE h.deleted IS NULL GROUP BY h.zone").fetchall()
    if kind == "progress":
        return (conn.execute("SELECT zone, cadre, status, count(*) FROM household WHERE deleted "
                             "IS NULL GROUP BY zone, cadre, status").fetchall(),
                conn.execute("SELECT status, day, n FROM stage_day").fetchall())
    if kind == "review":
        return (conn.execute("SELECT kind, count(*) FROM flag GROUP BY kind").fetchall(),
                conn.execute("SELECT * FROM flag ORDER BY found_at DESC LIMIT 50").fetchall())
    if kind.startswith("zone"):
        offset = 0 if kind == "zone_p1" else _deep_offset(conn, zone)
        return conn.execute(
            "SELECT h.*, a.number, a.total, a.breakdown FROM (SELECT * FROM household WHERE "
            "zone = ? AND deleted IS NULL ORDER BY house_no, id LIMIT 100 OFFSET ?) h "
            "LEFT JOIN agreement a ON a.household_id = h.id", (zone, offset)).fetchall()
    raise ValueError(kind)


def _deep_offset(conn, zone: str) -> int:
    n = conn.execute("SELECT count(*) FROM household WHERE zone = ?", (zone,)).fetchone()[0]
    return max(n // 100 - 1, 0) * 100 // 2 // 100 * 100  # the middle of the zone


def child_pages(db: str, n: int) -> dict:
    """The web pages through the Flask test client (this process is the server)."""
    from urllib.parse import quote

    from anju.collector import create_app
    from anju.registry.core.store import connect
    app = create_app(db, {"TESTING": True, "SECRET_KEY": "bench"})
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"name": "boss", "password": bench_scale.PASSWORD,
                                       "csrf_token": token}).status_code == 302
    floor = connect(db)
    zone = floor.execute("SELECT zone FROM household GROUP BY zone ORDER BY count(*) DESC "
                         "LIMIT 1").fetchone()[0]
    deep = _deep_offset(floor, zone) // 100 + 1
    urls = {"progress": "/progress", "compensation": "/compensation", "review": "/review",
            "zone_p1": f"/compensation/zones/{quote(zone)}/list",
            "zone_deep": f"/compensation/zones/{quote(zone)}/list?page={deep}"}
    out = {}
    for kind, url in urls.items():
        web, bare = [], []
        first = time.perf_counter()
        r = client.get(url)
        first = time.perf_counter() - first
        assert r.status_code == 200, (url, r.status_code, r.text[:300])
        for _ in range(n):
            t = time.perf_counter()
            r = client.get(url)
            web.append(time.perf_counter() - t)
            assert r.status_code == 200
            t = time.perf_counter()
            _floor_sql(floor, kind, zone)
            bare.append(time.perf_counter() - t)
        out[kind] = {"first": first, "p50": percentile(web, .5), "p95": percentile(web, .95),
                     "floor_p95": percentile(bare, .95), "bytes": len(r.data)}
    return out


def child_report(db: str) -> dict:
    from anju.registry.core.store import Registry, connect
    from anju.registry.review.report import figures, text_summary, write_xlsx
    with Registry.open(db) as reg:
        t = time.perf_counter()
        computed = figures(reg)
        out = Path(tempfile.mkdtemp()) / "report.xlsx"
        write_xlsx(reg, out, computed=computed)
        text_summary(reg, computed=computed)
        took = time.perf_counter() - t
    floor = connect(db)
    t = time.perf_counter()
    _floor_sql(floor, "compensation", "")
    _floor_sql(floor, "progress", "")
    return {"seconds": took, "floor": time.perf_counter() - t}


def child_xlsx(db: str) -> dict:
    from anju.registry.compensation import lists
    from anju.registry.core.store import Registry, connect
    from openpyxl import Workbook
    with Registry.open(db) as reg:
        t = time.perf_counter()
        book = lists.workbook(reg)
        target = Path(tempfile.mkdtemp()) / "lists.xlsx"
        book.save(target)
        took = time.perf_counter() - t
    size = target.stat().st_size
    floor = connect(db)
    t = time.perf_counter()
    rows = floor.execute(
        "SELECT h.house_no, h.owner_name, h.address, h.structure, h.cert_area, h.status, "
        "a.mode, a.number, a.signed_on, a.total FROM household h LEFT JOIN agreement a "
        "ON a.household_id = h.id AND a.deleted IS NULL WHERE h.deleted IS NULL "
        "ORDER BY h.zone, h.house_no")
    count = 0
    for _ in rows:
        count += 1
    read = time.perf_counter() - t
    t = time.perf_counter()
    plain = Workbook(write_only=True)
    sheet = plain.create_sheet("x")
    for row in floor.execute(
            "SELECT h.house_no, h.owner_name, h.address, h.structure, h.cert_area, h.status, "
            "a.mode, a.number, a.signed_on, a.total FROM household h LEFT JOIN agreement a "
            "ON a.household_id = h.id AND a.deleted IS NULL WHERE h.deleted IS NULL "
            "ORDER BY h.zone, h.house_no"):
        sheet.append(list(row))
    plain.save(Path(tempfile.mkdtemp()) / "plain.xlsx")
    return {"seconds": took, "floor_read": read, "floor_write": time.perf_counter() - t,
            "rows": count, "mib": size / 2**20}


def child_before(db: str) -> dict:
    """The straightforward paths, once each (what the pages cost before issue 21)."""
    import datetime as dt

    from anju.registry.compensation import lists
    from anju.registry.core.store import Registry
    from anju.registry.review import daily, progress
    out = {}
    with Registry.open(db) as reg:
        t = time.perf_counter()
        [lists.zone_list(reg, z) for z in lists.zones(reg)]
        out["compensation"] = time.perf_counter() - t
        t = time.perf_counter()
        progress.trend_from_log(reg)
        out["trend"] = time.perf_counter() - t
        t = time.perf_counter()
        daily.zone_rows_straightforward(reg, dt.date.today())
        out["daily"] = time.perf_counter() - t
    return out


def run_child(what: str, db: Path, n: int) -> tuple[dict, float]:
    """Run one measurement in a child process; its result and its peak memory (MiB)."""
    proc = subprocess.run([sys.executable, __file__, "--child", what, "--db", str(db),
                           "--n", str(n)], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result["value"], result["rss"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=50000)
    parser.add_argument("--250k", dest="h250", action="store_true")
    parser.add_argument("--1m", dest="h1m", action="store_true")
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--before", action="store_true")
    parser.add_argument("--no-checks", action="store_true", help="build without the flags")
    parser.add_argument("--no-xlsx", action="store_true", help="skip the XLSX measurement")
    parser.add_argument("--child")
    parser.add_argument("--db")
    args = parser.parse_args()
    if args.child:
        value = {"pages": lambda: child_pages(args.db, args.n),
                 "report": lambda: child_report(args.db), "xlsx": lambda: child_xlsx(args.db),
                 "before": lambda: child_before(args.db)}[args.child]()
        # VmHWM: this process's own peak (ru_maxrss would carry the parent's across exec)
        status = Path("/proc/self/status").read_text()
        rss = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024 if "VmHWM" in status \
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"value": value, "rss": rss}))
        return
    households = 1_000_000 if args.h1m else 250_000 if args.h250 else args.households
    directory = args.dir or Path(tempfile.mkdtemp(prefix="anju-pages-"))
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "registry.db"
    if not db.exists():
        t = time.perf_counter()
        print(f"building {households} households in {db} ...")
        bench_scale.build(db, households)
        enrich(db, checks=not args.no_checks)
        print(f"  built in {time.perf_counter() - t:.1f} s, {db.stat().st_size / 2**20:.0f} MiB")
    from anju.registry.core import page_indexes
    from anju.registry.core.store import connect
    with connect(db) as conn:
        t = time.perf_counter()
        page_indexes.ensure(conn)
        print(f"  pages' indexes: {time.perf_counter() - t:.1f} s")
        counts = conn.execute("SELECT (SELECT count(*) FROM household), (SELECT count(*) FROM "
                              "agreement), (SELECT count(*) FROM payment), (SELECT count(*) "
                              "FROM change), (SELECT count(*) FROM flag)").fetchone()
    print(f"{counts[0]} households, {counts[1]} agreements, {counts[2]} payments, "
          f"{counts[3]} changes, {counts[4]} flags; {os.cpu_count()} cores (shared)")
    pages, rss = run_child("pages", db, args.n)
    print(f"\npages ({args.n} requests each, seconds; server peak {rss:.0f} MiB)")
    print(f"{'page':<14}{'first':>8}{'p50':>8}{'p95':>8}{'floor p95':>10}{'p95/floor':>10}"
          f"{'KiB':>7}")
    for kind, m in pages.items():
        print(f"{kind:<14}{m['first']:8.3f}{m['p50']:8.3f}{m['p95']:8.3f}{m['floor_p95']:10.3f}"
              f"{m['p95'] / max(m['floor_p95'], 1e-6):10.1f}{m['bytes'] / 1024:7.0f}")
    rep, rss = run_child("report", db, 1)
    print(f"\nanju report: {rep['seconds']:.1f} s, floor {rep['floor']:.2f} s, ratio "
          f"{rep['seconds'] / rep['floor']:.1f}, peak {rss:.0f} MiB")
    xl, rss = run_child("xlsx", db, 1) if not args.no_xlsx else (None, 0)
    if xl:
        print(f"all zone lists XLSX ({xl['rows']} households, {xl['mib']:.1f} MiB): "
              f"{xl['seconds']:.1f} s, floor read {xl['floor_read']:.2f} s (ratio "
              f"{xl['seconds'] / xl['floor_read']:.1f}), floor read+write "
              f"{xl['floor_write']:.1f} s (ratio {xl['seconds'] / xl['floor_write']:.2f}), "
              f"peak {rss:.0f} MiB")
    if args.before:
        before, rss = run_child("before", db, 1)
        print(f"\nbefore (straightforward paths, once): /compensation's zone lists "
              f"{before['compensation']:.1f} s, trend from the log {before['trend']:.1f} s, "
              f"日报 zone rows {before['daily']:.1f} s; peak {rss:.0f} MiB")


if __name__ == "__main__":
    main()
