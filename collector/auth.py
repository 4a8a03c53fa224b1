"""Logins: accounts made by `anju user add`, sessions lasting a working day, roles."""

from __future__ import annotations

import functools

from anju.registry.core.users import ROLES, authenticate
from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for

from .db import get_registry
from .i18n import t

bp = Blueprint("auth", __name__)


@bp.before_app_request
def load_user() -> None:
    """Put the logged-in user (name, role) on g, or None."""
    g.user = session.get("user")


def login_required(view):
    """Send anonymous visitors to the login page."""
    @functools.wraps(view)
    def wrapped(**kwargs):
        if g.user is None:
            return redirect(url_for("auth.login", next=request.full_path))
        return view(**kwargs)
    return wrapped


def role_required(minimum: str):
    """Require a login with at least the given role (surveyor < supervisor < admin)."""
    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapped(**kwargs):
            if not has_role(minimum):
                return render_template("forbidden.html"), 403
            return view(**kwargs)
        return wrapped
    return decorator


def has_role(minimum: str) -> bool:
    """Whether the current user has at least the given role."""
    return g.user is not None and ROLES.index(g.user["role"]) >= ROLES.index(minimum)


@bp.app_context_processor
def inject_roles() -> dict:
    return {"has_role": has_role}


@bp.route("/login", methods=("GET", "POST"))
def login():
    """Log in with a name and password."""
    error = None
    if request.method == "POST":
        user = authenticate(get_registry(), request.form.get("name", "").strip(),
                            request.form.get("password", ""))
        if user is None:
            error = t("用户名或密码错误", "Wrong user name or password")
        else:
            lang = session.get("lang")
            session.clear()
            session.permanent = True
            session["user"] = user
            if lang:
                session["lang"] = lang
            target = request.args.get("next", "")
            # Only local paths: never redirect a login to another site.
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("index")
            return redirect(target)
    return render_template("login.html", error=error), (401 if error else 200)


@bp.route("/logout", methods=("POST",))
def logout():
    """Log out and return to the login page."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(t("已退出登录", "Logged out"))
    return redirect(url_for("auth.login"))
