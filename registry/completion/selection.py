"""Resettlement flat selection (选房): a public order, then each household's choice in turn.

**The order** of a batch (`selection_order` record) covers the swap households with an agreement
in force that no earlier batch holds, and is fixed by one of two rules, both recomputable by
anyone from what the public site shows:

- `signing`: by the agreement's signing date, ties broken by agreement number, then house
  number (plain string order of each).
- `lottery`: a public lottery whose seed (the numbers drawn in public, before a notary) is
  recorded with the time and who drew it. Each household's key is
  SHA-256 of the UTF-8 text ``<seed>|<house number>``, in hexadecimal; the order is the keys in
  ascending order (ties, which SHA-256 makes practically impossible, by house number).

Where the project's settings say `selection_priority: hardship` (the plan gives hardship
households priority), hardship households come first, each group ordered by the same rule. The
public site never shows who had priority (registry/completion/public.py).

**The session**: the household at the head of the queue (the first in order without a flat)
chooses among the flats that fit its agreement: available, not withheld, of the agreement's flat
type (or, with `flat_area_tolerance` in the settings, any type whose plan area lies within that
many m² of it). Another household may choose out of turn only with a reason (the one called was
absent), which is recorded. The choice is a `flat_choice` record with its time and the swap
settlement recomputed from the chosen flat (registry/completion/settlement.py), written together
with a row of `flat_taken`, whose PRIMARY KEY on the flat is what makes two households taking
one flat impossible, even from two browsers at once: one transaction wins, the other is refused.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from anju.registry.compensation.agreements import agreements_in_force, agreements_of
from anju.registry.completion import flats as fl
from anju.registry.completion import settlement
from anju.registry.core.changes import DELETED, new_id, now
from anju.registry.core.store import Registry, StoreError, transaction

RULES = {"signing": "按签约先后", "lottery": "公开摇号"}
PRIORITY_HARDSHIP = "hardship"


class SelectionError(StoreError):
    """A selection step that cannot be taken as asked; the message is for people (Chinese)."""


# -- the order ---------------------------------------------------------------------------------
def lottery_key(seed: str, house_no: str) -> str:
    """The lottery key of a household: SHA-256 of "<seed>|<house number>" (UTF-8), hex."""
    return hashlib.sha256(f"{seed}|{house_no}".encode()).hexdigest()


def _check_seed(seed: str | None) -> str:
    seed = (seed or "").strip()
    if len(seed) < 6:
        raise SelectionError("摇号种子至少 6 个字符(如公证员当场摇出的号码)")
    if len(seed) > 200 or any(ord(c) < 32 or c == "|" for c in seed):
        raise SelectionError("摇号种子最多 200 个字符,不能含控制字符或“|”")
    return seed


def eligible(reg: Registry) -> list[dict]:
    """Swap households with an agreement in force that no selection order holds yet:
    {household_id, house_no, agreement_id, number, signed_on, flat_type, hardship}."""
    held = {h for o in orders(reg) for h in o["households"]}
    rows = {hid: (house_no, hardship) for hid, house_no, hardship in reg.conn.execute(
        "SELECT id, house_no, hardship FROM household WHERE deleted IS NULL")}
    out = []
    for hid, agreement in agreements_in_force(reg).items():
        if agreement["mode"] != "swap" or hid in held or hid not in rows:
            continue
        house_no, hardship = rows[hid]
        out.append({"household_id": hid, "house_no": house_no or "",
                    "agreement_id": agreement["id"], "number": agreement["number"] or "",
                    "signed_on": agreement["signed_on"],
                    "flat_type": agreement["breakdown"].options.get("flat"),
                    "hardship": bool(hardship and json.loads(hardship))})
    return out


def compute_order(candidates: list[dict], rule: str, seed: str | None = None,
                  priority: str | None = None) -> list[dict]:
    """The candidates in selection order under `rule` (see the module's docstring)."""
    if rule == "signing":
        def key(c):
            return (c["signed_on"], c["number"], c["house_no"])
    elif rule == "lottery":
        seed = _check_seed(seed)

        def key(c):
            return (lottery_key(seed, c["house_no"]), c["house_no"])
    else:
        raise SelectionError("排序规则应为按签约先后或公开摇号")
    ordered = sorted(candidates, key=key)
    if priority == PRIORITY_HARDSHIP:
        ordered = [c for c in ordered if c["hardship"]] + [c for c in ordered if not c["hardship"]]
    return ordered


def fix_order(reg: Registry, *, rule: str, by: str, seed: str | None = None,
              witness: str | None = None, record_id: str | None = None,
              at: str | None = None) -> str:
    """Fix the order of the next batch from the eligible households; returns its record id.
    (`record_id` and `at` let the demo replay a session with the same digest.)"""
    priority = reg.settings.get("selection_priority") or None
    if priority not in (None, PRIORITY_HARDSHIP):
        raise SelectionError("设置中的 selection_priority 只能为 hardship 或不设")
    with transaction(reg.conn):
        candidates = eligible(reg)
        if not candidates:
            raise SelectionError("没有待排序的产权调换户(已签协议、选择产权调换且未编入批次)")
        ordered = compute_order(candidates, rule, seed, priority)
        batch = max((o["batch"] for o in orders(reg)), default=0) + 1
        oid = record_id or new_id()
        reg.apply([reg.make_change("selection_order", oid, {
            "batch": batch, "rule": rule, "seed": _check_seed(seed) if rule == "lottery" else None,
            "drawn_at": at or now(), "witness": (witness or "").strip() or None,
            "priority": priority,
            "households": json.dumps([c["household_id"] for c in ordered])},
            by=by, full=True)])
    return oid


def orders(reg: Registry) -> list[dict]:
    """Every selection order (batch), first batch first, households as an id list."""
    if "selection_order" not in reg.definition.records:
        return []
    cur = reg.conn.execute("SELECT * FROM selection_order WHERE deleted IS NULL")
    cols = [d[0] for d in cur.description]
    out = []
    for r in cur:
        row = dict(zip(cols, r))
        row["households"] = json.loads(row["households"])
        out.append(row)
    return sorted(out, key=lambda o: (o["batch"], o["drawn_at"], o["id"]))


def get_order(reg: Registry, order_id: str) -> dict | None:
    return next((o for o in orders(reg) if o["id"] == order_id), None)


# -- the session -------------------------------------------------------------------------------
def agreement_in_force(reg: Registry, household_id: str) -> dict | None:
    """One household's agreement in force, or None."""
    return next((a for a in agreements_of(reg, household_id) if a["in_force"]), None)


def choices(reg: Registry) -> dict[str, dict]:
    """The live choice of each household: {household_id: flat_choice row}."""
    if "flat_choice" not in reg.definition.records:
        return {}
    cur = reg.conn.execute("SELECT * FROM flat_choice WHERE deleted IS NULL")
    cols = [d[0] for d in cur.description]
    out = {}
    for r in cur:
        row = dict(zip(cols, r))
        row["difference"] = Decimal(str(row["difference"])).quantize(fl.FEN)
        out[row["household_id"]] = row
    return out


def queue(reg: Registry, order: dict) -> list[dict]:
    """The households of an order with position, house number, owner and their choice."""
    chosen = choices(reg)
    info = {hid: (no, owner) for hid, no, owner in reg.conn.execute(
        "SELECT id, house_no, owner_name FROM household")}
    out = []
    for i, hid in enumerate(order["households"], 1):
        no, owner = info.get(hid, ("", ""))
        out.append({"position": i, "household_id": hid, "house_no": no, "owner_name": owner,
                    "choice": chosen.get(hid)})
    return out


def head(reg: Registry, order: dict) -> dict | None:
    """The household called now: the first in order without a flat (position, id, house)."""
    chosen = {r[0] for r in reg.conn.execute(
        "SELECT household_id FROM flat_choice WHERE deleted IS NULL")}
    for i, hid in enumerate(order["households"], 1):
        if hid not in chosen:
            row = reg.conn.execute("SELECT house_no, owner_name FROM household WHERE id = ?",
                                   (hid,)).fetchone() or ("", "")
            return {"position": i, "household_id": hid, "house_no": row[0],
                    "owner_name": row[1], "choice": None}
    return None


def fitting(reg: Registry, household_id: str) -> list[dict]:
    """The flats a household may choose now: free, not withheld, fitting its agreement."""
    agreement = agreement_in_force(reg, household_id)
    if agreement is None or agreement["mode"] != "swap":
        return []
    wanted = agreement["breakdown"].options.get("flat")
    types = fl.flat_types(reg)
    tolerance = Decimal(str(reg.settings.get("flat_area_tolerance") or 0))
    ok_types = {wanted}
    if wanted in types and tolerance > 0:
        base = Decimal(str(types[wanted]["area"]))
        ok_types |= {c for c, t in types.items()
                     if abs(Decimal(str(t["area"])) - base) <= tolerance}
    return fl.free_flats(reg, {t for t in ok_types if t})


def choose(reg: Registry, household_id: str, flat_id: str, *, by: str,
           out_of_turn: str | None = None, record_id: str | None = None,
           at: str | None = None) -> str:
    """Record a household's choice of a flat (checked and written in one transaction)."""
    out_of_turn = (out_of_turn or "").strip() or None
    with transaction(reg.conn):
        order = next((o for o in orders(reg) if household_id in o["households"]), None)
        if order is None:
            raise SelectionError("这户不在任何选房顺序中")
        if household_id in choices(reg):
            raise SelectionError("这户已选定房源")
        now_called = head(reg, order)
        if now_called and now_called["household_id"] != household_id and not out_of_turn:
            raise SelectionError(f"现在轮到第 {now_called['position']} 号"
                                 f"({now_called['house_no']});如前序户缺席,请写明理由")
        if now_called and now_called["household_id"] == household_id:
            out_of_turn = None  # in turn: nothing to explain
        flat = fl.get_flat(reg, flat_id)
        if flat is None:
            raise SelectionError("没有这套房源")
        if reg.conn.execute("SELECT 1 FROM flat_taken WHERE flat_id = ?", (flat_id,)).fetchone() \
                or reg.conn.execute("SELECT 1 FROM flat_choice WHERE flat = ? AND deleted IS NULL",
                                    (flat_id,)).fetchone():
            raise SelectionError(f"房源 {flat['label']} 已被选定,请另选")
        if flat_id not in {f["id"] for f in fitting(reg, household_id)}:
            raise SelectionError(f"房源 {flat['label']} 不符合这户协议约定的户型,或暂不供选")
        agreement = agreement_in_force(reg, household_id)
        breakdown = settlement.swap_settlement(reg, household_id, [flat])
        position = order["households"].index(household_id) + 1
        cid = record_id or new_id()
        at = at or now()
        # The lock first: a second household taking this flat fails here, on the PRIMARY KEY,
        # even if some path skipped the check above; the transaction then writes nothing.
        try:
            reg.conn.execute("INSERT INTO flat_taken (flat_id, household_id, choice_id, taken_at)"
                             " VALUES (?, ?, ?, ?)", (flat_id, household_id, cid, at))
        except Exception as exc:
            if "UNIQUE" in str(exc) or "PRIMARY KEY" in str(exc):
                raise SelectionError(f"房源 {flat['label']} 已被选定,请另选") from None
            raise
        reg.apply([reg.make_change("flat_choice", cid, {
            "household_id": household_id, "flat": flat_id, "selection_order": order["id"],
            "position": position, "chosen_at": at, "agreement": agreement["id"],
            "settlement": breakdown.to_json(), "difference": str(breakdown.difference),
            "out_of_turn": out_of_turn}, by=by, full=True)])
    return cid


def release(reg: Registry, household_id: str, *, reason: str, by: str) -> None:
    """Undo a household's choice (a tombstone with a reason); the flat is free again."""
    reason = (reason or "").strip()
    if not reason:
        raise SelectionError("撤销选房须写明理由")
    with transaction(reg.conn):
        choice = choices(reg).get(household_id)
        if choice is None:
            raise SelectionError("这户没有已选定的房源")
        reg.conn.execute("DELETE FROM flat_taken WHERE choice_id = ?", (choice["id"],))
        reg.apply([reg.make_change("flat_choice", choice["id"], {DELETED: reason}, by=by,
                                   note=reason)])


def summary(reg: Registry) -> dict:
    """Counts for the overview: flats, free flats, households in order, households chosen."""
    all_f = fl.all_flats(reg)
    chosen = choices(reg)
    taken = {c["flat"] for c in chosen.values()}
    return {"flats": len(all_f), "free": sum(1 for f in all_f if f["id"] not in taken
                                             and not f["withheld"]),
            "ordered": sum(len(o["households"]) for o in orders(reg)), "chosen": len(chosen)}
