"""What every response of the web app gets, whoever wrote the view: security headers (a
Content-Security-Policy allowing only this site's own files), a small body limit for visitors
who have not logged in, and failure pages a person can act on."""

from __future__ import annotations

from flask import Flask, g, request
from werkzeug.exceptions import RequestEntityTooLarge

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
