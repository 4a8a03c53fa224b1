"""The household list, the surveyor's home page: search, filters, counts and paging.

Search looks in the house number, the owner's name and the address; filters narrow by zone,
status, responsible cadre, "mine", "surveyed today" and "changed since my last export". It stays
fast on tens of thousands of households through the indexes `ensure_indexes` keeps.
"""

from __future__ import annotations

from anju.registry.core import atrest, localtime
from anju.registry.core import search as household_search
from anju.registry.core.store import Registry, transaction
from anju.registry.sync.export_status import central_holds
from flask import Blueprint, g, render_template, request, url_for
from werkzeug.exceptions import NotFound

from .auth import login_required
from .db import get_registry
from .i18n import N_, _, lang

bp = Blueprint("households", __name__)
NAV = [("households.index", N_("住户列表"), "Households", "surveyor")]

PAGE_SIZE = 50
# Indexes on the record tables. They cannot live in a migration: migrations run before the store
# derives the record tables from the survey definition, so a fresh database has no household yet.
INDEXES = {
    # covers the search and its order: a scan of it reads far fewer pages than the wide table
    # (deleted last, so that it does not lure the planner away from the filters' indexes)
    "household_search": "household (house_no, owner_name, address, deleted)",
    "household_zone_house_no": "household (zone, house_no)",
    "household_status_house_no": "household (status, house_no)",
    # the "not yet surveyed" tile: counted in this index alone, without reading a row
    "household_status_deleted": "household (status, deleted)",
    "household_cadre": "household (cadre)",
    "household_survey_date": "household (survey_date)",
    "household_deleted": "household (id) WHERE deleted IS NOT NULL",
    "visit_date_outcome": "visit (visit_date, outcome)",
}


@bp.record_once
def _setup(state) -> None:
    """Create the list's indexes once, when the app is built (an encrypted database that is
    still locked: at the login that opens it, collector/auth.py)."""
    database = state.app.config["DATABASE"]
    if atrest.is_encrypted(database) and not atrest.is_unlocked(database):
        state.app.extensions.setdefault("anju_after_unlock", []).append(
            lambda: _prepare(database))
        return
    _prepare(database)


def _prepare(database) -> None:
    reg = Registry.open(database)
    try:
        ensure_indexes(reg)
        household_search.ensure_search_index(reg.conn)
    finally:
        reg.close()


def ensure_indexes(reg: Registry) -> None:
    """Create the household list's indexes if missing (cheap when they exist)."""
    existing = {r[0] for r in reg.conn.execute("SELECT name FROM sqlite_master "
                                               "WHERE type = 'index'")}
    missing = [name for name in INDEXES if name not in existing]
    if not missing:
        return
    with transaction(reg.conn):
        for name in missing:
            reg.conn.execute(f"CREATE INDEX IF NOT EXISTS [{name}] ON {INDEXES[name]}")


def last_export_at(reg: Registry) -> str | None:
    """When this database last exported a pack (meta 'last_export_at'), or None."""
    return reg.meta("last_export_at")


def _changed_since_export(reg: Registry) -> tuple[str, list]:
    """SQL for the ids of households changed since the last export, with its parameters.

    A household counts as changed when it or one of its members, visits or attachments has an
    unexported change of this device: the same rule as the export reminder
    (registry.export_status): made after the last export and not already held centrally.
    """
    changes = ("SELECT record_type, record_id FROM change WHERE device_id = ? AND "
               "received_at > ? AND seq > ?")
    params = [reg.origin_id, last_export_at(reg) or "", central_holds(reg)]
    children = [r.name for r in reg.definition.records.values() if r.parent == "household"]
    parts = ["SELECT record_id FROM c WHERE record_type = 'household'"]
    parts += [f"SELECT household_id FROM [{name}] WHERE id IN "
              f"(SELECT record_id FROM c WHERE record_type = '{name}')" for name in children]
    return f"WITH c AS ({changes}) " + " UNION ".join(parts), params


def _mine() -> tuple[str, list]:
    """SQL for the ids of households the logged-in user has saved or edited."""
    return ("SELECT record_id FROM change WHERE by = ? AND record_type = 'household'",
            [g.user["name"]])


def _surveyed_today() -> tuple[str, list]:
    """SQL for the ids of households surveyed today (survey date, or a 'surveyed' visit)."""
    today = localtime.today().isoformat()  # the project's day, not the laptop clock's zone
    return ("SELECT id FROM household WHERE survey_date = ? UNION SELECT household_id FROM visit "
            "WHERE visit_date = ? AND outcome = 'surveyed' AND deleted IS NULL", [today, today])


def search(reg: Registry, args: dict, page: int = 1, page_size: int = PAGE_SIZE) -> dict:
    """One page of households matching the list's search and filters, with the count as far as
    it is known (registry.core.search says how each kind of term is served from an index)."""
    where, params = [], []
    for column in ("zone", "status", "cadre"):
        value = (args.get(column) or "").strip()
        if value and column == "status" and value == "unsurveyed":
            where.append("(status = 'unsurveyed' OR status IS NULL)")
        elif value:
            where.append(f"{column} = ?")
            params.append(value)
    for flag, subquery in (("changed", lambda: _changed_since_export(reg)), ("mine", _mine),
                           ("today", _surveyed_today)):
        if args.get(flag) == "1":
            sql, extra = subquery()
            where.append(f"id IN ({sql})")
            params += extra
    return household_search.find(reg.conn, args.get("q") or "", where, params, page,
                                 page_size).as_dict()


def counts(reg: Registry) -> dict:
    """The figures at the top of the list: mine, surveyed today, not yet surveyed."""
    today_sql, today_params = _surveyed_today()
    # "mine" counted from the change log's author index, less the deleted households: checking
    # each of thousands of ids against the household table would take tens of milliseconds.
    row = reg.conn.execute(
        "SELECT "
        "(SELECT COUNT(DISTINCT record_id) FROM change WHERE by = ? AND record_type = "
        "'household' AND record_id NOT IN (SELECT id FROM household WHERE deleted IS NOT NULL)), "
        f"(SELECT COUNT(*) FROM household WHERE deleted IS NULL AND id IN ({today_sql})), "
        "(SELECT COUNT(*) FROM household WHERE status = 'unsurveyed' AND deleted IS NULL) + "
        "(SELECT COUNT(*) FROM household WHERE status IS NULL AND deleted IS NULL)",
        [g.user["name"], *today_params]).fetchone()
    return {"mine": row[0], "today": row[1], "unsurveyed": row[2]}


def filter_options(reg: Registry) -> dict:
    """Choices for the filter menus: zones and cadres (settings first, then what the data has)."""
    settings = reg.settings
    zones = [z.get("name") for z in settings.get("zones", []) if z.get("name")]
    cadres = [c for team in settings.get("teams", []) for c in team.get("cadres", [])]
    for column, known in (("zone", zones), ("cadre", cadres)):
        for value in reg.distinct_values(column):
            if value not in known:
                known.append(value)
    status = reg.definition.record("household").field("status")
    return {"zones": zones, "cadres": cadres,
            "statuses": [(c.value, c.label.get(lang()) or c.label["zh"]) for c in status.choices]}


@bp.route("/households")
@login_required
def index():
    """The list of households with search, filters, counts and paging."""
    reg = get_registry()
    args = {k: request.args.get(k, "") for k in ("q", "zone", "status", "cadre", "changed",
                                                   "mine", "today")}
    if args["today"] == "1" and args["status"] == "unsurveyed":
        args["today"] = ""  # surveyed today and not yet surveyed: no household is both
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        page = 1
    result = search(reg, args, page)
    options = filter_options(reg)
    # per-row work in the template kept to lookups: a page has fifty rows
    labels = dict(options["statuses"])
    return render_template("households/list.html", result=result, args=args,
                           counts=counts(reg), options=options,
                           status_label=lambda v: labels.get(v or "unsurveyed", v),
                           row_url=url_for("dossier.show", household_id="ID").rpartition("/")[0],
                           exported_at=last_export_at(reg))


@bp.app_errorhandler(NotFound)
def not_found(exc):
    """A page or household that does not exist (or no longer does), said in the user's language."""
    message = _("没有这个页面或住户。")
    return render_template("message.html", title=_("找不到"), message=message), 404
