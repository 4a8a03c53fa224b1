"""Logins: accounts made by `anju user add`, server-side sessions lasting a working day, roles.

The cookie holds only a random session token; the account and its role are read from the
database on every request (registry.core.users), so logout, a disabled account or a new
password or role take effect at once. Every view declares who may open it: `public`,
`login_required` or `role_required(...)` set `required_role` on the view, and a test walks the
url_map so that no route goes without.
"""

from __future__ import annotations

import functools

from anju.registry.core import atrest, users
from anju.registry.core.redirects import safe_next
from anju.registry.core.users import ROLES
from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from .db import database_locked, get_registry
from .i18n import _

bp = Blueprint("auth", __name__)
SITE = "collector"


@bp.before_app_request
def load_user() -> None:
    """Put the logged-in user (name, role as stored now) on g, or None (once per request)."""
    if getattr(request, "anju_user_loaded", False):
        return
    request.anju_user_loaded = True
    g.user = None
    token = session.get("sid")
    if not token or request.endpoint == "static" or database_locked():
        return  # a locked database (the app restarted): log in again to unlock it
    g.user = users.session_user(get_registry(), token, SITE)
    if g.user is None:
        session.pop("sid", None)


def public(view):
    """Mark a view that anyone may open (the login page, the start page)."""
    view.required_role = "public"
    return view


def login_required(view):
    """Send anonymous visitors to the login page."""
    @functools.wraps(view)
    def wrapped(**kwargs):
        if g.user is None:
            return redirect(url_for("auth.login", next=request.full_path))
        return view(**kwargs)
    wrapped.required_role = "surveyor"
    return wrapped


def role_required(minimum: str, *, central: str | None = None):
    """Require a login with at least the given role (surveyor < supervisor < admin); with
    `central`, a higher role on the central registry (its backups hold the project's keys)."""
    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapped(**kwargs):
            needed = minimum
            if central and get_registry().meta("role") == "central":
                needed = central
            if not has_role(needed):
                return render_template("forbidden.html"), 403
            return view(**kwargs)
        wrapped.required_role = minimum if central is None else f"{minimum}/{central}"
        return wrapped
    return decorator


def has_role(minimum: str) -> bool:
    """Whether the current user has at least the given role."""
    return g.user is not None and ROLES.index(g.user["role"]) >= ROLES.index(minimum)


@bp.app_context_processor
def inject_roles() -> dict:
    return {"has_role": has_role}


@bp.route("/login", methods=("GET", "POST"))
@public
def login():
    """Log in with a name and password."""
    error, status = None, 200
    locked = database_locked()
    if request.method == "POST":
        name = request.form.get("name", "").strip()[:100]
        password = request.form.get("password", "")
        if locked:  # the first login after a start opens the encrypted database
            error, status = unlock_database(name, password)
            if error:
                return render_template("login.html", error=error, locked=True), status
        reg = get_registry()
        user, token, wait = users.login(reg, name, password, request.remote_addr, SITE)
        if wait:
            error, status = _("登录失败次数过多，请 %(wait)s 秒后再试", wait=wait), 429
        elif user is None:
            error, status = _("用户名或密码错误"), 401
        else:
            users.end_session(reg, session.get("sid"))
            lang = session.get("lang")
            session.clear()
            session.permanent = True
            session["sid"] = token
            if lang:
                session["lang"] = lang
            return redirect(safe_next(request.args.get("next"), url_for("index")))
    return render_template("login.html", error=error, locked=locked), status


def unlock_database(name: str, password: str) -> tuple[str | None, int]:
    """Open the app's encrypted database with this user's key slot: (None, 200), or the message
    and status to show (the same words as a wrong password, so no name is given away)."""
    path = current_app.config["DATABASE"]
    wait = atrest.unlock_wait(path)
    if wait:
        return _("登录失败次数过多，请 %(wait)s 秒后再试", wait=wait), 429
    try:
        atrest.unlock(path, password, user=name)
    except atrest.WrongPassword:
        return _("用户名或密码错误"), 401
    except atrest.AtRestError as exc:
        return str(exc), 500
    for task in current_app.extensions.pop("anju_after_unlock", []):
        task()  # what the app would have done at its start (indexes)
    return None, 200


@bp.route("/logout", methods=("POST",))
@public
def logout():
    """Log out (the session ends on the server too) and return to the login page."""
    users.end_session(get_registry(), session.get("sid"))
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("已退出登录"))
    return redirect(url_for("auth.login"))
