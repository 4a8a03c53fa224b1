"""Checks that flag records for the central office to review (DOMAIN.md, "Known abuses").

One small function per check, each one SQL query over the record tables (fast on 250,000
households) returning `Flag`s: a kind, a reason in Chinese and plain English, and the records
involved. Checks never change or delete records. `run_checks` rebuilds the derived `flag` table
(migration 003); what a supervisor decided about a flag is a `decision` record (a change that
syncs like any other), found again by the flag's stable key, so a closed flag stays closed after
later merges and rebuilds. Tombstoned records are ignored everywhere.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from anju.registry.core.changes import now
from anju.registry.core.settings import DEFAULT_AREA_TOLERANCE
from anju.registry.core.settings import load as load_settings
from anju.registry.core.store import Registry, transaction
from anju.registry.publication.privacy import mask_id_for_staff, mask_name

# kind -> (Chinese, English) name of what a check looks for.
KINDS = {
    "duplicate_id": ("一人多户", "One person in two households"),
    "duplicate_cert": ("一证多户", "One title certificate in two households"),
    "freeze_member": ("突击落户", "Registered after the freeze"),
    "freeze_building": ("抢建", "Built after the freeze"),
    "area_mismatch": ("面积不符", "Area differs from the certificate"),
    "use_mismatch": ("用途不符", "Registered use differs from actual use"),
    "duplicate_house": ("重复登记", "Same house recorded twice"),
    "date_order": ("日期顺序错误", "Document dates out of order"),
}
CERT_FIELDS = (("property_cert_no", "不动产权证", "real estate title"),
               ("house_cert_no", "房屋所有权证", "house ownership certificate"),
               ("land_cert_no", "土地使用证", "land use certificate"))
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
            SELECT upper(trim(id_no)) AS id_no, household_id AS hid, 'member' AS rtype, id AS rid
            FROM member WHERE deleted IS NULL AND trim(id_no) != ''
            UNION ALL
            SELECT upper(trim(owner_id_no)), id, 'household', id FROM household
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
    """突击落户: a member registered at the address after the freeze date."""
    freeze = settings.get("freeze_date")
    if not freeze or not _has(reg, "member", "registered_on"):
        return []
    rows = reg.conn.execute("""
        SELECT m.id, m.household_id, m.name, m.registered_on, h.house_no
        FROM member m JOIN household h ON h.id = m.household_id
        WHERE m.deleted IS NULL AND h.deleted IS NULL AND m.registered_on > ?
        ORDER BY h.house_no, m.registered_on""", (freeze,))
    return [make_flag(
        "freeze_member",
        f"{house_no} 成员 {mask_name(name)} 于 {on} 迁入本址，晚于冻结日 {freeze}",
        f"{house_no}: member {mask_name(name)} registered at the address on {on}, after the "
        f"freeze date {freeze}",
        [hid], [("member", mid)]) for mid, hid, name, on, house_no in rows]


def check_freeze_building(reg: Registry, settings: dict) -> list[Flag]:
    """抢建: a house built in a year after the year of the freeze."""
    freeze = settings.get("freeze_date")
    if not freeze or not _has(reg, "household", "year_built"):
        return []
    year = int(str(freeze)[:4])
    rows = reg.conn.execute("SELECT id, house_no, year_built FROM household WHERE deleted IS NULL "
                            "AND year_built > ? ORDER BY house_no", (year,))
    return [make_flag("freeze_building",
                      f"{no} 建成年份 {built} 晚于冻结年份 {year}",
                      f"{no}: built in {built}, after the freeze year {year}", [hid])
            for hid, no, built in rows]


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
         "同一片区内房屋编号相同", "same house number in the same zone"),
        ("address", "anju_norm(address)", "坐落地址相同", "same address"),
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


CHECKS: tuple[Callable[[Registry, dict], list[Flag]], ...] = (
    check_duplicate_id, check_duplicate_cert, check_freeze_member, check_freeze_building,
    check_area_mismatch, check_use_mismatch, check_duplicate_house, check_date_order)


# -- running and storing ------------------------------------------------------------------------

def prepare(reg: Registry) -> None:
    """Register the SQL helpers the checks use and the index decisions are looked up by."""
    reg.conn.create_function("anju_norm", 1, normalize, deterministic=True)
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
