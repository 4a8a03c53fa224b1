"""The figures of the daily report (日报) a command office sends up, per zone and in total, for
the report's day and cumulative: households, signed (the one definition, workflow.SIGNED), the
signing rate, handed over, demolished; the legal stages (已公示, 已评估, 异议中, 补偿决定); areas
(征收, 签约, 拆除 m², recognised areas); agreed amounts with the money / swap split and the flats
demanded by type; hardship households' progress by type with Chinese labels.

"Cumulative" is where households stand now; "the day" counts households that first reached a
stage on that day (UTC date of the change log, as progress.py) and agreements signed that day.
Amounts are the agreements in force (frozen at signing; a double agreement counts for none),
exact decimals; a swap's amount is its net settlement (negative: the household pays). Paid and
outstanding come from the payments ledger (registry/completion/payments.py) against the
agreements in force.
"""
# i18n: no-catalog (the daily report's headers are bilingual in the file).

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from anju.registry.compensation import zone_figures
from anju.registry.compensation.agreements import all_agreements
from anju.registry.compensation.calculation import (
    Breakdown,
    RulesError,
    dec,
    recognised_area,
    rules_of,
)
from anju.registry.compensation.lists import zones as zone_names
from anju.registry.completion import payments, rewards
from anju.registry.core import stages, workflow
from anju.registry.core.store import Registry
from anju.registry.review import progress

FEN = Decimal("0.01")
HANDED = ("handed_over", "demolished")
PUBLISHED = progress.reached("published")   # the progress page's stages, the same here
VALUED = progress.reached("valued")
DEMOLISHED = ("demolished",)
# (key, Chinese, English) of the columns of one zone's row, in the report's order.
COLUMNS = (
    ("zone", "片区", "Zone"),
    ("households", "户数", "Households"),
    ("published", "已公示", "Published"), ("valued", "已评估", "Valued"),
    ("disputed", "异议中", "Disputed"), ("decision", "补偿决定", "Decisions"),
    ("signed_day", "当日签约", "Signed today"), ("signed", "累计签约", "Signed"),
    ("rate", "签约率%", "Signed %"),
    ("handed_over_day", "当日交房", "Handed over today"), ("handed_over", "累计交房",
                                                          "Handed over"),
    ("demolished_day", "当日拆除", "Demolished today"), ("demolished", "累计拆除", "Demolished"),
    ("area", "征收面积㎡", "Area m²"), ("area_signed_day", "当日签约面积㎡", "Signed m² today"),
    ("area_signed", "累计签约面积㎡", "Signed m²"), ("area_demolished", "拆除面积㎡",
                                                   "Demolished m²"),
    ("agreed_day", "当日协议金额(元)", "Agreed today (yuan)"),
    ("agreed", "累计协议金额(元)", "Agreed (yuan)"),
    ("paid_day", "当日支付(元)", "Paid today (yuan)"), ("paid", "累计支付(元)", "Paid (yuan)"),
    ("outstanding", "待支付(元)", "Outstanding (yuan)"),
    ("money_households", "货币补偿户数", "Money households"),
    ("money_amount", "货币补偿金额(元)", "Money amount (yuan)"),
    ("swap_households", "产权调换户数", "Swap households"),
    ("swap_amount", "产权调换结算净额(元)", "Swap net (yuan)"),
    ("chosen_day", "当日选房", "Flats chosen today"), ("chosen", "累计选房", "Flats chosen"),
)
COUNTS = [k for k, _, _ in COLUMNS if k not in ("zone", "rate") and not k.startswith("area")
          and k not in ("agreed_day", "agreed", "money_amount", "swap_amount", "paid_day",
                        "paid", "outstanding")]
SUMS = [k for k, _, _ in COLUMNS if k.startswith("area") or k in
        ("agreed_day", "agreed", "money_amount", "swap_amount", "paid_day", "paid",
         "outstanding")]


def _first_days(reg: Registry) -> dict[str, dict[str, str]]:
    """Per household, the UTC day it first reached signed / handed over / demolished."""
    stages = {"signed": workflow.SIGNED, "handed_over": HANDED, "demolished": DEMOLISHED}
    out: dict[str, dict[str, str]] = {}
    for hid, day, status in reg.conn.execute(
            "SELECT record_id, substr(at, 1, 10), json_extract(fields, '$.status') FROM change "
            "WHERE record_type = 'household' AND json_extract(fields, '$.status') IS NOT NULL"):
        for stage, statuses in stages.items():
            if status in statuses:
                seen = out.setdefault(hid, {})
                if stage not in seen or day < seen[stage]:
                    seen[stage] = day
    return out


def zone_rows(reg: Registry, day: dt.date) -> tuple[list[dict], dict]:
    """One row per zone (COLUMNS) and the project's total row, for `day`.

    The households are read a batch at a time with their agreements in force and payments
    (compensation.zone_figures), and "first reached today" comes from the stage days kept as
    changes came in (core.stages): memory stays that of one batch, and nothing parses
    the change log or decodes a breakdown. `zone_rows_straightforward` is the same report
    the simple way (all agreements decoded, the log scanned); the tests hold them equal."""
    today = day.isoformat()
    settings = reg.settings
    try:
        rules = rules_of(reg)
        area_rule, flats = rules.data["area"], {f["code"]: f["label"] for f in rules.data["flats"]}
    except RulesError:
        area_rule, flats = None, {}
    ctx = zone_figures.context(reg)
    first = stages.first_days_on(reg, today, {"signed": workflow.SIGNED, "handed_over": HANDED,
                                              "demolished": DEMOLISHED})
    names = zone_names(reg)
    rows: dict[str, dict] = {z: _empty(z) for z in names}
    has_payments = "payment" in reg.definition.records
    cur = reg.conn.execute("SELECT * FROM household WHERE deleted IS NULL")
    cols = [d[0] for d in cur.description]
    while True:
        batch = [dict(zip(cols, values)) for values in cur.fetchmany(zone_figures.BATCH)]
        if not batch:
            break
        ids = [h["id"] for h in batch]
        in_force, _ = zone_figures.agreements_for(reg, ids, ctx)
        paid: dict[str, Decimal] = {}
        paid_today: dict[str, Decimal] = {}
        if has_payments and in_force:
            marks = ", ".join("?" for _ in in_force)
            for hid, agreement_id, amount, paid_on in reg.conn.execute(
                    "SELECT household_id, agreement, amount, paid_on FROM payment WHERE "
                    f"deleted IS NULL AND household_id IN ({marks})", list(in_force)):
                if in_force[hid]["id"] != agreement_id:
                    continue
                value = Decimal(str(amount)).quantize(FEN)
                paid[hid] = paid.get(hid, Decimal(0)) + value
                if paid_on == today:
                    paid_today[hid] = paid_today.get(hid, Decimal(0)) + value
        extra = _after_handover(reg, in_force) if has_payments else {}
        for h in batch:
            zone = h.get("zone") or ""
            row = rows.get(zone) or rows.setdefault(zone, _empty(zone))
            status = h.get("status") or "unsurveyed"
            row["households"] += 1
            row["published"] += status in PUBLISHED
            row["valued"] += status in VALUED
            row["disputed"] += status == "disputed"
            row["decision"] += status == "decision"
            agreement = in_force.get(h["id"])
            area = None
            if agreement is not None:
                area = agreement["area"]
            elif area_rule is not None and status != "unsurveyed":
                area = recognised_area(area_rule, h, settings)[0]
            if area is not None:
                row["area"] += area
            for stage, statuses in (("signed", workflow.SIGNED), ("handed_over", HANDED),
                                    ("demolished", DEMOLISHED)):
                if status in statuses:
                    row[stage] += 1
                    row[f"{stage}_day"] += h["id"] in first[stage]
            if agreement is None:
                continue
            # the payments ledger against the agreement in force (payments.zone_totals)
            row["due"] += payments.due_of(agreement, extra.get(h["id"], Decimal(0)))
            row["paid"] += paid.get(h["id"], Decimal(0))
            row["paid_day"] += paid_today.get(h["id"], Decimal(0))
            row["with_agreement"] = True
            if workflow.is_signed(status):
                total = agreement["total"]
                row["agreed"] += total
                row["area_signed"] += agreement["area"] or 0
                if agreement["signed_on"] == today:
                    row["agreed_day"] += total
                    row["area_signed_day"] += agreement["area"] or 0
                if status in DEMOLISHED:
                    row["area_demolished"] += agreement["area"] or 0
                mode = agreement["mode"]
                row[f"{mode}_households"] += 1
                row[f"{mode}_amount"] += total
                several = agreement["flats"] or ([agreement["flat"]] if agreement["flat"]
                                                 else [])
                for flat in several if mode == "swap" else ():
                    code = flat.get("code")  # each flat of a several-flat swap is demanded
                    row["flats"][code] = row["flats"].get(code, 0) + 1
                    flats.setdefault(code, flat.get("label") or code)
    for row in rows.values():
        due = row.pop("due")
        if row.pop("with_agreement", False):
            row["outstanding"] = due - row["paid"]
    _count_choices(reg, rows, today)
    return _finish(reg, rows, flats, names)


def _count_choices(reg: Registry, rows: dict[str, dict], today: str) -> None:
    """Flats chosen per zone, in all and on the day (flat selection, registry/completion)."""
    if "flat_choice" not in reg.definition.records:
        return
    for zone, day_of in reg.conn.execute(
            "SELECT h.zone, substr(c.chosen_at, 1, 10) FROM flat_choice c JOIN household h "
            "ON h.id = c.household_id WHERE c.deleted IS NULL AND h.deleted IS NULL"):
        row = rows.setdefault(zone or "", _empty(zone or ""))
        row["chosen"] += 1
        row["chosen_day"] += day_of == today


def _after_handover(reg: Registry, in_force: dict[str, dict]) -> dict[str, Decimal]:
    """What the handover settled on top of the signed totals (the on-time reward, the
    recounted temporary fee: completion/rewards.py), for the households of one batch that
    have handed over; only their breakdowns are decoded."""
    if not in_force or "handover" not in reg.definition.records:
        return {}
    marks = ", ".join("?" for _ in in_force)
    cur = reg.conn.execute(f"SELECT * FROM handover WHERE deleted IS NULL AND household_id IN "
                           f"({marks})", list(in_force))
    cols = [d[0] for d in cur.description]
    handed = {row["household_id"]: row for row in (dict(zip(cols, r)) for r in cur)}
    out = {}
    for hid, handover in handed.items():
        a = in_force[hid]
        (text,) = reg.conn.execute("SELECT breakdown FROM agreement WHERE id = ?",
                                   (a["id"],)).fetchone()
        full = {**a, "household_id": hid, "breakdown": Breakdown.from_json(text)}
        out[hid] = rewards.after_handover(reg, full, handover).total
    return out


def _finish(reg: Registry, rows: dict[str, dict], flats: dict, names: list[str]
            ) -> tuple[list[dict], dict]:
    """The zones shown (those with households or named in the settings) and the total row."""
    out = [r for r in rows.values() if r["households"] or r["zone"] in names]
    total = _empty("合计")
    total.pop("due")
    for r in out:
        for k in COUNTS + SUMS:
            total[k] += r[k]
        for code, n in r["flats"].items():
            total["flats"][code] = total["flats"].get(code, 0) + n
    for r in [*out, total]:
        r["rate"] = round(100 * r["signed"] / r["households"], 1) if r["households"] else None
        r["flat_labels"] = flats
    return out, total


def zone_rows_straightforward(reg: Registry, day: dt.date) -> tuple[list[dict], dict]:
    """`zone_rows` the simple way: every agreement decoded, the change log scanned, every
    household in memory (the reference the tests compare the streamed report with)."""
    today = day.isoformat()
    settings = reg.settings
    try:
        rules = rules_of(reg)
        area_rule, flats = rules.data["area"], {f["code"]: f["label"] for f in rules.data["flats"]}
    except RulesError:
        area_rule, flats = None, {}
    in_force = {a["household_id"]: a for a in all_agreements(reg) if a["in_force"]}
    first = _first_days(reg)
    rows: dict[str, dict] = {}
    for z in zone_names(reg):
        rows[z] = _empty(z)
    cur = reg.conn.execute("SELECT * FROM household WHERE deleted IS NULL")
    cols = [d[0] for d in cur.description]
    for values in cur.fetchall():
        h = dict(zip(cols, values))
        row = rows.setdefault(h.get("zone") or "", _empty(h.get("zone") or ""))
        status = h.get("status") or "unsurveyed"
        reached = first.get(h["id"], {})
        row["households"] += 1
        row["published"] += status in PUBLISHED
        row["valued"] += status in VALUED
        row["disputed"] += status == "disputed"
        row["decision"] += status == "decision"
        agreement = in_force.get(h["id"])
        area = None
        if agreement is not None:
            area = agreement["breakdown"].area
        elif area_rule is not None and status != "unsurveyed":
            area = recognised_area(area_rule, h, settings)[0]
        if area is not None:
            row["area"] += area
        for stage, statuses in (("signed", workflow.SIGNED), ("handed_over", HANDED),
                                ("demolished", DEMOLISHED)):
            if status in statuses:
                row[stage] += 1
                row[f"{stage}_day"] += reached.get(stage) == today
        if workflow.is_signed(status) and agreement is not None:
            total = agreement["total"]
            row["agreed"] += total
            row["area_signed"] += agreement["breakdown"].area or 0
            if agreement["signed_on"] == today:
                row["agreed_day"] += total
                row["area_signed_day"] += agreement["breakdown"].area or 0
            if status in DEMOLISHED:
                row["area_demolished"] += agreement["breakdown"].area or 0
            mode = agreement["mode"]
            row[f"{mode}_households"] += 1
            row[f"{mode}_amount"] += total
            b = agreement["breakdown"]
            for flat in (b.flats or ([b.flat] if b.flat else [])) if mode == "swap" else ():
                code = flat.get("code")  # each flat of a several-flat swap is demanded
                row["flats"][code] = row["flats"].get(code, 0) + 1
                flats.setdefault(code, flat.get("label") or code)
    for z in payments.zone_totals(reg):  # the payments ledger against agreements in force
        row = rows.setdefault(z["zone"], _empty(z["zone"]))
        row["paid"], row["outstanding"] = z["paid"], z["outstanding"]
    zone_of = {}
    for hid, agreement_id, amount, zone in reg.conn.execute(
            "SELECT p.household_id, p.agreement, p.amount, h.zone FROM payment p JOIN household "
            "h ON h.id = p.household_id WHERE p.deleted IS NULL AND h.deleted IS NULL AND "
            "p.paid_on = ?", (today,)):
        a = in_force.get(hid)
        if a is not None and a["id"] == agreement_id:
            zone_of.setdefault(zone or "", []).append(Decimal(str(amount)).quantize(FEN))
    for zone, amounts in zone_of.items():
        rows.setdefault(zone, _empty(zone))["paid_day"] = sum(amounts, Decimal("0.00"))
    _count_choices(reg, rows, today)
    for row in rows.values():
        row.pop("due")
    return _finish(reg, rows, flats, zone_names(reg))


def _empty(zone: str) -> dict:
    row = {"zone": zone, **dict.fromkeys(COUNTS, 0), "flats": {}}
    row.update({k: Decimal("0.00") for k in SUMS})
    row["due"] = Decimal("0.00")
    return row


def hardship_rows(reg: Registry) -> list[dict]:
    """Hardship households per type with the survey's Chinese label: households, signed, handed
    over, demolished, signing rate; a household of two types counts under each."""
    household = reg.definition.record("household")
    if not household.has("hardship"):
        return []
    field = household.field("hardship")
    signed = ", ".join(f"'{s}'" for s in workflow.SIGNED)
    rows = reg.conn.execute(f"""
        SELECT j.value, count(*), sum(h.status IN ({signed})),
               sum(h.status IN ('handed_over', 'demolished')), sum(h.status = 'demolished')
        FROM household h, json_each(h.hardship) j
        WHERE h.hardship IS NOT NULL AND h.deleted IS NULL AND json_valid(h.hardship)
        GROUP BY j.value ORDER BY j.value""")
    out = []
    for code, n, s, handed, gone in rows:
        out.append({"type": field.choice_label(code, "zh"), "code": code, "households": n,
                    "signed": s or 0, "handed_over": handed or 0, "demolished": gone or 0,
                    "rate": round(100 * (s or 0) / n, 1) if n else None})
    return out


def as_number(value):
    """A figure as written to a sheet: decimals as floats of their exact two-decimal value."""
    return float(dec(value)) if isinstance(value, Decimal) else value
