"""Benchmark the collector's household search on one big registry, against an honest floor.

    .venv/bin/python scripts/bench_scale.py [--households 50000 | --250k | --1m] [--dir DIR]
                                            [--n 200]

Builds (or reuses, with --dir) a registry of N households (default 50,000) in bulk: households
with 1-5 members, visits and, for a fifth of them, a signed agreement, each record with its
change row, written with executemany in big transactions; names and addresses come from small
character lists, not from a faker. Then builds the list's indexes and the trigram index (timed),
and measures, interleaved, through the real Flask test client (logged in, whole page rendered:
tiles, filter menus, counts):

- house: an exact house number;          floor: `house_no = ?` on its index
- owner: an owner's surname (1-2 chars); floor: a range scan of an owner-name index, 50 rows
- addr3: a 3-4 character address slice;  floor: the trigram MATCH, 50 rows
- sub2:  a 2 character name/address slice; floor: none cheaper exists in plain SQL, so the
         reference is the plain LIKE walk over the covering index, 50 rows (ratio < 1: a gain)
- list:  the first page, no term;        floor: 50 rows in house-number order

Each floor is the bare SQL on the same file through its own connection, measured in the same
run; `find` is the search layer alone (registry.core.search.find, same connection as the floor).
So web/floor says what the collector adds in all (Flask, the page, the tiles, the menus) and
find/floor what the search's own queries (exact counts, the LIKE check) add. Prints p50/p95 in
milliseconds and the ratios.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from anju.collector import create_app
from anju.collector.households import ensure_indexes
from anju.registry.core import search
from anju.registry.core.changes import now
from anju.registry.core.store import Registry, connect
from werkzeug.security import generate_password_hash

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾"
                "肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾"
                "夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史") + ["欧阳", "司马", "上官", "诸葛"]
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂兰建华玉梅志国红文斌辉鹏飞波宇浩凯")
ROADS = list("东西南北中新老和平解放人民建设胜利光明幸福团结文化朝阳红旗友谊")
KINDS = ["街", "路", "巷", "胡同", "里"]
ZONES = [f"{a}片区{b}地块" for a in ("东关", "西门", "南城", "北关", "河滨") for b in "ABCD"]
STATUSES = ["unsurveyed"] * 5 + ["surveyed"] * 3 + ["published", "valued", "signed"]
PASSWORD = "bench"
SURVEYORS = [f"surveyor{i}" for i in range(20)]  # who saved each household: the "mine" tile


def percentile(samples: list[float], q: float) -> float:
    """The q-quantile of samples (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def name(rnd: random.Random) -> str:
    return rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.choice((1, 2))))


def build(path: Path, households: int, seed: int = 1) -> None:
    """A registry of `households` households with members, visits and agreements, in bulk."""
    rnd = random.Random(seed)
    reg = Registry.create(path, project="规模测试", role="central", device_name="central")
    conn, device = reg.conn, reg.device_id
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("INSERT INTO user (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                 (SURVEYORS[0], generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"),
                  "surveyor", now()))
    streets = [a + b + k for a in ROADS for b in ROADS if a != b for k in KINDS][:400]
    cadres = [name(rnd) for _ in range(40)]
    seq, stamp = 0, now()
    batch = 20000
    for start in range(0, households, batch):
        rows: dict[str, list] = {"household": [], "member": [], "visit": [], "agreement": []}
        changes = []
        for i in range(start, min(households, start + batch)):
            hid = str(uuid.UUID(int=rnd.getrandbits(128)))
            owner = name(rnd)
            surveyed = rnd.random() < 0.6
            h = {"house_no": f"{'ABCDEFGH'[i % 8]}-{i:07d}", "zone": ZONES[i % len(ZONES)],
                 "address": f"{rnd.choice(streets)}{rnd.randrange(1, 400)}号"
                            + (f"{rnd.randrange(1, 30)}栋" if rnd.random() < 0.4 else ""),
                 "structure": "brick_wood", "owner_name": owner,
                 "status": rnd.choice(STATUSES) if surveyed else "unsurveyed",
                 "cadre": rnd.choice(cadres),
                 "survey_date": f"2026-{rnd.randrange(1, 12):02d}-{rnd.randrange(1, 28):02d}"
                 if surveyed else None}
            records = [("household", hid, h)]
            for m in range(rnd.randint(1, 5)):
                records.append(("member", str(uuid.uuid4()), {
                    "household_id": hid, "name": owner if m == 0 else name(rnd),
                    "id_no": f"{rnd.randrange(10**17):018d}",
                    "relation": "head" if m == 0 else "child"}))
            for _ in range(rnd.randint(0, 2)):
                records.append(("visit", str(uuid.uuid4()), {
                    "household_id": hid, "visit_date": h["survey_date"] or "2026-06-01",
                    "outcome": rnd.choice(("surveyed", "not_home", "refused"))}))
            if h["status"] == "signed":
                records.append(("agreement", str(uuid.uuid4()), {
                    "household_id": hid, "number": f"AG-{i:07d}", "signed_on": "2026-10-01",
                    "mode": "monetary", "breakdown": "[]", "total": "350000.00"}))
            by = SURVEYORS[i % len(SURVEYORS)]
            for rtype, rid, values in records:
                seq += 1
                fields = {k: v for k, v in values.items() if k != "household_id"}
                changes.append((str(uuid.uuid4()), device, seq, rtype, rid, json.dumps(
                    fields, ensure_ascii=False), "{}", stamp, by, None, stamp))
                rows[rtype].append((rid, *values.values(), stamp, by, stamp, by))
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO change (change_id, device_id, seq, record_type, record_id, "
                         "fields, base, at, by, note, received_at) VALUES "
                         "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", changes)
        for rtype, vals in rows.items():
            if not vals:
                continue
            cols = {"household": list(h), "member": ["household_id", "name", "id_no",
                                                     "relation"],
                    "visit": ["household_id", "visit_date", "outcome"],
                    "agreement": ["household_id", "number", "signed_on", "mode", "breakdown",
                                  "total"]}[rtype]
            cols = ["id", *cols, "created_at", "created_by", "updated_at", "updated_by"]
            conn.executemany(f"INSERT INTO [{rtype}] ({', '.join(cols)}) VALUES "
                             f"({', '.join('?' for _ in cols)})", vals)
        conn.execute("COMMIT")
    t = time.perf_counter()
    ensure_indexes(reg)
    print(f"  list indexes: {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    search.ensure_search_index(conn)
    print(f"  trigram index: {time.perf_counter() - t:.1f} s")
    # the owner-prefix floor needs an owner-name index; the collector itself has no use for it
    conn.execute("CREATE INDEX IF NOT EXISTS bench_floor_owner ON household (owner_name)")
    conn.execute("ANALYZE")
    reg.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=50000)
    parser.add_argument("--250k", dest="h250", action="store_true", help="250,000 households")
    parser.add_argument("--1m", dest="h1m", action="store_true", help="1,000,000 households")
    parser.add_argument("--dir", type=Path, help="reuse or build the registry here")
    parser.add_argument("--n", type=int, default=200, help="requests per measurement")
    args = parser.parse_args()
    n_households = 1_000_000 if args.h1m else 250_000 if args.h250 else args.households
    directory = args.dir or Path(tempfile.mkdtemp(prefix="anju-scale-"))
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "registry.db"
    if not db.exists():
        t = time.perf_counter()
        print(f"building {n_households} households in {db} ...")
        build(db, n_households)
        print(f"  built in {time.perf_counter() - t:.1f} s, "
              f"{db.stat().st_size / 2**20:.0f} MiB")
    with connect(db) as conn:
        t = time.perf_counter()
        if search.ensure_search_index(conn):  # an index of an older make is rebuilt
            print(f"  trigram index rebuilt: {time.perf_counter() - t:.1f} s")
    app = create_app(db, {"TESTING": True, "SECRET_KEY": "bench"})
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"name": SURVEYORS[0], "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    floor = connect(db)
    rnd = random.Random(7)
    sample = floor.execute("SELECT house_no, owner_name, address FROM household "
                           "ORDER BY random() LIMIT 400").fetchall()

    def surname() -> str:
        owner = rnd.choice(sample)[1]
        return owner[:2] if owner[:2] in SURNAMES else owner[:1]

    def slice_of(text: str, k: int) -> str:
        i = rnd.randrange(0, max(1, len(text) - k + 1))
        return text[i:i + k]

    cols = search.ROW_COLUMNS
    kinds = {
        "house": (lambda: rnd.choice(sample)[0],
                  f"SELECT {cols} FROM household WHERE house_no = ? AND deleted IS NULL",
                  lambda q: (q,)),
        "owner": (surname,
                  f"SELECT {cols} FROM household WHERE owner_name >= ? AND owner_name < ? "
                  "AND deleted IS NULL ORDER BY owner_name LIMIT 50",
                  lambda q: (q, q + "\U0010ffff")),
        "addr3": (lambda: slice_of(rnd.choice(sample)[2], rnd.choice((3, 4))),
                  f"SELECT {cols} FROM household WHERE rowid IN (SELECT rowid FROM "
                  f"household_fts WHERE household_fts MATCH ? LIMIT 50)",
                  lambda q: (search.fts_phrase(q),)),
        "sub2": (lambda: slice_of(rnd.choice(sample)[rnd.choice((1, 2))], 2),
                 None, None),
        "list": (lambda: "",
                 f"SELECT {cols} FROM household WHERE deleted IS NULL ORDER BY house_no, id "
                 "LIMIT 50", lambda q: ()),
    }
    web: dict[str, list[float]] = {k: [] for k in kinds}
    bare: dict[str, list[float]] = {k: [] for k in kinds}
    query: dict[str, list[float]] = {k: [] for k in kinds}
    paths: dict[str, dict[str, int]] = {k: {} for k in kinds}
    for _ in range(10):  # warm the page cache and the app
        client.get("/households")
    for i in range(args.n * len(kinds)):
        kind = list(kinds)[i % len(kinds)]
        make, sql, params = kinds[kind]
        q = make()
        if kind == "sub2":
            cond, extra = search.like_condition(q)
            sql = (f"SELECT {cols} FROM household WHERE deleted IS NULL AND {cond} "
                   "ORDER BY house_no, id LIMIT 50")
            p = extra
        else:
            p = params(q)
        t = time.perf_counter()
        floor.execute(sql, p).fetchall()
        bare[kind].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        response = client.get("/households", query_string={"q": q} if q else {})
        web[kind].append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, response.text[:300]
        t = time.perf_counter()
        found = search.find(floor, q, [], [], 1)
        query[kind].append((time.perf_counter() - t) * 1000)
        paths[kind][found.path] = paths[kind].get(found.path, 0) + 1
    print(f"\n{n_households} households, {args.n} requests per kind (ms)")
    print(f"{'kind':<6} {'web p50':>8} {'web p95':>8} {'find p50':>8} {'find p95':>8} "
          f"{'floor p50':>9} {'floor p95':>9} {'web/floor p95':>13} {'find/floor p95':>14}  paths")
    for kind in kinds:
        w50, w95 = percentile(web[kind], 0.5), percentile(web[kind], 0.95)
        q50, q95 = percentile(query[kind], 0.5), percentile(query[kind], 0.95)
        f50, f95 = percentile(bare[kind], 0.5), percentile(bare[kind], 0.95)
        print(f"{kind:<6} {w50:8.1f} {w95:8.1f} {q50:8.2f} {q95:8.2f} {f50:9.2f} {f95:9.2f} "
              f"{w95 / f95:13.0f} {q95 / f95:14.1f}  {paths[kind]}")
    print(f"(all web requests: mean {statistics.mean(sum(web.values(), [])):.1f} ms)")
    # the tiles at the top of every page, counted from indexes: what they cost at this size
    tiles = {"mine": ("SELECT COUNT(DISTINCT record_id) FROM change WHERE by = ? AND record_type "
                      "= 'household' AND record_id NOT IN (SELECT id FROM household WHERE "
                      "deleted IS NOT NULL)", (SURVEYORS[0],)),
             "unsurveyed": ("SELECT (SELECT COUNT(*) FROM household WHERE status = 'unsurveyed' "
                            "AND deleted IS NULL) + (SELECT COUNT(*) FROM household WHERE "
                            "status IS NULL AND deleted IS NULL)", ())}
    for tile, (sql, p) in tiles.items():
        samples = []
        for _ in range(20):
            t = time.perf_counter()
            value = floor.execute(sql, p).fetchone()[0]
            samples.append((time.perf_counter() - t) * 1000)
        plan = " / ".join(r[3] for r in floor.execute("EXPLAIN QUERY PLAN " + sql, p))
        print(f"tile {tile}: {value} in p50 {percentile(samples, 0.5):.1f} ms "
              f"(p95 {percentile(samples, 0.95):.1f}); {plan}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
