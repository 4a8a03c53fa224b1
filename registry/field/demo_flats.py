"""The demo's resettlement and care (registry/field/demo.py calls it on the merged registry):
the builder's flat list imported as XLSX, a public lottery for the swap households signed so
far, most of them choosing a flat in order, and care planned and given for hardship households.
Record ids and times come from the seed, so the same seed still gives the same digest."""

from __future__ import annotations

import datetime as dt
import io
import random
import uuid

from anju.registry.core.store import Registry

DAY = dt.timedelta(days=1)


def play_selection(reg: Registry, today: dt.date, seed: int) -> None:
    """Inventory, order and choices (registry/completion/flats.py and selection.py)."""
    if "flat_choice" not in reg.definition.records:
        return
    import openpyxl
    from anju.registry.completion import flats as fl
    from anju.registry.completion import selection as sel

    rng = random.Random(f"flats-{seed}")

    def uid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    candidates = sel.eligible(reg)
    if not candidates:
        return
    types = fl.flat_types(reg)
    wanted: dict[str, int] = {}
    for c in candidates:
        if c["flat_type"] in types:
            wanted[c["flat_type"]] = wanted.get(c["flat_type"], 0) + 1
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["楼栋", "单元", "楼层", "房号", "建筑面积", "户型", "单价", "备注"])
    for b, (code, n) in enumerate(sorted(wanted.items()), 1):
        kind = types[code]
        count = n + max(3, n // 4)  # a few more flats than households, as builders plan
        for i in range(count):
            unit, rest = divmod(i, 36)
            floor, door = divmod(rest, 2)
            area = round(float(kind["area"]) + rng.choice((-1.2, -0.6, 0, 0.4, 0.9)), 2)
            price = float(kind["unit_price"]) + 20 * (floor + 1)  # higher floors cost more
            sheet.append([str(b), str(unit + 1), floor + 1, f"{floor + 1}0{door + 1}",
                          area, code, price, "现房" if kind.get("ready") else "期房"])
    out = io.BytesIO()
    book.save(out)
    fl.import_xlsx(reg, out.getvalue(), by="admin")
    drawn = today - 6 * DAY
    oid = sel.fix_order(reg, rule="lottery", seed=f"{drawn:%Y%m%d}-公证摇号-{seed:04d}",
                        witness="市公证处(现场公证)", by="admin", record_id=uid(),
                        at=f"{drawn}T01:30:00.000000Z")
    order = sel.get_order(reg, oid)
    choosing = order["households"][: int(len(order["households"]) * 0.7)]
    moment = dt.datetime.combine(today - 5 * DAY, dt.time(1, 0))
    for hid in choosing:
        offered = sel.fitting(reg, hid)
        if not offered:
            continue
        moment += dt.timedelta(minutes=rng.randrange(2, 6))
        flat = rng.choice(offered[:6])
        sel.choose(reg, hid, flat["id"], by="supervisor", record_id=uid(),
                   out_of_turn="前序户缺席" if sel.head(reg, order)["household_id"] != hid
                   else None, at=moment.strftime("%Y-%m-%dT%H:%M:%S.000000Z"))


def play_care(reg: Registry, today: dt.date, seed: int) -> None:
    """Care planned for most hardship households, much of it given (registry/completion/care)."""
    if "care_help" not in reg.definition.records:
        return
    from anju.registry.completion import care
    rng = random.Random(f"care-{seed}")

    def uid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    for row in care.care_list(reg, today):
        if rng.random() < 0.15:
            continue  # nobody has planned anything yet: the list shows it
        cadre = row["cadre"] or "指挥部帮扶组"
        plan = [("visit", today - rng.randrange(5, 30) * DAY)]
        if row["status"] in ("signed", "handed_over", "demolished"):
            plan.append(("moving_help", today - rng.randrange(0, 10) * DAY))
            if rng.random() < 0.4:
                plan.append(("transition_flat", today - rng.randrange(0, 20) * DAY))
        for kind, day in plan:
            hid = care.plan_help(reg, row["household_id"], kind=kind, planned_on=str(day),
                                 cadre=cadre, by="supervisor", record_id=uid())
            if day < today and rng.random() < 0.75:
                care.mark_done(reg, hid, done_on=str(min(day + rng.randrange(0, 3) * DAY,
                                                         today)), by="supervisor")
