"""The review queue of the central office: open flags from the checks and open sync conflicts.

Filterable by zone, kind and cadre. A flag is closed with a decision and a reason (a `decision`
record: a change that syncs); a conflict is resolved on the packs engineer's conflict page
(`sync.resolve_conflict`), itself a change. The household page shows its open items through a
dossier panel.
"""

from __future__ import annotations

from anju.registry.core.store import Registry, StoreError
from anju.registry.review import checks
from anju.registry.review import decisions as queue_mod
from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.routing import BuildError

from .auth import has_role, role_required
from .db import get_registry
from .i18n import N_, _

bp = Blueprint("review", __name__)
NAV = [("review.index", N_("审核"), "Review", "supervisor")]
PAGE_SIZE = 50


def conflict_url(item: dict, back: str | None = None) -> str | None:
    """The page resolving a conflict, if the app has one; `back` is where it returns after."""
    if "sync.resolve_conflict" not in current_app.view_functions:
        return None
    extra = {"next": back} if back else {}
    try:
        return url_for("sync.resolve_conflict", record_type=item["record_type"],
                       record_id=item["record_id"], field=item["field"], **extra)
    except BuildError:
        return None


def household_url(household_id: str) -> str | None:
    """The household page (一户一档), if the app has one."""
    if "dossier.show" not in current_app.view_functions:
        return None
    return url_for("dossier.show", household_id=household_id)


@bp.app_context_processor
def helpers() -> dict:
    return {"conflict_url": conflict_url, "household_url": household_url,
            "decisions": queue_mod.DECISIONS}


def _options(reg: Registry) -> dict:
    zones, cadres = reg.distinct_values("zone"), reg.distinct_values("cadre")
    return {"zones": zones, "cadres": cadres, "kinds": queue_mod.kinds()}


@bp.route("/review")
@role_required("supervisor")
def index():
    """The queue: open (or decided) items, filtered, a page at a time."""
    reg = get_registry()
    args = {k: request.args.get(k, "").strip() for k in ("zone", "kind", "cadre", "closed")}
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    kind = args["kind"] if args["kind"] in queue_mod.kinds() else ""
    total, items = queue_mod.queue(reg, zone=args["zone"] or None, kind=kind or None,
                                   cadre=args["cadre"] or None, closed=args["closed"] == "1",
                                   limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    counts = checks.summary(reg)
    conflicts = reg.conflict_count()
    return render_template("review/queue.html", items=items, total=total, page=page,
                           pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1), args=args,
                           options=_options(reg), counts=counts, conflicts=conflicts)


@bp.route("/review/run", methods=("POST",))
@role_required("supervisor")
def run():
    """Run the checks now and rebuild the flags."""
    flags = checks.run_checks(get_registry())
    flash(_("检查完成，共 %(n)s 个疑点", n=len(flags)))
    return redirect(url_for("review.index"))


@bp.route("/review/flags/<flag_key>", methods=("POST",))
@role_required("supervisor")
def decide(flag_key: str):
    """Close (or reopen) a flag with a decision and a reason."""
    decision = request.form.get("decision", "")
    reason = request.form.get("reason", "").strip()
    back = request.form.get("next", "")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("review.index")
    if decision not in queue_mod.DECISIONS:
        flash(_("请选择决定"))
        return redirect(back)
    if not reason:
        flash(_("请填写理由，决定必须说明理由"))
        return redirect(back)
    try:
        queue_mod.decide(get_registry(), flag_key, decision, reason[:1000], by=g.user["name"])
    except StoreError:
        flash(_("未能保存决定：这条提示可能已经不存在，请刷新审核列表后再试。"))
        return redirect(back)
    flash(_("已记录决定：%(decision)s", decision=_(queue_mod.DECISIONS[decision][0])))
    return redirect(back)


def household_panel(reg: Registry, household: dict) -> Markup | None:
    """The household page's box of open review items (for supervisors), or None."""
    if not has_role("supervisor"):
        return None
    items = queue_mod.open_items(reg, household["id"])
    if not items:
        return None
    return Markup(render_template("review/panel.html", items=items,
                                  here=request.full_path.rstrip("?")))


try:  # the household page lets other parts add boxes; without it there is nothing to add to
    from .dossier import panel
except ImportError:  # pragma: no cover
    pass
else:
    panel(household_panel)
