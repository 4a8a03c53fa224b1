"""After the signature in the public database: the selection order and its results, the flats
left, and the paid totals per zone behind the disclosure ledger.

Written by registry/publication/publish.py into public.db:

- selection_batch: each batch's rule, seed, time fixed, witness, household count and the
  lottery algorithm in words, so that anyone can recompute the order from the house numbers;
- selection_order: per batch, each household's position, house number, zone, masked owner name
  (the one masking of privacy.py, and no column at all when the survey does not publish the
  owner), the flat it chose and when. Where the plan gives hardship households priority, a
  position at the head of the list would say "hardship", and so would a swap household left
  out of it (every household's compensation mode is public): such a batch lists every one of
  its households by house number, with the flat chosen but no position and no time;
- flat_left: the flats not chosen and not withheld;
- paid_by_zone: per zone, the households with an agreement in force, the agreed total and the
  paid total. The agreed totals are the sums of what Art. 29 already publishes per household;
  the paid total is new information (what the office paid whom, when), so it goes through the
  disclosure ledger (registry/publication/disclosure.py): a new value is released only if,
  against every earlier release for that zone, at least K_CHANGED households' paid sums differ,
  and it is rounded to PAID_ROUND yuan. Otherwise the last release is repeated. No payment, bank
  account, voucher or date is ever published per household.

Hardship care (care_help) is never published; nor is any per-household hardship fact.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace

from anju.registry.compensation.agreements import agreements_in_force
from anju.registry.completion import flats as fl
from anju.registry.completion import selection as sel
from anju.registry.completion.payments import FEN, due_of
from anju.registry.core.i18n import N_
from anju.registry.core.store import Registry
from anju.registry.publication import disclosure
from anju.registry.publication.privacy import mask_name

PAID_ROUND = 10_000  # yuan: a paid total is published to the 10,000 (万元)
ALGORITHM = ("按签约先后:签约日期在先者在前,同日按协议编号、房屋编号排序。公开摇号:每户的号码为 "
             "SHA-256(“摇号种子|房屋编号”,UTF-8)的十六进制值,按升序排列。")

COLUMNS = {
    "selection_batch": [
        ("batch", "INTEGER", N_("批次"), "Batch", "integer"),
        ("rule", "TEXT", N_("排序规则"), "Rule", "text"),
        ("seed", "TEXT", N_("摇号种子"), "Lottery seed", "code"),
        ("fixed_at", "TEXT", N_("确定时间"), "Fixed at", "utc_time"),
        ("witness", "TEXT", N_("公证或监督"), "Notary or witness", "text"),
        ("households", "INTEGER", N_("公布户数"), "Households published", "integer"),
        ("algorithm", "TEXT", N_("排序方法"), "Algorithm", "text"),
    ],
    "selection_order": [
        ("batch", "INTEGER", N_("批次"), "Batch", "integer"),
        ("position", "INTEGER", N_("顺序号"), "Position", "integer"),
        ("house_no", "TEXT", N_("房屋编号"), "House number", "text"),
        ("zone", "TEXT", N_("片区/地块"), "Zone", "text"),
        ("owner_name", "TEXT", N_("被征收人"), "Owner", "text"),
        ("flat", "TEXT", N_("所选房源"), "Flat chosen", "text"),
        ("flat_area", "REAL", N_("房源面积(㎡)"), "Flat area (m²)", "number"),
        ("chosen_at", "TEXT", N_("选房时间"), "Chosen at", "utc_time"),
    ],
    "flat_left": [
        ("flat", "TEXT", N_("房源"), "Flat", "text"),
        ("building", "TEXT", N_("楼栋"), "Building", "text"),
        ("unit", "TEXT", N_("单元"), "Unit", "text"),
        ("floor", "INTEGER", N_("楼层"), "Floor", "integer"),
        ("number", "TEXT", N_("房号"), "Number", "text"),
        ("area", "REAL", N_("建筑面积(㎡)"), "Floor area (m²)", "number"),
        ("flat_type", "TEXT", N_("户型"), "Type", "text"),
        ("unit_price", "REAL", N_("单价(元/㎡)"), "Unit price (yuan/m²)", "money"),
        ("price", "REAL", N_("总价(元)"), "Price (yuan)", "money"),
    ],
    "paid_by_zone": [
        ("zone", "TEXT", N_("片区/地块"), "Zone", "text"),
        ("households", "INTEGER", N_("签约户数"), "Households signed", "integer"),
        ("agreed", "REAL", N_("协议应付合计(元)"), "Agreed (yuan)", "money"),
        ("paid", "REAL", N_("已支付合计(元,取整到万元)"), "Paid (yuan, to 10,000)", "money"),
        ("paid_released_at", "TEXT", N_("已支付数发布时间"), "Paid figure released at",
         "utc_time"),
    ],
}


def _owner_published(reg: Registry) -> bool:
    rtype = reg.definition.record("household")
    return rtype.has("owner_name") and rtype.field("owner_name").publish != "never"


def _create(conn, with_owner: bool) -> dict[str, list]:
    out = {}
    for table, cols in COLUMNS.items():
        if not with_owner:
            cols = [c for c in cols if c[0] != "owner_name"]
        conn.execute(f"CREATE TABLE [{table}] ({', '.join(f'[{c[0]}] {c[1]}' for c in cols)})")
        conn.executemany("INSERT INTO column_info VALUES (?, ?, ?, ?, ?)",
                         [(table, c[0], c[2], c[3], c[4]) for c in cols])
        out[table] = cols
    return out


def _insert(conn, table: str, cols: list, rows: list[dict]) -> None:
    names = [c[0] for c in cols]
    conn.executemany(f"INSERT INTO [{table}] VALUES ({', '.join('?' for _ in names)})",
                     [tuple(r.get(n) for n in names) for r in rows])


def write_tables(conn, reg: Registry) -> None:
    """The selection tables and flats left (inside the caller's read snapshot)."""
    with_owner = _owner_published(reg)
    tables = _create(conn, with_owner)
    if "flat_choice" not in reg.definition.records:
        return
    houses = {r[0]: r[1:] for r in reg.conn.execute(
        "SELECT id, house_no, zone, owner_name FROM household WHERE deleted IS NULL")}
    flats = {f["id"]: f for f in fl.all_flats(reg)}
    chosen = sel.choices(reg)
    batches, order_rows = [], []
    for order in sel.orders(reg):
        listed = [h for h in order["households"] if h in houses]
        # Where the plan gives hardship households priority, a position at the head of the
        # list says "hardship", and so would a swap household missing from it (every
        # household's compensation mode is public): such a batch lists every household, by
        # house number, with no position and no time of choosing.
        blind = order.get("priority") == sel.PRIORITY_HARDSHIP
        if blind:
            listed.sort(key=lambda h: houses[h][0] or "")
        for position, hid in enumerate(listed, 1):
            house_no, zone, owner = houses[hid]
            c = chosen.get(hid)
            f = flats.get(c["flat"]) if c else None
            order_rows.append({"batch": order["batch"], "position": None if blind else position,
                               "house_no": house_no, "zone": zone,
                               "owner_name": mask_name(owner), "flat": f["label"] if f else None,
                               "flat_area": float(f["area"]) if f else None,
                               "chosen_at": None if blind or not c else c["chosen_at"]})
        batches.append({"batch": order["batch"], "rule": sel.RULES.get(order["rule"]),
                        "seed": order.get("seed"), "fixed_at": order["drawn_at"],
                        "witness": order.get("witness"), "households": len(listed),
                        "algorithm": ALGORITHM})
    _insert(conn, "selection_batch", tables["selection_batch"], batches)
    _insert(conn, "selection_order", tables["selection_order"], order_rows)
    taken = {c["flat"] for c in chosen.values()}
    _insert(conn, "flat_left", tables["flat_left"], [
        {"flat": f["label"], "building": f["building"], "unit": f["unit"], "floor": f["floor"],
         "number": f["number"], "area": float(f["area"]), "flat_type": f["flat_type"],
         "unit_price": float(f["unit_price"]), "price": float(f["price"])}
        for f in flats.values() if f["id"] not in taken and not f["withheld"]])


@dataclass(frozen=True)
class PaidCell(disclosure.Cell):
    """A zone's paid total as a cell of the disclosure ledger (a sum, rounded to PAID_ROUND)."""

    ceiling: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.field.label['zh']}"

    @property
    def high(self) -> float:
        return self.ceiling

    @property
    def step(self) -> int:
        return PAID_ROUND


def paid_contributions(reg: Registry) -> dict[str, dict]:
    """Per zone: the counted households (agreement in force), their due and their paid sums:
    {zone: {"counted": {ids}, "due": {id: Decimal}, "paid": {id: Decimal}}}."""
    zone_of = dict(reg.conn.execute("SELECT id, zone FROM household WHERE deleted IS NULL"))
    in_force = agreements_in_force(reg)
    paid: dict[tuple[str, str], Decimal] = {}
    if "payment" in reg.definition.records:
        for hid, agreement_id, amount in reg.conn.execute(
                "SELECT household_id, agreement, amount FROM payment WHERE deleted IS NULL"):
            key = (hid, agreement_id)
            paid[key] = paid.get(key, Decimal(0)) + Decimal(str(amount)).quantize(FEN)
    out: dict[str, dict] = {}
    for hid, agreement in in_force.items():
        if hid not in zone_of:
            continue
        z = out.setdefault(zone_of[hid] or "", {"counted": set(), "due": {}, "paid": {}})
        z["counted"].add(hid)
        z["due"][hid] = due_of(agreement)
        p = paid.get((hid, agreement["id"]), Decimal(0))
        if p:
            z["paid"][hid] = p
    return out


def paid_by_zone(reg: Registry) -> list[dict]:
    """Decide (and record in the ledger) what this publication shows of each zone's paid total."""
    rows = []
    for zone, data in sorted(paid_contributions(reg).items()):
        due = sum(data["due"].values(), Decimal(0))
        ceiling = float(max(list(data["due"].values()) + list(data["paid"].values()),
                            default=Decimal(0)))
        field = SimpleNamespace(name="paid", label={"zh": f"{zone}已支付合计"}, constraint={})
        cell = PaidCell(f"paid:{zone}", field, None, ceiling)
        if len(data["paid"]) < disclosure.K_CHANGED:
            # Fewer than K households paid at all: against the unpaid start (every sum 0) the
            # total would isolate them. Repeat the last release, if any.
            last = reg.conn.execute(
                "SELECT published, released_at FROM disclosure_release WHERE cell = ? "
                "ORDER BY release_id DESC LIMIT 1", (cell.key,)).fetchone()
            shown = {"value": int(last[0]) if last else None,
                     "released_at": last[1] if last else None}
        else:
            [shown] = disclosure.release(reg, [cell], {
                "counted": data["counted"],
                cell.key: {h: float(v) for h, v in data["paid"].items()}})
        rows.append({"zone": zone, "households": len(data["counted"]), "agreed": float(due),
                     "paid": shown["value"], "paid_released_at": shown["released_at"]})
    return rows


def write_paid(conn, rows: list[dict]) -> None:
    """Fill paid_by_zone (created by write_tables) with the released figures."""
    cols = COLUMNS["paid_by_zone"]
    _insert(conn, "paid_by_zone", cols, rows)
