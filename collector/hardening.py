"""What every response of the web app gets, whoever wrote the view: security headers (a
Content-Security-Policy allowing only this site's own files), a small body limit for visitors
who have not logged in, and failure pages a person can act on."""

from __future__ import annotations

import logging
import sqlite3

from anju.registry.core.errors import AnjuError
from anju.registry.core.failures import CORRUPT, explain
from anju.registry.core.store import InvalidChange, StoreError
from flask import Flask, g, make_response, render_template, request
from werkzeug.exceptions import InternalServerError, RequestEntityTooLarge

from .i18n import _

log = logging.getLogger(__name__)
# HTTP status by failure: busy and read-only may pass; a full disk is 507 Insufficient Storage.
STATUS = {"locked": 503, "full": 507, "readonly": 503, "corrupt": 500, "port": 500}
# A refusal (AnjuError) no view handled: input that cannot be used is 422, any other 409.
UNUSABLE_INPUT = (InvalidChange, ValueError)

# A visitor who has not logged in only ever posts the login form.
ANONYMOUS_MAX_BYTES = 64 * 1024
CSP = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    """Install the headers, the anonymous body limit and the failure pages on `app`."""
    # First of all, before the CSRF check reads a form: the body limit must come before any read.
    app.before_request_funcs.setdefault(None, []).insert(0, limit_anonymous_body)
    app.after_request(add_headers)
    # The web app's one error handler: views catch only to say something more specific.
    for kind in (sqlite3.Error, AnjuError, OSError):
        app.register_error_handler(kind, failure_page)
    app.register_error_handler(InternalServerError, internal_error)


def limit_anonymous_body() -> None:
    """Refuse a large body from a visitor who has not logged in, before reading it."""
    from .auth import load_user
    load_user()
    if g.user is not None:
        return
    limit = ANONYMOUS_MAX_BYTES
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    request.max_content_length = limit  # also a chunked body, while it is read


def add_headers(response):
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def failure_page(exc: Exception):
    """A page saying what failed and what to do, in the user's language (never a traceback)."""
    machine = not isinstance(exc, AnjuError) or isinstance(exc, StoreError)
    failure = explain(exc) if machine else None
    if failure is None and isinstance(exc, StoreError) and "not a usable SQLite" in str(exc):
        failure = CORRUPT
    if failure is None:
        if isinstance(exc, AnjuError):  # a refusal: its words for people, in their language
            log.info("refused (%s): %s", exc.code, exc)
            return _page(_("无法完成"), exc.for_people(_),
                         422 if isinstance(exc, UNUSABLE_INPUT) else 409)
        return internal_error(exc)
    log.warning("%s: %s", failure.kind, exc)
    response = _page(_("未能完成操作"), _(failure.zh),
                     STATUS.get(failure.kind, 500))
    if failure.kind == "locked":
        response.headers["Retry-After"] = "10"
    return response


def internal_error(exc):
    """Any other failure: a Chinese page, the details in the log only."""
    log.error("internal error", exc_info=getattr(exc, "original_exception", None) or exc)
    return _page(_("出错了"), _("程序出错，本次操作可能没有完成。请返回上一页重试；"
                               "如果反复出现，请联系管理员。"), 500)


def _page(title: str, message: str, status: int):
    # A page of its own (failure.html extends nothing): the usual layout reads the database.
    return make_response(render_template("failure.html", title=title, message=message), status)
