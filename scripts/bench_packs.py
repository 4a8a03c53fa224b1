"""Benchmark: export and import of packs, timed on their own (laptop → central, central → laptop).

Builds a central registry and K laptops, each surveying N households with two members, then
times: each laptop's export, the central registry's merge of every laptop pack, the central
export for the laptops, and one laptop's merge of it. Only the public API is used (export_pack,
merge_pack, enroll_device, init_laptop), so the same script runs on an older anju too, which is
how the cost of sealing packs per recipient is measured as a ratio:

    .venv/bin/python scripts/bench_packs.py --households 2000 --laptops 5
    OLD_TREE/.venv/bin/python scripts/bench_packs.py --households 2000 --laptops 5

With `--scoped` (an anju with scopes) each laptop receives only its own zone, and the central
export is one pack per laptop.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from anju.registry.core.store import Registry
from anju.registry.sync.enrollment import enroll_device, init_laptop
from anju.registry.sync.merge import merge_pack
from anju.registry.sync.packs import export_pack

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_no(n: int) -> str:
    body = f"110105{19500101 + n % 28:08d}{n % 1000:03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS)) % 11]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=2000, help="per laptop")
    parser.add_argument("--laptops", type=int, default=5)
    parser.add_argument("--scoped", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        central = Registry.create(root / "central.db", project="bench", role="central",
                                  device_name="central")
        laptops = []
        for k in range(args.laptops):
            name = f"lap{k}"
            extra = {"scope": {"zones": [f"Z{k}"]}} if args.scoped else {}
            enroll_device(central, name, root / f"{name}.enrol", **extra)
            init_laptop(root / f"{name}.db", root / f"{name}.enrol")
            lap = Registry.open(root / f"{name}.db")
            for i in range(args.households):
                n = k * args.households + i
                hid = lap.save("household", None, {
                    "house_no": f"H{k}-{i}", "zone": f"Z{k}", "address": f"街{i}号",
                    "structure": "brick_concrete", "owner_name": "张伟",
                    "owner_id_no": id_no(n)}, by="li", full=True)
                for m in range(2):
                    lap.save("member", None, {"household_id": hid, "name": "李娜",
                                              "id_no": id_no(n + m + 7), "relation": "child"},
                             by="li", full=True)
            laptops.append(lap)
        out: dict[str, float] = {}
        t = time.perf_counter()
        packs = []
        for k, lap in enumerate(laptops):
            packs.append(root / f"lap{k}.pack")
            export_pack(lap, packs[-1])
        out["laptop_export_s"] = time.perf_counter() - t
        t = time.perf_counter()
        for p in packs:
            assert merge_pack(central, p).ok
        out["central_merge_s"] = time.perf_counter() - t
        t = time.perf_counter()
        if args.scoped:
            back = []
            for k in range(len(laptops)):
                back.append(root / f"back{k}.pack")
                export_pack(central, back[-1], recipients=[f"lap{k}"])
        else:
            back = [root / "back.pack"]
            export_pack(central, back[0])
        out["central_export_s"] = time.perf_counter() - t
        out["central_pack_bytes_for_lap0"] = back[0].stat().st_size
        t = time.perf_counter()
        result = merge_pack(laptops[0], back[0])
        assert result.ok, result.reason
        out["laptop_merge_s"] = time.perf_counter() - t
        out["changes"] = central.conn.execute("SELECT count(*) FROM change").fetchone()[0]
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v
                          for k, v in out.items()}))


if __name__ == "__main__":
    main()
