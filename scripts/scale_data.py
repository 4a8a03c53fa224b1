"""Realistic big data for every scale benchmark: one generator, two outputs.

    .venv/bin/python scripts/scale_data.py registry DB [--households 50000] [--laptops 100]
    .venv/bin/python scripts/scale_data.py packs DIR  [--households 50000] [--laptops 100]

The generator (`Project`) makes, deterministically from a seed, what laptops in the field make:
per household one survey change (all the survey's house, area, owner and wish fields, valid
resident ids and phones), 1-5 members, 1-3 visits (a "not at home" before the survey for some),
then later changes that supersede earlier ones through their base (a correction of areas and
phone for half, the status moving on to 已公示, 已评估 with valuation dates, and for half of
those an agreement whose breakdown the project's own rules compute, then 已签约: a quarter). That is
about 9 changes per household, every one signed by its laptop as the trust model demands (one
Ed25519 signature per change, each linked to the one before: registry/core/signing.py).

- `registry`: builds the central registry those laptops' packs would merge into, in bulk: the
  same signed change rows and the records folded from them (the store's own fold), written in
  big transactions with synchronous off, then the indexes. So `anju digest` of it equals that of
  merging `packs` of the same size and seed into an empty central registry.
- `packs`: an enrolled central registry DIR/central.db (empty, settings and rules set) and one
  pack per laptop in DIR/packs/, written frame by frame as `anju export` writes them.

The households are spread over the laptops in blocks (laptop k surveyed households k, k+L, ...),
so a laptop's pack holds whole households. Both outputs stream: memory stays bounded at 1M.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import random
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from anju.registry.compensation.calculation import calculate, default_rules_text, parse_rules
from anju.registry.compensation.rules import set_rules
from anju.registry.core.changes import Change, now
from anju.registry.core.signing import prefix, row_message
from anju.registry.core.store import SCHEMA_VERSION, Registry
from anju.registry.core.validation import id_check_char
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ZONES = ("东关片区A地块", "东关片区B地块", "西门片区", "北街片区", "南岸片区C地块", "老城片区")
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾"
                "肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾"
                "夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史") + ["欧阳", "司马", "上官", "诸葛"]
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂兰建华玉梅志国红文斌辉鹏飞波宇浩凯")
ROADS = list("东西南北中新老和平解放人民建设胜利光明幸福团结文化朝阳红旗友谊")
KINDS = ["街", "路", "巷", "胡同", "里"]
STRUCTURES = ("steel_concrete", "brick_concrete", "brick_concrete", "brick_wood", "brick_wood",
              "simple")
DECORATIONS = ("none", "simple", "simple", "medium", "fine")
RELATIONS = ("spouse", "child", "child", "parent", "grandchild")
FRAME = 2000  # changes per pack frame, as packs.FRAME_CHANGES
START = dt.datetime(2026, 6, 1, 8)  # the survey's first day; everything lies before today


def resident_id(rng: random.Random, born: dt.date) -> str:
    body = f"{rng.choice(('110105', '440524', '320102', '510107'))}{born:%Y%m%d}" \
           f"{rng.randrange(1000):03d}"
    return body + id_check_char(body)


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def settings(households: int) -> dict:
    """The project settings (zones with targets and deadlines, freeze, signing period)."""
    per = max(households // len(ZONES), 1)
    return {"zones": [{"name": z, "code": chr(ord("A") + i), "target": per,
                       "deadline": "2026-12-31"} for i, z in enumerate(ZONES)],
            "freeze_date": "2026-03-01", "survey_start": "2026-06-01",
            "signing_start": "2026-10-01", "signing_end": "2026-12-31"}


class Project:
    """The changes of a synthetic project's laptops, laptop by laptop, in seq order."""

    def __init__(self, households: int, laptops: int, seed: int = 1,
                 definition=None):
        self.households = households
        self.laptops = laptops
        self.seed = seed
        self.settings = settings(households)
        self.rules = parse_rules(default_rules_text(), definition) if definition else None
        streets = [a + b + k for a in ROADS for b in ROADS if a != b for k in KINDS]
        self.streets = streets[:400]

    def share(self, laptop: int) -> range:
        """The household numbers laptop `laptop` surveyed."""
        return range(laptop, self.households, self.laptops)

    def changes(self, laptop: int, device_id: str) -> Iterator[list]:
        """Laptop `laptop`'s change rows (the 11 columns of a pack row before prev and sig),
        in seq order. Record and change ids are drawn from the seed and the laptop number, so
        the same arguments give the same rows."""
        rng = random.Random(f"{self.seed}/{laptop}")
        uid = lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))  # noqa: E731
        seq = 0
        clock = START + dt.timedelta(seconds=laptop * 3)
        cadres = [person(random.Random(f"{self.seed}/cadre/{i}")) for i in range(40)]
        last: dict[tuple[str, str], str] = {}  # (record, field) -> change id that set it

        def emit(record_type, record_id, fields, by, gap=40, note=None):
            nonlocal seq, clock
            seq += 1
            clock += dt.timedelta(seconds=gap + rng.randrange(20))
            at = clock.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            cid = uid()
            base = {k: last.get((record_id, k)) for k in fields if k != "household_id"}
            for k in fields:
                last[(record_id, k)] = cid
            return [cid, device_id, seq, record_type, record_id,
                    json.dumps(fields, ensure_ascii=False, sort_keys=True,
                               separators=(",", ":")),
                    json.dumps(base, sort_keys=True, separators=(",", ":")), at, by, note, at]

        later: list[tuple] = []  # follow-up work, done after the laptop's whole survey
        surveyor = f"surveyor{laptop % 20}"
        for n in self.share(laptop):
            zone_i = n % len(ZONES)
            hid = uid()
            owner = person(rng)
            head_born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(22000))
            area = round(rng.uniform(18, 140), 2)
            survey_day = (clock + dt.timedelta(days=1)).date()
            household = {
                "house_no": f"{chr(65 + zone_i)}-{n:07d}", "zone": ZONES[zone_i],
                "address": f"{rng.choice(self.streets)}{rng.randrange(1, 400)}号"
                           + (f"{rng.randrange(1, 30)}栋" if rng.random() < 0.4 else ""),
                "property_cert_no": f"不动产权第{rng.randrange(10**7):07d}号",
                "land_type": "state", "structure": rng.choice(STRUCTURES),
                "year_built": rng.randrange(1960, 2012), "floors": rng.choice((1, 1, 2, 3)),
                "registered_use": "residential", "actual_use": "residential",
                "cert_area": area, "surveyed_area": round(area * rng.uniform(0.985, 1.03), 2),
                "decoration": rng.choice(DECORATIONS), "owner_name": owner,
                "owner_id_no": resident_id(rng, head_born),
                "owner_phone": f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
                "compensation_mode": "money" if rng.random() < 0.7 else "swap",
                "cadre": rng.choice(cadres), "status": "surveyed",
                "survey_date": str(survey_day)}
            if household["compensation_mode"] == "swap":
                household["preferred_flat_size"] = rng.choice((60, 75, 90, 110))
            members = rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5))
            household["registered_count"] = household["resident_count"] = members
            if rng.random() < 0.3:
                yield emit("visit", uid(), {"household_id": hid, "visit_date": str(
                    survey_day - dt.timedelta(days=3)), "surveyor": surveyor,
                    "outcome": "not_home"}, surveyor)
            yield emit("household", hid, household, surveyor)
            for k in range(members):
                relation = "head" if k == 0 else rng.choice(RELATIONS)
                years = {"head": 0, "child": rng.randrange(20, 40),
                         "grandchild": rng.randrange(42, 70), "parent": -rng.randrange(20, 40),
                         "spouse": rng.randrange(-6, 7)}[relation]
                born = dt.date(min(max(head_born.year + years, 1900), 2025),
                               rng.randrange(1, 13), rng.randrange(1, 29))
                yield emit("member", uid(), {
                    "household_id": hid, "name": owner if k == 0 else person(rng),
                    "id_no": household["owner_id_no"] if k == 0 else resident_id(rng, born),
                    "relation": relation,
                    "registered_on": str(dt.date(1990, 1, 1) + dt.timedelta(
                        days=rng.randrange(12000)))}, surveyor, gap=10)
            yield emit("visit", uid(), {"household_id": hid, "visit_date": str(survey_day),
                                        "surveyor": surveyor, "outcome": "surveyed"}, surveyor,
                       gap=5)
            later.append((hid, household))
        # Later rounds of the same laptop: corrections, status moves, agreements.
        valued = []
        for hid, household in later:
            fate = rng.random()
            if rng.random() < 0.5:
                household = {**household, "surveyed_area": round(
                    household["cert_area"] * rng.uniform(0.985, 1.03), 2),
                    "owner_phone": f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"}
                yield emit("household", hid, {k: household[k] for k in
                                              ("surveyed_area", "owner_phone")}, surveyor)
            if fate < 0.7:
                yield emit("household", hid, {"status": "published"}, "supervisor", gap=2)
            if fate < 0.5:
                commissioned = clock.date()
                value_day = commissioned + dt.timedelta(days=3)
                household = {**household, "valuation_commissioned": str(commissioned),
                             "valuation_date": str(value_day)}
                yield emit("household", hid, {"status": "valued",
                                              "valuation_commissioned": str(commissioned),
                                              "valuation_date": str(value_day)},
                           "supervisor")
                valued.append((hid, household))
        for hid, household in valued[::2] if self.rules else ():  # signed in the period
            day = dt.date(2026, 10, 1) + dt.timedelta(days=rng.randrange(55))
            mode = household["compensation_mode"]
            b = calculate(self.rules, household, mode, day, settings=self.settings)
            if not b.complete:
                continue
            yield emit("agreement", uid(), {
                "household_id": hid, "number": f"{day:%Y}-{laptop:03d}-{seq:06d}",
                "signed_on": str(day), "mode": mode, "breakdown": b.to_json(),
                "total": str(b.total)}, "supervisor")
            yield emit("household", hid, {"status": "signed"}, "supervisor", gap=2)


def signed(rows: Iterator[list], key: Ed25519PrivateKey, project_id: str) -> Iterator[list]:
    """Each row with its prev link and signature appended (13 columns, as packs carry them)."""
    start = prefix(project_id)
    prev = None
    for row in rows:
        digest = hashlib.sha256(row_message(start, row, row[10], prev)).digest()
        sig = base64.b64encode(key.sign(digest)).decode()
        yield [*row, prev, sig]
        prev = hashlib.sha256(digest + sig.encode()).hexdigest()


def _central(path: Path, households: int) -> Registry:
    reg = Registry.create(path, project="规模测试", role="central", device_name="central")
    reg.set_meta("settings", json.dumps(settings(households), ensure_ascii=False))
    set_rules(reg, default_rules_text(), by="admin")
    return reg


def _laptops(reg: Registry, count: int, tmp: Path) -> list[tuple[str, Ed25519PrivateKey]]:
    """Enrol `count` laptops granted every capability (as the demo's), return id and key."""
    from anju.registry.sync.enrollment import enroll_device, unb64
    out = []
    for i in range(count):
        f = tmp / f"lap{i:03d}.enrol"
        enroll_device(reg, f"lap{i:03d}", f, capabilities=["all"],
                      device_id=str(uuid.UUID(int=random.Random(f"dev/{i}").getrandbits(128),
                                              version=4)))
        data = json.loads(f.read_text(encoding="utf-8"))
        f.unlink()
        out.append((data["device_id"],
                    Ed25519PrivateKey.from_private_bytes(unb64(data["signing_key"]))))
    return out


def write_packs(root: Path, households: int, laptops: int = 100, seed: int = 1,
                quiet: bool = False) -> list[Path]:
    """An empty enrolled central registry root/central.db and one pack per laptop in
    root/packs/; returns the packs' paths."""
    from anju.registry.sync import sealing
    from anju.registry.sync.packs import PackWriter
    root.mkdir(parents=True, exist_ok=True)
    (root / "packs").mkdir(exist_ok=True)
    reg = _central(root / "central.db", households)
    devices = _laptops(reg, laptops, root)
    project = Project(households, laptops, seed, reg.definition)
    pid = reg.project_id
    # A laptop's pack is sealed to the central registry alone (registry/sync/sealing.py).
    (box,) = reg.conn.execute("SELECT box_key FROM device WHERE device_id = ?",
                              (reg.device_id,)).fetchone()
    to_central = [(reg.device_id, sealing.parse_public(box))]
    paths = []
    for i, (device_id, key) in enumerate(devices):
        path = root / "packs" / f"lap{i:03d}.pack"
        writer = PackWriter(path, project_id=pid, device_id=device_id, signer=key,
                            recipients=to_central)
        rows = list(signed(project.changes(i, device_id), key, pid))
        counts: dict[str, int] = {}
        for r in rows:
            counts[r[3]] = counts.get(r[3], 0) + 1
        writer.frame({"t": "meta", "role": "laptop", "device_name": f"lap{i:03d}",
                      "have": {device_id: len(rows)}, "changes": len(rows), "made_at": now(),
                      "central_version": 0})
        for k in range(0, len(rows), FRAME):
            writer.frame({"t": "changes", "c": rows[k:k + FRAME]})
        writer.finish({"project_id": pid, "device_id": device_id,
                       "device_name": f"lap{i:03d}", "role": "laptop",
                       "schema_version": SCHEMA_VERSION,
                       "definition_hash": reg.definition.hash,
                       "definition_version": reg.definition.version, "full": True,
                       "made_at": now(), "counts": {"changes": len(rows), "blobs": 0,
                                                    "by_record_type": counts}})
        paths.append(path)
        if not quiet:
            print(f"\r  packs {i + 1}/{laptops}", end="", file=sys.stderr, flush=True)
    if not quiet:
        print(file=sys.stderr)
    reg.close()
    return paths


def build_registry(path: Path, households: int, laptops: int = 100, seed: int = 1,
                   quiet: bool = False) -> None:
    """The central registry the packs of `write_packs` (same arguments) merge into, in bulk."""
    reg = _central(path, households)
    devices = _laptops(reg, laptops, path.parent)
    project = Project(households, laptops, seed, reg.definition)
    conn = reg.conn
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")
    # The secondary indexes of the log are built once, after the load.
    indexes = [r for r in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = "
                                       "'index' AND tbl_name = 'change' AND sql IS NOT NULL")]
    for name, _ in indexes:
        conn.execute(f"DROP INDEX [{name}]")
    stamp = now()
    for i, (device_id, key) in enumerate(devices):
        by_record: dict[str, list[Change]] = {}
        order: list[tuple[str, str]] = []
        rows = []
        for r in signed(project.changes(i, device_id), key, reg.project_id):
            rows.append((*r[:11], stamp, r[11], r[12]))
            c = Change(change_id=r[0], device_id=r[1], seq=r[2], record_type=r[3],
                       record_id=r[4], fields=json.loads(r[5]), base=json.loads(r[6]),
                       at=r[7], by=r[8], note=r[9], hlc=r[10])
            if r[4] not in by_record:
                order.append((r[3], r[4]))
            by_record.setdefault(r[4], []).append(c)
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO change (change_id, device_id, seq, record_type, "
                         "record_id, fields, base, at, by, note, hlc, received_at, prev, sig) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        reg._store_states([(t, rid, by_record[rid]) for t, rid in order])
        conn.execute("COMMIT")
        if not quiet:
            print(f"\r  laptops {i + 1}/{laptops}", end="", file=sys.stderr, flush=True)
    if not quiet:
        print(file=sys.stderr)
    conn.execute("BEGIN")
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("PRAGMA synchronous=FULL")
    reg.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("registry", "packs"))
    parser.add_argument("target", type=Path, help="the registry file, or the packs' folder")
    parser.add_argument("--households", type=int, default=50_000)
    parser.add_argument("--laptops", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    if args.what == "registry":
        if args.target.exists():
            raise SystemExit(f"{args.target}: already exists")
        build_registry(args.target, args.households, args.laptops, args.seed)
        size = args.target.stat().st_size
    else:
        paths = write_packs(args.target, args.households, args.laptops, args.seed)
        size = sum(p.stat().st_size for p in paths)
    print(f"{args.what}: {args.households} households from {args.laptops} laptops in "
          f"{time.perf_counter() - started:.1f} s, {size / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
