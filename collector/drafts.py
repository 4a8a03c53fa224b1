"""Drafts that survive: what a surveyor typed is not lost to an expired session or token.

Two halves. In the browser, static/drafts.js keeps a draft of every form marked
``data-draft="<form>:<record>"`` in localStorage while typing, restores it after a reload or a
re-login, and warns before leaving a changed form. On the server, a post refused for its
security token (the session ended, the laptop slept past the working day) is not thrown away:
the refusal page holds the posted values (hidden, with a fresh token) together with a login
form; after logging in again the form comes back filled in, to check and save. Nothing is saved
without the surveyor pressing save. A successful save tells the browser (once, through the
session) which draft it may forget.
"""

from __future__ import annotations

from anju.registry.core import users
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
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from .auth import SITE, load_user, public
from .db import get_registry
from .i18n import _

bp = Blueprint("drafts", __name__)

# Posted names that are never carried over: the old token, login fields, files.
DROPPED = frozenset({"csrf_token", "_login_name", "_login_password", "_resume_to", "password"})
MAX_VALUES = 2000
# The forms whose page can be rendered again from posted values: endpoint -> renderer(args).
RENDERERS: dict = {}


def resumable(endpoint: str):
    """Register the function that renders `endpoint`'s form again from request.form."""
    def register(fn):
        RENDERERS[endpoint] = fn
        return fn
    return register


def saved(key: str) -> None:
    """Tell the next page that the draft `key` was saved and may be forgotten."""
    keys = [k for k in session.get("drafts_saved", []) if k != key][-9:]
    session["drafts_saved"] = [*keys, key]


@bp.app_context_processor
def inject_saved() -> dict:
    """The drafts saved since the last page, for <body data-drafts-saved> (read once)."""
    def drafts_saved() -> str:
        return " ".join(session.pop("drafts_saved", []) or [])
    return {"drafts_saved": drafts_saved}


def held_values(form) -> list[tuple[str, str]]:
    """The posted (name, value) pairs worth keeping, in order."""
    out = []
    for name, value in form.items(multi=True):
        if name in DROPPED or len(out) >= MAX_VALUES:
            continue
        out.append((name[:100], value[:10_000]))
    return out


def _local_path(path: str) -> str | None:
    """`path` if it is a page of this app that takes a post, else None."""
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
        return None
    try:
        current_app.url_map.bind("localhost").match(path, method="POST")
    except HTTPException:
        return None
    return path


def held_page(message: str, status: int = 400):
    """The page shown for a refused post: the values kept, a login form if needed."""
    if request.endpoint == "auth.logout":
        users.end_session(get_registry(), session.pop("sid", None))
        return redirect(url_for("auth.login"))  # logging out needs nothing kept
    load_user()
    target = _local_path(request.path)
    values = held_values(request.form) if target else []
    return render_template("drafts/held.html", message=message, values=values, target=target,
                           logged_in=g.get("user") is not None), status


@bp.route("/login/resume", methods=("POST",))
@public
def resume():
    """Log in again and get the interrupted form back, filled in with what was typed."""
    target = _local_path(request.form.get("_resume_to", ""))
    values = held_values(request.form)
    load_user()
    if g.user is None:
        # The same login as the login page: server-side session, backoff, equal timing.
        reg = get_registry()
        user, token, wait = users.login(reg, request.form.get("_login_name", "").strip()[:100],
                                        request.form.get("_login_password", ""),
                                        request.remote_addr, SITE)
        if user is None:
            message = (_("登录失败次数过多，请 %(wait)s 秒后再试。您填写的内容仍保留在本页。",
                         wait=wait) if wait else
                       _("用户名或密码错误，请重新输入。您填写的内容仍保留在本页。"))
            return render_template("drafts/held.html", message=message, values=values,
                                   target=target, logged_in=False, error=True), \
                429 if wait else 401
        lang = session.get("lang")
        session.clear()
        session.permanent = True
        session["sid"] = token
        if lang:
            session["lang"] = lang
        request.anju_user_loaded = False
        load_user()
    if target is None:
        return render_template("message.html", title=_("已登录"),
                               message=_("已重新登录。")), 200
    endpoint, args = current_app.url_map.bind("localhost").match(target, method="POST")
    if endpoint in ("auth.login", "auth.logout"):
        return redirect(url_for("index"))  # the login itself was what expired
    renderer = RENDERERS.get(endpoint)
    if renderer is not None:
        flash(_("已重新登录，您填写的内容已恢复。请检查后保存。"))
        response = renderer(MultiDict(values), **args)
        body, status = response if isinstance(response, tuple) else (response, 200)
        return body, 200 if status == 422 else status  # shown to check, not refused
    return render_template("drafts/held.html", message=_("已重新登录。请点“重新提交”提交您填写的"
                                                         "内容。"),
        values=values, target=target, logged_in=True, direct=True), 200
