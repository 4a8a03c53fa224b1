"""The core contract between anju's code and a project's survey ("the survey is data").

A project may add fields and record types freely, and relabel, reorder or constrain what is here;
but the code reads these fields by name (checks, compensation, progress, publication, the forms),
so a survey must have each of them, with a type of the family given. (The demo builder fills
more of the default survey; it runs on that survey only.) `check` runs whenever a
definition is parsed, so a survey without `cadre` is refused by `anju init --survey` and by
`anju survey adopt`, with the field named, instead of breaking the web app later.

System records (agreement, decision and the lawful path's publication_round, objection,
valuation, compensation_decision) are anju's own: their definition is
schema/system_records.yaml, shipped with the code and merged into every survey; a project's
survey cannot change them.
"""

from __future__ import annotations

from pathlib import Path

SYSTEM_RECORDS_PATH = (Path(__file__).resolve().parent.parent.parent / "schema"
                       / "system_records.yaml")

TEXT = ("text",)
NUMBER = ("integer", "decimal")
CHOICE = ("select_one",)

SYSTEM_RECORDS = ("agreement", "decision", "payment", "handover", "publication_round",
                  "objection", "valuation", "compensation_decision", "fixture", "flat",
                  "selection_order", "flat_choice", "care_help")

# record -> field -> the types the code can work with.
REQUIRED: dict[str, dict[str, tuple[str, ...]]] = {
    "household": {
        "house_no": TEXT, "zone": TEXT + CHOICE, "address": TEXT, "status": CHOICE,
        "cadre": TEXT + CHOICE, "owner_name": TEXT, "owner_id_no": ("resident_id",),
        "structure": CHOICE, "decoration": CHOICE,
        "actual_use": CHOICE, "registered_use": CHOICE, "hardship": ("select_multiple",),
        "cert_area": NUMBER, "surveyed_area": NUMBER, "unregistered_area": NUMBER,
        "year_built": ("integer",), "compensation_mode": CHOICE,
        "preferred_flat_size": NUMBER, "survey_date": ("date",),
        "valuation_commissioned": ("date",), "valuation_date": ("date",),
    },
    "member": {"name": TEXT, "id_no": ("resident_id",), "relation": CHOICE,
               "registered_on": ("date",)},
    "visit": {"visit_date": ("date",), "surveyor": TEXT, "outcome": CHOICE, "note": TEXT},
    "attachment": {"field": TEXT, "filename": TEXT, "mime": TEXT, "size": ("integer",),
                   "sha256": TEXT},
}
# The workflow (registry/core/workflow.py) moves households through these statuses.
STATUSES = ("unsurveyed", "surveyed", "published", "valued", "signed", "handed_over",
            "demolished", "disputed", "decision")
# Child records the code reads as children of a household.
PARENTS = {"member": "household", "visit": "household", "attachment": "household"}


def system_records_text() -> str:
    """The YAML of anju's system records (schema/system_records.yaml)."""
    return SYSTEM_RECORDS_PATH.read_text(encoding="utf-8")


def problems(records: dict) -> list[str]:
    """What a parsed survey lacks of the contract, one line per field, naming it."""
    out = []
    for rname, fields in REQUIRED.items():
        rec = records.get(rname)
        if rec is None:
            out.append(f"record {rname}: anju needs this record type")
            continue
        if PARENTS.get(rname) and rec.parent != PARENTS[rname]:
            out.append(f"record {rname}: must have parent {PARENTS[rname]}")
        for fname, types in fields.items():
            if not rec.has(fname):
                out.append(f"field {rname}.{fname}: anju needs this field "
                           f"(type {' or '.join(types)})")
                continue
            f = rec.field(fname)
            if f.type not in types:
                out.append(f"field {rname}.{fname}: must be of type {' or '.join(types)}, "
                           f"not {f.type}")
    status = records.get("household")
    if status is not None and status.has("status"):
        values = {c.value for c in status.field("status").choices}
        missing = [s for s in STATUSES if s not in values]
        if missing:
            out.append(f"field household.status: needs the choices {', '.join(missing)}")
    return out
