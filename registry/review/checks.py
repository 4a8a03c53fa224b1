"""Checks that flag records for the central office to review (DOMAIN.md, "Known abuses").

One small function per check, each one SQL query over the record tables (fast on 250,000
households) returning `Flag`s: a kind, a reason in Chinese and plain English, and the records
involved. Checks never change or delete records. `run_checks` rebuilds the derived `flag` table
(migration 003); what a supervisor decided about a flag is a `decision` record (a change that
syncs like any other), found again by the flag's stable key, so a closed flag stays closed after
later merges and rebuilds. Tombstoned records are ignored everywhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import statistics
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from anju.registry.compensation import agreements
from anju.registry.compensation.calculation import STRUCTURE_ZH
from anju.registry.compensation.freeze import (
    built_after_freeze,
    freeze_year,
    registered_after_freeze,
)
from anju.registry.core import clock
from anju.registry.core.changes import now
from anju.registry.core.i18n import N_
from anju.registry.core.settings import DEFAULT_AREA_TOLERANCE
from anju.registry.core.settings import load as load_settings
from anju.registry.core.store import Registry, transaction
from anju.registry.core.validation import id_check_char
from anju.registry.publication.privacy import mask_id_for_staff, mask_name

# kind -> (Chinese, English) name of what a check looks for.
KINDS = {
    "duplicate_id": (N_("一人多户"), "One person in two households"),
    "duplicate_cert": (N_("一证多户"), "One title certificate in two households"),
    "freeze_member": (N_("突击落户"), "Registered after the freeze"),
    "freeze_building": (N_("抢建"), "Built after the freeze"),
    "area_mismatch": (N_("面积不符"), "Area differs from the certificate"),
    "use_mismatch": (N_("用途不符"), "Registered use differs from actual use"),
    "duplicate_house": (N_("重复登记"), "Same house recorded twice"),
    "date_order": (N_("日期顺序错误"), "Document dates out of order"),
    "double_agreement": (N_("双重协议"), "Two agreements in force for one household"),
    "agreement_number": (N_("协议编号重复"), "One agreement number used twice"),
    "agreement_dates": (N_("签约日期异常"), "Agreement dated before its valuation or outside the "
                        "signing period"),
    "status_agreement": (N_("状态与协议不符"), "Status contradicts the agreement in force"),
    "signing_burst": (N_("单日集中签约"), "Many signings by one cadre on one day"),
    "rate_outlier": (N_("单价异常"), "Compensation per m² far from its zone's"),
    "id_two_names": (N_("一号多名"), "One ID under two names in one household"),
    "impossible_relation": (N_("关系不合常理"), "Impossible relation to the head"),
    "cert_area_zero": (N_("证载面积为零"), "Certificate area 0 with a surveyed area"),
    "duplicate_house_no": (N_("房屋编号重复"), "One house number in two zones"),
    "clock_ahead": (N_("设备时钟超前"), "A device's clock far ahead"),
    "survey_outdated": (N_("不符合现行调查表"), "Value no longer passes the current survey"),
}
# Settings the checks read (kept with the others; absent: these defaults).
DEFAULT_SIGNING_BURST = 10      # agreements by one cadre on one day above this are flagged
DEFAULT_OUTLIER_MADS = 5        # robust z-score (median / MAD) above this is flagged
OUTLIER_MIN_ZONE = 10           # fewer agreements in a zone: no outlier judged
SIGNED_STATUSES = ("signed", "handed_over", "demolished")
CERT_FIELDS = (("property_cert_no", N_("不动产权证"), "real estate title"),
               ("house_cert_no", N_("房屋所有权证"), "house ownership certificate"),
               ("land_cert_no", N_("土地使用证"), "land use certificate"))
# Household date fields that must not be earlier than another: (earlier, later).
DATE_ORDER = (("valuation_commissioned", "valuation_date"), ("survey_date", "valuation_date"))
CLOSING = ("confirmed", "dismissed")  # decisions that close a flag; "reopened" opens it again


@dataclass(frozen=True)
class Flag:
    """One finding of a check: what, why, and which records."""

    kind: str
    reason_zh: str
    reason_en: str
    records: tuple[tuple[str, str], ...]   # (record_type, record_id), households included
    households: tuple[str, ...]

    @property
    def key(self) -> str:
        """A stable hash of the kind and the record ids: the same finding keeps its key."""
        ids = sorted({rid for _, rid in self.records} | set(self.households))
        return hashlib.sha256("\n".join([self.kind, *ids]).encode()).hexdigest()[:24]


def make_flag(kind: str, zh: str, en: str, households, records=()) -> Flag:
    """A flag over some households and other records, in a canonical order."""
    households = tuple(sorted(set(households)))
    recs = {("household", h) for h in households} | set(records)
    return Flag(kind, zh, en, tuple(sorted(recs)), households)


def normalize(text: str | None) -> str | None:
    """Text compared as people mean it: full-width forms folded, spaces dropped, upper case."""
    if text is None:
        return None
    folded = unicodedata.normalize("NFKC", str(text))
    return "".join(folded.split()).upper() or None


def canonical_id(text: str | None) -> str | None:
    """A resident ID in its one 18-character form: the old 15-digit form gets its century (19)
    and its check character (GB 11643), so 110105491231002 and 11010519491231002X match."""
    folded = normalize(text)
    if folded and len(folded) == 15 and folded.isdigit():
        body = folded[:6] + "19" + folded[6:]
        return body + id_check_char(body)
    return folded


def birth_of(text: str | None) -> str | None:
    """The birth date (YYYY-MM-DD) an ID number carries, or None when it has none."""
    canon = canonical_id(text)
    if not canon or len(canon) != 18 or not canon[:17].isdigit():
        return None
    try:
        return dt.date(int(canon[6:10]), int(canon[10:12]), int(canon[12:14])).isoformat()
    except ValueError:
        return None


def _has(reg: Registry, record: str, *names: str) -> bool:
    """Whether this registry's survey has these fields (a project may define fewer)."""
    rtype = reg.definition.records.get(record)
    return rtype is not None and all(rtype.has(n) for n in names)


def _houses(nos) -> str:
    return "、".join(str(n) for n in nos)


# -- the checks ---------------------------------------------------------------------------------

def _groups(reg: Registry, sql: str) -> list[tuple[str, list]]:
    """Run a `key, json_group_array(...)` query: each shared key with its decoded rows."""
    return [(key, json.loads(rows)) for key, rows in reg.conn.execute(sql)]


def _live_households(reg: Registry, ids) -> dict[str, str]:
    """{id: house_no} of the given households that are not tombstoned."""
    ids = list(dict.fromkeys(ids))
    out = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        marks = ", ".join("?" for _ in chunk)
        out.update(reg.conn.execute(f"SELECT id, house_no FROM household WHERE id IN ({marks}) "
                                    "AND deleted IS NULL", chunk))
    return out


def check_duplicate_id(reg: Registry, settings: dict) -> list[Flag]:
    """一人多户: one resident ID as owner or member of two or more households."""
    if not (_has(reg, "member", "id_no") and _has(reg, "household", "owner_id_no")):
        return []
    # One sort, no join per row: IDs spread over two households (min != max) come back with
    # their rows; tombstoned households are dropped afterwards (they are few).
    groups = _groups(reg, """
        WITH ids AS (
            SELECT anju_id(id_no) AS id_no, household_id AS hid, 'member' AS rtype, id AS rid
            FROM member WHERE deleted IS NULL AND trim(id_no) != ''
            UNION ALL
            SELECT anju_id(owner_id_no), id, 'household', id FROM household
            WHERE deleted IS NULL AND trim(owner_id_no) != '')
        SELECT id_no, json_group_array(json_array(hid, rtype, rid)) FROM ids
        GROUP BY id_no HAVING min(hid) != max(hid) ORDER BY id_no""")
    live = _live_households(reg, [h for _, rows in groups for h, _, _ in rows])
    flags = []
    for id_no, rows in groups:
        hits = [r for r in rows if r[0] in live]
        houses = sorted({live[h] for h, _, _ in hits})
        if len(houses) < 2:
            continue
        shown = mask_id_for_staff(id_no)
        flags.append(make_flag(
            "duplicate_id",
            f"身份证号 {shown} 同时登记在 {len(houses)} 户：{_houses(houses)}",
            f"Resident ID {shown} is registered in {len(houses)} households: "
            f"{', '.join(houses)}",
            [h for h, _, _ in hits], [(t, r) for _, t, r in hits if t == "member"]))
    return flags


def check_duplicate_cert(reg: Registry, settings: dict) -> list[Flag]:
    """一证多户: one title certificate number in two or more households."""
    parts = [f"SELECT '{name}' AS field, anju_norm([{name}]) AS no, id, house_no FROM household "
             f"WHERE deleted IS NULL AND trim([{name}]) != ''"
             for name, _, _ in CERT_FIELDS if _has(reg, "household", name)]
    if not parts:
        return []
    rows = reg.conn.execute(f"""
        SELECT field, no, json_group_array(json_array(id, house_no))
        FROM ({' UNION ALL '.join(parts)})
        GROUP BY field, no HAVING min(id) != max(id) ORDER BY field, no""")
    names = {name: (zh, en) for name, zh, en in CERT_FIELDS}
    flags = []
    for field, no, hits in rows:
        hits = sorted(json.loads(hits), key=lambda h: h[1])
        zh, en = names[field]
        houses = [h[1] for h in hits]
        flags.append(make_flag(
            "duplicate_cert",
            f"{zh} {no} 同时登记在 {len(hits)} 户：{_houses(houses)}",
            f"The {en} {no} is recorded in {len(hits)} households: {', '.join(houses)}",
            [h[0] for h in hits]))
    return flags


def check_freeze_member(reg: Registry, settings: dict) -> list[Flag]:
    """突击落户: a member registered at the address after the freeze date (not one born after
    it: registry/compensation/freeze.py draws the line)."""
    freeze = settings.get("freeze_date")
    if not freeze or not _has(reg, "member", "registered_on"):
        return []
    has_id = _has(reg, "member", "id_no")
    rows = reg.conn.execute(f"""
        SELECT m.id, m.household_id, m.name, m.registered_on, h.house_no,
               {'m.id_no' if has_id else 'NULL'}
        FROM member m JOIN household h ON h.id = m.household_id
        WHERE m.deleted IS NULL AND h.deleted IS NULL AND m.registered_on > ?
        ORDER BY h.house_no, m.registered_on""", (freeze,))
    return [make_flag(
        "freeze_member",
        f"{house_no} 成员 {mask_name(name)} 于 {on} 迁入本址，晚于冻结日 {freeze}",
        f"{house_no}: member {mask_name(name)} registered at the address on {on}, after the "
        f"freeze date {freeze}",
        [hid], [("member", mid)]) for mid, hid, name, on, house_no, id_no in rows
        if registered_after_freeze(on, freeze, birth_of(id_no))]


def check_freeze_building(reg: Registry, settings: dict) -> list[Flag]:
    """抢建: a house built in or after the year of the freeze (the boundary compensation uses
    too, registry/compensation/freeze.py)."""
    freeze = settings.get("freeze_date")
    year = freeze_year(freeze)
    if year is None or not _has(reg, "household", "year_built"):
        return []
    rows = reg.conn.execute("SELECT id, house_no, year_built FROM household WHERE deleted IS NULL "
                            "AND year_built >= ? ORDER BY house_no", (year,))
    return [make_flag("freeze_building",
                      f"{no} 建成年份 {built} 不早于冻结年份 {year}(冻结日 {freeze})",
                      f"{no}: built in {built}, not before the freeze year {year} "
                      f"(freeze date {freeze})", [hid])
            for hid, no, built in rows if built_after_freeze(built, freeze)]


def check_area_mismatch(reg: Registry, settings: dict) -> list[Flag]:
    """Certificate and surveyed area differing by more than the tolerance (a setting)."""
    if not _has(reg, "household", "cert_area", "surveyed_area"):
        return []
    tol = settings.get("area_tolerance")
    tol = DEFAULT_AREA_TOLERANCE if tol is None else float(tol)
    rows = reg.conn.execute("""
        SELECT id, house_no, cert_area, surveyed_area FROM household
        WHERE deleted IS NULL AND cert_area > 0 AND surveyed_area IS NOT NULL
          AND abs(surveyed_area - cert_area) > cert_area * ? + 1e-9
        ORDER BY house_no""", (tol,))
    flags = []
    for hid, no, cert, surveyed in rows:
        pct = (surveyed - cert) / cert * 100
        flags.append(make_flag(
            "area_mismatch",
            f"{no} 测绘面积 {surveyed:g}㎡ 与证载面积 {cert:g}㎡ 相差 {pct:+.1f}%"
            f"（允许 {tol * 100:g}%）",
            f"{no}: surveyed area {surveyed:g} m² differs from the certificate's {cert:g} m² "
            f"by {pct:+.1f}% (tolerance {tol * 100:g}%)", [hid]))
    return flags


def check_use_mismatch(reg: Registry, settings: dict) -> list[Flag]:
    """Residential registered use where the surveyed (actual) use is something else."""
    if not _has(reg, "household", "registered_use", "actual_use"):
        return []
    rtype = reg.definition.record("household")
    rows = reg.conn.execute("""
        SELECT id, house_no, actual_use FROM household
        WHERE deleted IS NULL AND registered_use = 'residential'
          AND actual_use IS NOT NULL AND actual_use != 'residential' ORDER BY house_no""")
    field = rtype.field("actual_use")
    return [make_flag("use_mismatch",
                      f"{no} 证载用途为住宅，实际用途为{field.choice_label(use, 'zh')}",
                      f"{no}: registered as residential, actually used as "
                      f"{field.choice_label(use, 'en').lower()}", [hid])
            for hid, no, use in rows]


def check_duplicate_house(reg: Registry, settings: dict) -> list[Flag]:
    """The same house recorded twice: same zone and house number, or the same address."""
    found: dict[tuple, list[tuple[str, str]]] = {}
    queries = (
        ("house_no", "anju_norm(zone) || '|' || anju_norm(house_no)",
         N_("同一片区内房屋编号相同"), "same house number in the same zone"),
        ("address", "anju_norm(address)", N_("坐落地址相同"), "same address"),
    )
    for name, expr, zh, en in queries:
        if not _has(reg, "household", name):
            continue
        groups = _groups(reg, f"""
            SELECT k, json_group_array(json_array(id, house_no)) FROM (
                SELECT id, house_no, {expr} AS k FROM household WHERE deleted IS NULL)
            WHERE k IS NOT NULL GROUP BY k HAVING count(*) > 1 ORDER BY k""")
        for _, hits in groups:
            ids = tuple(sorted(h[0] for h in hits))
            entry = found.setdefault(ids, [sorted(h[1] for h in hits)])
            entry.append((zh, en))
    flags = []
    for ids, (houses, *why) in found.items():
        flags.append(make_flag(
            "duplicate_house",
            f"{_houses(houses)} 疑为同一房屋重复登记（{'，'.join(w[0] for w in why)}）",
            f"{', '.join(houses)} may be one house recorded twice "
            f"({'; '.join(w[1] for w in why)})", ids))
    return flags


def check_date_order(reg: Registry, settings: dict) -> list[Flag]:
    """Document dates out of order, e.g. a valuation report dated before it was commissioned."""
    rtype = reg.definition.records.get("household")
    hits: dict[str, list] = defaultdict(list)
    nos = {}
    for early, late in DATE_ORDER:
        if not _has(reg, "household", early, late):
            continue
        rows = reg.conn.execute(f"""
            SELECT id, house_no, [{early}], [{late}] FROM household
            WHERE deleted IS NULL AND [{early}] IS NOT NULL AND [{late}] IS NOT NULL
              AND [{late}] < [{early}]""")
        for hid, no, a, b in rows:
            nos[hid] = no
            fa, fb = rtype.field(early).label, rtype.field(late).label
            hits[hid].append((f"{fb['zh']} {b} 早于{fa['zh']} {a}",
                              f"{fb['en']} {b} is before {fa['en'].lower()} {a}"))
    return [make_flag("date_order", f"{nos[hid]} " + "；".join(w[0] for w in why),
                      f"{nos[hid]}: " + "; ".join(w[1] for w in why), [hid])
            for hid, why in sorted(hits.items(), key=lambda kv: nos[kv[0]])]


def check_clock_ahead(reg: Registry, settings: dict) -> list[Flag]:
    """Changes made on a computer whose clock was far ahead of this one's when they arrived
    (registry/core/clock.py): merged, never refused, but worth a look at that laptop's clock."""
    limit = clock.AHEAD_LIMIT.total_seconds() / 86400
    rows = reg.conn.execute("""
        SELECT record_type, record_id, device_id, MAX(at) FROM change
        WHERE at > received_at
          AND julianday(substr(at, 1, 26)) - julianday(substr(received_at, 1, 26)) > ?
        GROUP BY record_type, record_id ORDER BY record_id""", (limit,)).fetchall()
    out = []
    for rtype, rid, device, at in rows:
        hid = rid if rtype == "household" else None
        parent = reg.definition.records.get(rtype)
        if hid is None and parent is not None and parent.parent == "household":
            row = reg.conn.execute(f"SELECT household_id FROM [{rtype}] WHERE id = ?",
                                   (rid,)).fetchone()
            hid = row[0] if row else None
        no = reg.conn.execute("SELECT house_no FROM household WHERE id = ?",
                              (hid,)).fetchone() if hid else None
        label = (no[0] if no else None) or rid[:8]
        out.append(make_flag(
            "clock_ahead",
            f"{label} 的修改时间 {at[:16]} 晚于收到时间，设备 {device[:8]} 的时钟可能不准",
            f"{label}: changed at {at[:16]}, after it arrived; the clock of device "
            f"{device[:8]} may be wrong", [hid] if hid else [], [(rtype, rid)]))
    return out


def check_survey_outdated(reg: Registry, settings: dict) -> list[Flag]:
    """Values accepted under an earlier survey definition that the current one no longer
    allows (a dropped choice, a lowered maximum): kept, and flagged for a new edit."""
    out = []
    for rname, rtype in reg.definition.records.items():
        parent = "household_id" if rtype.parent == "household" else None
        for f in rtype.columns:
            conds, args = [], []
            if f.type == "select_one" and f.choices:
                conds.append(f"[{f.name}] NOT IN ({', '.join('?' for _ in f.choices)})")
                args += [c.value for c in f.choices]
            if f.type in ("integer", "decimal"):
                for key, op in (("min", "<"), ("max", ">")):
                    if key in f.constraint:
                        conds.append(f"[{f.name}] {op} ?")
                        args.append(f.constraint[key])
            if "max_length" in f.constraint and f.type == "text":
                conds.append(f"length([{f.name}]) > ?")
                args.append(f.constraint["max_length"])
            if not conds:
                continue
            who = "id" if rname == "household" else (parent or "NULL")
            rows = reg.conn.execute(
                f"SELECT id, {who}, [{f.name}] FROM [{rname}] WHERE deleted IS NULL AND "
                f"[{f.name}] IS NOT NULL AND ({' OR '.join(conds)})", args).fetchall()
            for rid, hid, value in rows:
                label = f.label
                out.append(make_flag(
                    "survey_outdated", f"{label['zh']} 的值 {value} 不符合现行调查表，请核实修改",
                    f"{label['en']}: {value} no longer passes the current survey definition",
                    [hid] if hid else [], [(rname, rid)]))
    return out

def check_double_agreement(reg: Registry, settings: dict) -> list[Flag]:
    """双重协议: two or more agreements of one household that no other amends (signed on two
    devices, or two amendments of one agreement); neither is in force until settled."""
    if "agreement" not in reg.definition.records:
        return []
    disputed = agreements.disputes(reg)
    nos = _live_households(reg, disputed)
    flags = []
    for hid, rows in sorted(disputed.items(), key=lambda kv: nos.get(kv[0]) or ""):
        if hid not in nos:
            continue
        numbers = "、".join(a["number"] for a in rows)
        flag = make_flag(
            "double_agreement",
            f"{nos[hid]} 有 {len(rows)} 份协议同时有效({numbers}),均不执行,待主管核定保留一份",
            f"{nos[hid]}: {len(rows)} agreements in force at once "
            f"({', '.join(a['number'] for a in rows)}); none is paid until a supervisor keeps one",
            [hid], [("agreement", a["id"]) for a in rows])
        flags.append(flag)
    return flags


def check_agreement_number(reg: Registry, settings: dict) -> list[Flag]:
    """One agreement number on two agreements (made on two devices: numbers are unique
    project-wide, but a device can only check its own)."""
    if "agreement" not in reg.definition.records:
        return []
    groups = _groups(reg, """
        SELECT anju_norm(number), json_group_array(json_array(id, household_id))
        FROM agreement WHERE deleted IS NULL AND trim(number) != ''
        GROUP BY anju_norm(number) HAVING count(*) > 1 ORDER BY 1""")
    live = _live_households(reg, [h for _, rows in groups for _, h in rows])
    flags = []
    for number, rows in groups:
        houses = sorted({live[h] for _, h in rows if h in live})
        flags.append(make_flag(
            "agreement_number",
            f"协议编号 {number} 用于 {len(rows)} 份协议:{_houses(houses)}",
            f"Agreement number {number} is used by {len(rows)} agreements: {', '.join(houses)}",
            [h for _, h in rows if h in live], [("agreement", a) for a, _ in rows]))
    return flags


def _setting(settings: dict, key: str, default: float) -> float:
    try:
        value = float(settings.get(key, default))
    except (TypeError, ValueError):
        return default
    return value if value > 0 else default


def check_agreement_dates(reg: Registry, settings: dict) -> list[Flag]:
    """An agreement (not an amendment) dated before the household's valuation, before the
    signing period began, or after it ended (setting signing_end, else the zone's deadline)."""
    if "agreement" not in reg.definition.records:
        return []
    valuation = "h.valuation_date" if _has(reg, "household", "valuation_date") else "NULL"
    rows = reg.conn.execute(f"""
        SELECT a.id, a.number, a.signed_on, h.id, h.house_no, h.zone, {valuation}
        FROM agreement a JOIN household h ON h.id = a.household_id
        WHERE a.deleted IS NULL AND h.deleted IS NULL AND a.amends IS NULL
        ORDER BY h.house_no, a.signed_on""").fetchall()
    start, end = settings.get("signing_start"), settings.get("signing_end")
    deadlines = {z.get("name"): z.get("deadline") for z in settings.get("zones") or ()
                 if isinstance(z, dict)}
    flags = []
    for aid, number, on, hid, no, zone, valued in rows:
        why = []
        if valued and on < valued:
            why.append((f"早于评估日期 {valued}", f"before the valuation of {valued}"))
        if start and on < str(start):
            why.append((f"早于签约期开始 {start}", f"before the signing period began ({start})"))
        last = end or deadlines.get(zone)
        if last and on > str(last):
            why.append((f"晚于签约期截止 {last}", f"after the signing period ended ({last})"))
        if why:
            flags.append(make_flag(
                "agreement_dates",
                f"{no} 协议 {number} 签约日期 {on} " + "、".join(w[0] for w in why),
                f"{no}: agreement {number} signed on {on}, " + "; ".join(w[1] for w in why),
                [hid], [("agreement", aid)]))
    return flags


def check_status_agreement(reg: Registry, settings: dict) -> list[Flag]:
    """A status that contradicts the agreements: an agreement in force while the household is
    not signed (or past it), or signed and beyond with no agreement at all."""
    if "agreement" not in reg.definition.records:
        return []
    status_field = reg.definition.record("household").field("status")
    everything = agreements.light_agreements(reg)
    in_force = {a["household_id"]: a for a in everything if a["in_force"]}
    has_any = {a["household_id"] for a in everything}
    flags = []
    for hid, no, status in reg.conn.execute(
            "SELECT id, house_no, status FROM household WHERE deleted IS NULL ORDER BY house_no"):
        label = status_field.choice_label(status or "unsurveyed")
        a = in_force.get(hid)
        if a and status not in SIGNED_STATUSES:
            flags.append(make_flag(
                "status_agreement", f"{no} 有现行协议 {a['number']},状态却为{label}",
                f"{no}: agreement {a['number']} is in force but the status is "
                f"{status_field.choice_label(status or 'unsurveyed', 'en').lower()}",
                [hid], [("agreement", a["id"])]))
        elif status in SIGNED_STATUSES and hid not in has_any:
            flags.append(make_flag(
                "status_agreement", f"{no} 状态为{label},却没有补偿协议",
                f"{no}: the status is "
                f"{status_field.choice_label(status, 'en').lower()} but there is no agreement",
                [hid]))
    return flags


def check_signing_burst(reg: Registry, settings: dict) -> list[Flag]:
    """Many agreements signed by one cadre's households on one day (above the setting
    signing_burst, default 10): pressure, or agreements backdated in bulk."""
    if "agreement" not in reg.definition.records or not _has(reg, "household", "cadre"):
        return []
    limit = int(_setting(settings, "signing_burst", DEFAULT_SIGNING_BURST))
    groups = _groups(reg, """
        SELECT h.cadre || '|' || a.signed_on, json_group_array(json_array(h.id, a.id))
        FROM agreement a JOIN household h ON h.id = a.household_id
        WHERE a.deleted IS NULL AND h.deleted IS NULL AND a.amends IS NULL
          AND trim(h.cadre) != ''
        GROUP BY h.cadre, a.signed_on HAVING count(*) > ? ORDER BY 1""".replace("?", str(limit)))
    flags = []
    for key, rows in groups:
        cadre, _, day = key.rpartition("|")
        flags.append(make_flag(
            "signing_burst",
            f"包户干部 {cadre} 的 {len(rows)} 户于 {day} 同日签约(超过 {limit} 户)",
            f"Cadre {cadre}: {len(rows)} households signed on {day} (more than {limit})",
            [h for h, _ in rows], [("agreement", a) for _, a in rows]))
    return flags


def check_rate_outlier(reg: Registry, settings: dict) -> list[Flag]:
    """Money compensation per m² of recognised area far from its zone's: a robust z-score
    (distance from the zone's median in scaled MADs) above the setting outlier_mads (5)."""
    if "agreement" not in reg.definition.records:
        return []
    limit = _setting(settings, "outlier_mads", DEFAULT_OUTLIER_MADS)
    nos = dict(reg.conn.execute("SELECT id, house_no FROM household WHERE deleted IS NULL"))
    zones = dict(reg.conn.execute("SELECT id, zone FROM household WHERE deleted IS NULL"))
    by_zone: dict[tuple, list[tuple[float, dict]]] = defaultdict(list)
    for a in agreements.light_agreements(reg):
        area = a["area"]
        if a["in_force"] and a["mode"] == "money" and area and a["household_id"] in nos:
            # Peers: the same zone and structure (the same unit price in the rules).
            peers = (zones[a["household_id"]], a["structure"])
            by_zone[peers].append((float(a["total"]) / float(area), a))
    flags = []
    for (zone, structure), rows in by_zone.items():
        if len(rows) < OUTLIER_MIN_ZONE:
            continue
        rates = [r for r, _ in rows]
        median = statistics.median(rates)
        mad = statistics.median(abs(r - median) for r in rates) * 1.4826
        if mad == 0:
            continue
        for rate, a in rows:
            z = (rate - median) / mad
            if abs(z) > limit:
                no = nos[a["household_id"]]
                flags.append(make_flag(
                    "rate_outlier",
                    f"{no} 协议 {a['number']} 每平方米补偿 {rate:,.2f} 元,同片区同结构"
                    f"({zone}·{STRUCTURE_ZH.get(structure, structure)})中位数 "
                    f"{median:,.2f} 元(偏离 {z:+.1f} 个稳健标准差)",
                    f"{no}: agreement {a['number']} pays {rate:,.2f} yuan per m², the median "
                    f"of {zone} ({structure}) is {median:,.2f} ({z:+.1f} robust deviations)",
                    [a["household_id"]], [("agreement", a["id"])]))
    return flags


def check_id_two_names(reg: Registry, settings: dict) -> list[Flag]:
    """One resident ID under two different names within one household."""
    if not (_has(reg, "member", "id_no", "name") and _has(reg, "household", "owner_id_no",
                                                            "owner_name")):
        return []
    groups = reg.conn.execute("""
        WITH p AS (
            SELECT household_id AS hid, anju_id(id_no) AS canon, anju_norm(name) AS name,
                   'member' AS t, id AS rid
            FROM member WHERE deleted IS NULL AND trim(id_no) != ''
            UNION ALL
            SELECT id, anju_id(owner_id_no), anju_norm(owner_name), 'household', id
            FROM household WHERE deleted IS NULL AND trim(owner_id_no) != '')
        SELECT hid, canon, json_group_array(json_array(name, t, rid)) FROM p
        WHERE name IS NOT NULL GROUP BY hid, canon HAVING count(DISTINCT name) > 1""").fetchall()
    nos = _live_households(reg, [g[0] for g in groups])
    flags = []
    for hid, canon, rows in sorted(groups, key=lambda g: (nos.get(g[0]) or "", g[1])):
        if hid not in nos:
            continue
        rows = json.loads(rows)
        names = sorted({mask_name(n) for n, _, _ in rows})
        count = len({n for n, _, _ in rows})
        shown = mask_id_for_staff(canon)
        flags.append(make_flag(
            "id_two_names",
            f"{nos[hid]} 身份证号 {shown} 登记为 {count} 个姓名({'、'.join(names)})",
            f"{nos[hid]}: resident ID {shown} is recorded under {count} names",
            [hid], [(t, r) for _, t, r in rows if t == "member"]))
    return flags


# relation -> (must the member be born after the head?, words)
RELATION_AGE = {"child": (True, N_("子女"), "child"),
                "grandchild": (True, N_("孙辈"), "grandchild"),
                "parent": (False, N_("父母"), "parent")}


def check_impossible_relation(reg: Registry, settings: dict) -> list[Flag]:
    """A relation the birth dates rule out: a child or grandchild older than the head, or a
    parent younger than the head (birth dates from the ID numbers; the owner stands for the head
    when no member is recorded as head)."""
    if not (_has(reg, "member", "id_no", "relation") and _has(reg, "household", "owner_id_no")):
        return []
    rows = reg.conn.execute("""
        WITH m AS (
            SELECT id, household_id AS hid, name, relation, anju_birth(id_no) AS born
            FROM member WHERE deleted IS NULL),
        heads AS (
            SELECT hid, min(born) AS born FROM m WHERE relation = 'head' AND born IS NOT NULL
            GROUP BY hid
            UNION ALL
            SELECT id, anju_birth(owner_id_no) FROM household h WHERE deleted IS NULL
              AND NOT EXISTS (SELECT 1 FROM m WHERE m.hid = h.id AND m.relation = 'head'))
        SELECT m.id, m.hid, h.house_no, m.name, m.relation, m.born, heads.born
        FROM m JOIN heads ON heads.hid = m.hid JOIN household h ON h.id = m.hid
        WHERE h.deleted IS NULL AND m.born IS NOT NULL AND heads.born IS NOT NULL AND (
            (m.relation IN ('child', 'grandchild') AND m.born < heads.born)
            OR (m.relation = 'parent' AND m.born > heads.born))
        ORDER BY h.house_no, m.id""").fetchall()
    flags = []
    for rid, hid, no, name, relation, born, head in rows:
        younger, zh, en = RELATION_AGE[relation]
        flags.append(make_flag(
            "impossible_relation",
            f"{no} {zh} {mask_name(name)} 生于 {born},{'早' if younger else '晚'}于户主({head})",
            f"{no}: {en} {mask_name(name)} born {born}, "
            f"{'before' if younger else 'after'} the head ({head})",
            [hid], [("member", rid)]))
    return flags


def check_cert_area_zero(reg: Registry, settings: dict) -> list[Flag]:
    """A certificate area of 0 next to a surveyed area: a typing slip, or a house without title
    recorded as titled."""
    if not _has(reg, "household", "cert_area", "surveyed_area"):
        return []
    rows = reg.conn.execute("SELECT id, house_no, surveyed_area FROM household WHERE deleted IS "
                            "NULL AND cert_area = 0 AND surveyed_area > 0 ORDER BY house_no")
    return [make_flag("cert_area_zero", f"{no} 证载面积为 0,测绘面积 {area:g}㎡",
                      f"{no}: certificate area 0, surveyed area {area:g} m²", [hid])
            for hid, no, area in rows]


def check_duplicate_house_no(reg: Registry, settings: dict) -> list[Flag]:
    """House numbers are unique in the project: one number in two zones (one zone twice is
    check_duplicate_house's)."""
    if not _has(reg, "household", "house_no"):
        return []
    groups = _groups(reg, """
        SELECT anju_norm(house_no), json_group_array(json_array(id, zone)) FROM household
        WHERE deleted IS NULL AND anju_norm(house_no) IS NOT NULL GROUP BY anju_norm(house_no)
        HAVING count(*) > 1 AND count(DISTINCT coalesce(zone, '')) > 1 ORDER BY 1""")
    return [make_flag("duplicate_house_no",
                      f"房屋编号 {no} 用于 {len(rows)} 户"
                      f"({'、'.join(sorted(str(z) for _, z in rows))})",
                      f"House number {no} is used by {len(rows)} households in different zones",
                      [h for h, _ in rows]) for no, rows in groups]


CHECKS: tuple[Callable[[Registry, dict], list[Flag]], ...] = (
    check_duplicate_id, check_duplicate_cert, check_freeze_member, check_freeze_building,
    check_area_mismatch, check_use_mismatch, check_duplicate_house, check_date_order,
    check_clock_ahead, check_survey_outdated,
    check_double_agreement, check_agreement_number, check_agreement_dates,
    check_status_agreement, check_signing_burst, check_rate_outlier, check_id_two_names,
    check_impossible_relation, check_cert_area_zero, check_duplicate_house_no)


# -- running and storing ------------------------------------------------------------------------

def prepare(reg: Registry) -> None:
    """Register the SQL helpers the checks use and the index decisions are looked up by."""
    reg.conn.create_function("anju_norm", 1, normalize, deterministic=True)
    reg.conn.create_function("anju_id", 1, canonical_id, deterministic=True)
    reg.conn.create_function("anju_birth", 1, birth_of, deterministic=True)
    # The checks sort a few hundred thousand short rows: keep that in memory, not temp files.
    reg.conn.execute("PRAGMA temp_store = MEMORY")
    reg.conn.execute("PRAGMA cache_size = -65536")
    reg.conn.execute("CREATE INDEX IF NOT EXISTS decision_flag_key ON decision (flag_key)")


def find_flags(reg: Registry, settings: dict | None = None) -> list[Flag]:
    """Run every check and return the flags (one per key), without storing them."""
    prepare(reg)
    settings = load_settings(reg) if settings is None else settings
    flags: dict[str, Flag] = {}
    for check in CHECKS:
        for flag in check(reg, settings):
            flags.setdefault(flag.key, flag)
    return list(flags.values())


def run_checks(reg: Registry) -> list[Flag]:
    """Run every check and rebuild the flag table; return the flags found.

    Called on demand (`anju check`) and at the end of every merge; inside a caller's transaction
    it writes within it, otherwise in its own.
    """
    flags = find_flags(reg)
    if reg.conn.in_transaction:
        _store(reg, flags)
    else:
        with transaction(reg.conn):
            _store(reg, flags)
    return flags


def after_merge(reg: Registry, results) -> None:
    """Rebuild the flags once after a merge call that brought new changes (central only):
    the single hook registry/merge.py's merge_packs calls at its end."""
    if reg.meta("role") == "central" and any(r.ok and r.new for r in results):
        run_checks(reg)


def _store(reg: Registry, flags: list[Flag]) -> None:
    """Bring the flag table to `flags`, touching only what changed (reruns are cheap)."""
    old = {k: (zh, en) for k, zh, en in
           reg.conn.execute("SELECT flag_key, reason_zh, reason_en FROM flag")}
    new = {f.key: f for f in flags}
    gone = [(k,) for k in old.keys() - new.keys()]
    reg.conn.executemany("DELETE FROM flag_household WHERE flag_key = ?", gone)
    reg.conn.executemany("DELETE FROM flag WHERE flag_key = ?", gone)
    stamp = now()
    added = [f for k, f in new.items() if k not in old]
    reg.conn.executemany(
        "INSERT INTO flag (flag_key, kind, reason_zh, reason_en, records, found_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(f.key, f.kind, f.reason_zh, f.reason_en, json.dumps(f.records), stamp)
         for f in added])
    reg.conn.executemany("INSERT INTO flag_household (flag_key, household_id) VALUES (?, ?)",
                         [(f.key, h) for f in added for h in f.households])
    # The same finding may read differently now (an area corrected but still off).
    reg.conn.executemany("UPDATE flag SET reason_zh = ?, reason_en = ? WHERE flag_key = ?",
                         [(f.reason_zh, f.reason_en, k) for k, f in new.items()
                          if k in old and old[k] != (f.reason_zh, f.reason_en)])


def summary(reg: Registry) -> dict[str, dict[str, int]]:
    """Flag counts per kind: {kind: {"open": n, "closed": m}} from the stored flag table."""
    prepare(reg)
    out = {k: {"open": 0, "closed": 0} for k in KINDS}
    for kind, closed, n in reg.conn.execute(
            f"SELECT f.kind, {closed_sql(reg)} AS closed, count(*) FROM flag f "
            "GROUP BY f.kind, closed"):
        out.setdefault(kind, {"open": 0, "closed": 0})["closed" if closed else "open"] += n
    return out


def closed_sql(reg: Registry, alias: str = "f") -> str:
    """An SQL expression: 1 when flag `alias` is closed by a decision, else 0."""
    marks = ", ".join(f"'{c}'" for c in CLOSING)
    return (f"EXISTS (SELECT 1 FROM decision d WHERE d.flag_key = {alias}.flag_key "
            f"AND d.deleted IS NULL AND d.decision IN ({marks}))")
