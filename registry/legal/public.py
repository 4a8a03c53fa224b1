"""The lawful path in the public database: rounds, what each published, and the decisions.

Written by registry/publication/publish.py into public.db, beside the household table:
- publication_round: each round's number, kind, title, dates, household count and the SHA-256 of
  the public.db it published (a round cannot hold its own file's digest: it shows from the next
  publication on, and the registry keeps it from the moment the file is written);
- round_household: which house numbers each round published (a resident finds his house's rounds);
- compensation_decision: each issued decision that a decision round published (Art. 26), with
  the owner's name masked the one way (registry/publication/privacy.py) when the survey publishes
  it at all (owner_name not `never`), and no other personal data.
"""
# i18n: no-catalog (the public site's labels are written into public.db).

from __future__ import annotations

from anju.registry.compensation.calculation import MODE_LABELS
from anju.registry.core.store import Registry
from anju.registry.legal import decisions, rounds
from anju.registry.legal.common import supported
from anju.registry.publication.privacy import NameScrubber, mask_name, scrub_text

COLUMNS = {
    "publication_round": [
        ("number", "INTEGER", "轮次", "Round", "integer"),
        ("kind", "TEXT", "公示内容", "What was published", "text"),
        ("title", "TEXT", "标题", "Title", "text"),
        ("start_on", "TEXT", "公示开始", "Starts on", "date"),
        ("end_on", "TEXT", "公示结束", "Ends on", "date"),
        ("households", "INTEGER", "公示户数", "Households", "integer"),
        ("public_digest", "TEXT", "发布文件摘要(SHA-256)", "Published file SHA-256", "code"),
        ("public_file", "TEXT", "发布文件", "Published file", "text"),
    ],
    "round_household": [
        ("round_number", "INTEGER", "轮次", "Round", "integer"),
        ("house_no", "TEXT", "房屋编号", "House number", "text"),
        ("zone", "TEXT", "片区/地块", "Zone", "text"),
    ],
    "compensation_decision": [
        ("round_number", "INTEGER", "公告轮次", "Round", "integer"),
        ("house_no", "TEXT", "房屋编号", "House number", "text"),
        ("zone", "TEXT", "片区/地块", "Zone", "text"),
        ("owner_name", "TEXT", "被征收人", "Owner", "text"),
        ("number", "TEXT", "决定书编号", "Decision number", "text"),
        ("issued_on", "TEXT", "作出日期", "Issued on", "date"),
        ("mode", "TEXT", "补偿方式", "Compensation mode", "text"),
        ("total", "REAL", "补偿合计(元)", "Total (yuan)", "money"),
    ],
}


def _owner_published(reg: Registry) -> bool:
    """Whether the survey publishes the owner's name (masked): a decision list follows it."""
    rtype = reg.definition.record("household")
    return rtype.has("owner_name") and rtype.field("owner_name").publish != "never"


def write_tables(conn, reg: Registry, people: list[str] | NameScrubber) -> None:
    """Create and fill the lawful-path tables of a public database (caller's transaction)."""
    with_owner = _owner_published(reg)
    for table, cols in COLUMNS.items():
        if not with_owner:
            cols = [c for c in cols if c[0] != "owner_name"]
        conn.execute(f"CREATE TABLE [{table}] ({', '.join(f'[{c[0]}] {c[1]}' for c in cols)})")
        conn.executemany("INSERT INTO column_info VALUES (?, ?, ?, ?, ?)",
                         [(table, c[0], c[2], c[3], c[4]) for c in cols])
    if not supported(reg, "publication_round"):
        return
    all_rounds = rounds.rounds(reg)
    if not all_rounds:  # nothing to list: no map of every household (1,000,000 at scale)
        conn.execute("CREATE INDEX round_household_house ON round_household (house_no)")
        return
    houses = {r[0]: (r[1], r[2], r[3]) for r in reg.conn.execute(
        "SELECT id, house_no, zone, owner_name FROM household WHERE deleted IS NULL")}
    # publish passes the NameScrubber it built already (a million names are read once)
    names = people if isinstance(people, NameScrubber) else NameScrubber(people)
    conn.executemany("INSERT INTO publication_round VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
        (r["number"], r["kind_zh"], scrub_text(r.get("title"), names), r["start_on"],
         r["end_on"], r["count"], r.get("public_digest"), r.get("public_file"))
        for r in all_rounds])
    conn.executemany("INSERT INTO round_household VALUES (?, ?, ?)", [
        (r["number"], houses[h][0], houses[h][1]) for r in all_rounds
        for h in r["household_ids"] if h in houses])
    first_round = {}
    for r in all_rounds:
        if r["kind"] == "decision":
            for h in r["household_ids"]:
                first_round.setdefault(h, r["number"])
    if not supported(reg, "compensation_decision"):
        return
    rows = []
    for d in decisions.all_decisions(reg):
        hid = d["household_id"]
        if not d.get("issued_on") or hid not in first_round or hid not in houses:
            continue
        house_no, zone, owner = houses[hid]
        row = (first_round[hid], house_no, zone, mask_name(owner), d["number"],
               d["issued_on"], MODE_LABELS.get(d["mode"], (d["mode"],))[0],
               float(d["total"]) if d["total"] is not None else None)
        rows.append(row if with_owner else row[:3] + row[4:])
    marks = ", ".join("?" for _ in range(8 if with_owner else 7))
    conn.executemany(f"INSERT INTO compensation_decision VALUES ({marks})", rows)
    conn.execute("CREATE INDEX round_household_house ON round_household (house_no)")
