"""The zone lists' figures and rows at scale: agreements in force found in SQL, a zone's list
read a page (or a batch) at a time, counts and sums per zone summed by the database.

`lists.zone_list` and `agreements.all_agreements` are the straightforward path: every agreement
of the project is decoded to list one zone. Here the same answer is reached without reading an
agreement the answer does not need, and the tests hold the two paths to the same figures:

- An agreement is in force when it is live, no live agreement amends it, no settlement set it
  aside, and it is its household's only such agreement (two or more: a double agreement, none in
  force). The amended test is a probe of a partial index (core.page_indexes); the settlements are
  few and passed as one JSON list.
- An agreement with more than one change (only a tampered pack makes one: the store refuses a
  second change) is read from its first change, as `agreements._frozen` does: their ids are kept in
  `agreement_revised`, brought up to date from the log's new changes (core.stages), so finding
  them reads no change log.
- Money is summed in fen as integers by SQL when a stored total lies within float noise of a
  fen (every total the store writes); any other total is summed in Python with Decimal, exactly
  as `agreements._shape` reads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from anju.registry.compensation.agreements import (
    DISPUTED_LABEL,
    _frozen,
    set_aside_ids,
    supported,
)
from anju.registry.compensation.amounts import HOUSEHOLD_PAYS, PAYS_HOUSEHOLD
from anju.registry.compensation.calculation import (
    MODE_LABELS,
    STRUCTURE_ZH,
    Breakdown,
    RulesError,
    recognised_area,
    rules_of,
)
from anju.registry.core import page_indexes, stages
from anju.registry.core.store import Registry
from anju.registry.core.workflow import SIGNED
from anju.registry.publication.privacy import mask_name

FEN = Decimal("0.01")
BATCH = 500
PAGE_SIZE = 100
# a total's fen as an integer when it is within float noise of one, else NULL (Python sums it)
FEN_SQL = ("CASE WHEN typeof({t}) IN ('integer', 'real') AND abs({t} * 100 - round({t} * 100))"
           " < 0.001 THEN CAST(round({t} * 100) AS INTEGER) END")
SIGNED_SQL = ", ".join(f"'{s}'" for s in SIGNED)


def money(value) -> Decimal:
    """A stored total as the agreements' reader shows it (agreements._shape)."""
    return Decimal(str(value)).quantize(FEN)


@dataclass
class Context:
    """What deciding "in force" needs beyond an agreement's own row, read once per request:
    the settlements' set-aside agreements, and the tampered agreements' first values."""

    aside: set[str]
    frozen: dict[str, dict]          # tampered live agreement id -> its values as first written
    frozen_amends: set[str]          # agreements amended by a tampered agreement's first values

    @property
    def excluded_json(self) -> str:
        """Agreements that cannot be in force whatever their row says (JSON list)."""
        return json.dumps(sorted(self.aside | self.frozen_amends))

    @property
    def tampered_json(self) -> str:
        return json.dumps(sorted(self.frozen))


def context(reg: Registry) -> Context:
    """Read the settlements and the tampered agreements (both few) for this request."""
    page_indexes.ensure(reg.conn)
    if not _revised_up_to_date(reg):  # cannot bring the list up to date: ask the log
        ids = [r for (r,) in reg.conn.execute(
            "SELECT record_id FROM change WHERE record_type = 'agreement' GROUP BY record_id "
            "HAVING count(*) > 1")]
    else:
        ids = [r for (r,) in reg.conn.execute("SELECT agreement_id FROM agreement_revised")]
    frozen = {}
    for aid in ids:
        if reg.conn.execute("SELECT 1 FROM agreement WHERE id = ? AND deleted IS NULL",
                            (aid,)).fetchone():
            frozen[aid], _ = _frozen(reg, aid)
    amends = {v.get("amends") for v in frozen.values() if v.get("amends")}
    return Context(set(set_aside_ids(reg)), frozen, amends)


def _revised_up_to_date(reg: Registry) -> bool:
    """Bring the derived list of agreements with more than one change up to date."""
    return stages.catch_up(reg)


def _amended_sql(alias: str) -> str:
    """SQL: 1 when a live agreement (not a tampered one: its row is not what it says) amends
    agreement `alias`."""
    return (f"EXISTS (SELECT 1 FROM agreement m WHERE m.amends = {alias}.id "
            "AND m.deleted IS NULL AND m.id NOT IN (SELECT value FROM json_each(:tampered)))")


# ---------------------------------------------------------------- per zone: counts and sums

@dataclass
class ZoneSummary:
    """One zone's figures on /compensation and under its list: the same as ZoneList's."""

    zone: str
    households: int = 0
    signed: int = 0
    disputed: int = 0
    in_force: int = 0
    total: Decimal = Decimal("0.00")


def summaries(reg: Registry, zones: list[str], only: str | None = None
              ) -> list[ZoneSummary]:
    """The figures of each zone in `zones` (or of `only`), from three grouped queries."""
    ctx = context(reg)
    out = {z: ZoneSummary(z) for z in ([only] if only is not None else zones)}
    where, args = ("AND zone = :zone", {"zone": only}) if only is not None else ("", {})
    for zone, n, signed in reg.conn.execute(page_indexes.hinted(
            reg.conn, f"SELECT zone, count(*), sum(status IN ({SIGNED_SQL})) FROM household "
            f"INDEXED BY pages_household_zone_cadre WHERE deleted IS NULL {where} "
            "GROUP BY zone"), args):
        if zone in out:
            out[zone].households, out[zone].signed = n, signed or 0
    if not supported(reg):
        return list(out.values())
    fen = FEN_SQL.format(t="a.total")
    params = {"excluded": ctx.excluded_json, "tampered": ctx.tampered_json, **args}
    heads = (
        "SELECT a.household_id AS hid, a.id AS id, " + fen + " AS fen FROM agreement a "
        "INDEXED BY pages_agreement_heads WHERE a.deleted IS NULL "
        "AND a.id NOT IN (SELECT value FROM json_each(:excluded)) "
        "AND a.id NOT IN (SELECT value FROM json_each(:tampered)) "
        f"AND NOT {_amended_sql('a')}")
    extra = _tampered_candidates(reg, ctx)
    if extra:
        heads += (" UNION ALL SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
                  "json_extract(value, '$[2]') FROM json_each(:extra)")
        params["extra"] = json.dumps(extra)
    if only is not None:  # one zone: start from its households
        heads = (f"SELECT c.* FROM ({heads}) c WHERE c.hid IN (SELECT id FROM household "
                 "INDEXED BY pages_household_zone_list WHERE zone = :zone AND deleted IS NULL)")
    odd: set[str] = set()
    for zone, in_force, fen_sum, odd_n, disputed in reg.conn.execute(page_indexes.hinted(
            reg.conn, "SELECT h.zone, sum(g.n = 1), sum(CASE WHEN g.n = 1 THEN g.fen END), "
            "sum(g.n = 1 AND g.fen IS NULL), sum(g.n > 1) FROM (SELECT hid, count(*) AS n, "
            f"sum(fen) AS fen FROM ({heads}) GROUP BY hid) g JOIN household h ON h.id = g.hid "
            f"WHERE h.deleted IS NULL {'AND h.zone = :zone' if only is not None else ''} "
            "GROUP BY h.zone"), params):
        if zone not in out:
            continue
        s = out[zone]
        s.in_force, s.disputed = in_force or 0, disputed or 0
        s.total = (Decimal(fen_sum or 0) / 100).quantize(FEN)
        if odd_n:
            odd.add(zone)
    for zone in odd:  # a total no float sum can be trusted with: summed as the reader reads it
        s = out[zone]
        s.total = sum((r["net"] for r in iter_rows(reg, zone, ctx=ctx) if r["net"] is not None),
                      Decimal("0.00"))
    return list(out.values())


def _tampered_candidates(reg: Registry, ctx: Context) -> list[list]:
    """[household, agreement, fen or None] of the tampered agreements that are candidates for
    being in force (by their first values)."""
    out = []
    for aid, values in ctx.frozen.items():
        if aid in ctx.aside or aid in ctx.frozen_amends:
            continue
        if reg.conn.execute(f"SELECT {_amended_sql('a')} FROM agreement a WHERE a.id = "
                            ":id", {"id": aid, "tampered": ctx.tampered_json}).fetchone()[0]:
            continue
        hid = reg.conn.execute("SELECT household_id FROM agreement WHERE id = ?",
                               (aid,)).fetchone()[0]
        total = money(values["total"])
        fen = int(total * 100) if total == total.quantize(FEN) else None
        out.append([hid, aid, fen])
    return out


# ---------------------------------------------------------------- a zone's rows

def agreements_for(reg: Registry, household_ids: list[str], ctx: Context
                   ) -> tuple[dict[str, dict], set[str]]:
    """For these households: {household: its agreement in force (shaped as the lists need:
    id, number, signed_on, mode, total, area, flat)} and the set of those with a double
    agreement."""
    if not household_ids or not supported(reg):
        return {}, set()
    marks = ", ".join(f":h{i}" for i in range(len(household_ids)))
    params = {f"h{i}": h for i, h in enumerate(household_ids)}
    params["tampered"] = ctx.tampered_json
    cands: dict[str, list[dict]] = {}
    for (aid, hid, number, signed_on, mode, total, area_type, area, flat_type, flat,
         flats, amended) in reg.conn.execute(
            "SELECT a.id, a.household_id, a.number, a.signed_on, a.mode, a.total, "
            "json_type(a.breakdown, '$.area'), json_extract(a.breakdown, '$.area'), "
            "json_type(a.breakdown, '$.flat'), json_extract(a.breakdown, '$.flat'), "
            "CASE json_type(a.breakdown, '$.flats') WHEN 'array' THEN "
            "json_extract(a.breakdown, '$.flats') END, "
            f"{_amended_sql('a')} FROM agreement a "
            f"WHERE a.household_id IN ({marks}) AND a.deleted IS NULL", params):
        if aid in ctx.aside or aid in ctx.frozen_amends:
            continue
        if aid in ctx.frozen:  # a tampered agreement: its first change, not its row
            values = ctx.frozen[aid]
            if reg.conn.execute(f"SELECT {_amended_sql('a')} FROM agreement a WHERE a.id = "
                                ":id", {"id": aid, "tampered": ctx.tampered_json}).fetchone()[0]:
                continue
            b = Breakdown.from_json(values["breakdown"])
            a = {"id": aid, "number": values.get("number"), "signed_on": values.get("signed_on"),
                 "mode": values.get("mode"), "total": money(values["total"]), "area": b.area,
                 "flat": b.flat, "flats": b.flats or None}
        else:
            if amended:
                continue
            if area_type == "text":
                area_value = Decimal(area)
            elif area_type in (None, "null"):
                area_value = None
            else:  # not how the store writes one: read it as the breakdown's reader does
                area_value = Breakdown.from_json(reg.conn.execute(
                    "SELECT breakdown FROM agreement WHERE id = ?", (aid,)).fetchone()[0]).area
            flat = json.loads(flat) if flat_type == "object" else None  # code, label, ...
            a = {"id": aid, "number": number, "signed_on": signed_on, "mode": mode,
                 "total": money(total), "area": area_value, "flat": flat,
                 "flats": json.loads(flats) if flats else None}  # a several-flat swap
        cands.setdefault(hid, []).append(a)
    in_force = {hid: c[0] for hid, c in cands.items() if len(c) == 1}
    return in_force, {hid for hid, c in cands.items() if len(c) > 1}


def _area_rule(reg: Registry) -> dict | None:
    try:
        return rules_of(reg).data["area"]
    except RulesError:
        return None


def shape_rows(reg: Registry, households: list[dict], first_no: int, ctx: Context,
               area_rule: dict | None) -> list[dict]:
    """List rows (lists.COLUMNS and the row keys of lists.zone_list) of these households,
    numbered from `first_no`."""
    status_field = reg.definition.record("household").field("status")
    in_force, disputed = agreements_for(reg, [h["id"] for h in households], ctx)
    settings = reg.settings
    rows = []
    for n, h in enumerate(households, first_no):
        agreement = in_force.get(h["id"])
        if agreement:
            area = agreement["area"]
        elif area_rule:
            area = recognised_area(area_rule, h, settings)[0]
        else:
            area = None
        rows.append(list_row(n, h, agreement, area, h["id"] in disputed, status_field))
    return rows


def list_row(n: int, h: dict, agreement: dict | None, area, disputed: bool,
             status_field) -> dict:
    """One row of a zone's posting list (lists.COLUMNS): the household as Art. 29 publishes it
    and its agreement in force (None: not signed), shared by the paged and the whole list."""
    return {
        "no": n, "id": h["id"], "house_no": h["house_no"],
        "owner": mask_name(h.get("owner_name")) or "", "address": h.get("address") or "",
        "structure": STRUCTURE_ZH.get(h.get("structure"), h.get("structure") or ""),
        "area": area, "status": status_field.choice_label(h.get("status") or "unsurveyed"),
        "status_code": h.get("status") or "unsurveyed",
        "mode": MODE_LABELS[agreement["mode"]][0] if agreement else "",
        "agreement_no": agreement["number"] if agreement else (
            DISPUTED_LABEL if disputed else ""),
        "signed_on": agreement["signed_on"] if agreement else "",
        "direction": "" if not agreement else (
            HOUSEHOLD_PAYS if agreement["total"] < 0 else PAYS_HOUSEHOLD),
        "total": abs(agreement["total"]) if agreement else None,
        "net": agreement["total"] if agreement else None,
        "disputed": disputed,
    }


ZONE_ORDER = ("FROM household INDEXED BY pages_household_zone_list "
              "WHERE zone = ? AND deleted IS NULL ORDER BY zone, house_no, id")


def iter_rows(reg: Registry, zone: str, *, ctx: Context | None = None,
              area_rule: dict | None = None) -> Iterator[dict]:
    """Every row of a zone's list in order, read and shaped a batch at a time (memory stays
    that of one batch, whatever the zone's size)."""
    ctx = ctx or context(reg)
    if area_rule is None:
        area_rule = _area_rule(reg)
    cur = reg.conn.execute(page_indexes.hinted(reg.conn, f"SELECT * {ZONE_ORDER}"), (zone,))
    cols = [d[0] for d in cur.description]
    n = 1
    while True:
        batch = [dict(zip(cols, r)) for r in cur.fetchmany(BATCH)]
        if not batch:
            return
        yield from shape_rows(reg, batch, n, ctx, area_rule)
        n += len(batch)


@dataclass
class ZonePage:
    """One page of a zone's list, with the zone's figures for its header and footer."""

    zone: str
    rows: list[dict]
    summary: ZoneSummary
    page: int
    size: int

    @property
    def pages(self) -> int:
        return max((self.summary.households + self.size - 1) // self.size, 1)


def page(reg: Registry, zone: str, number: int = 1, size: int = PAGE_SIZE) -> ZonePage:
    """Page `number` (from 1) of a zone's list: rows numbered across pages, as printed."""
    summary = summaries(reg, [zone], only=zone)[0]
    # a page past the end is empty (never an offset SQLite cannot hold: ?page=10**30)
    number = min(max(int(number), 1), summary.households // size + 2)
    ctx = context(reg)
    cur = reg.conn.execute(page_indexes.hinted(reg.conn, f"SELECT * {ZONE_ORDER} LIMIT ? "
                                               "OFFSET ?"), (zone, size, (number - 1) * size))
    cols = [d[0] for d in cur.description]
    households = [dict(zip(cols, r)) for r in cur]
    rows = shape_rows(reg, households, (number - 1) * size + 1, ctx, _area_rule(reg))
    return ZonePage(zone, rows, summary, number, size)
