"""The staff site's gate: a Chinese login page, anonymous visitors sent to it, secrets blanked.

Accounts: the datasette-auth-passwords account configured from ANJU_STAFF_PASSWORD_HASH (a
pbkdf2_sha256 hash from `datasette hash-password`), and the registry's own admin and supervisor
users (registry.users.authenticate), so the central office logs in with the same password as in
the web app. Only active on the staff site (plugin setting anju.mode = staff).
"""

from __future__ import annotations

import asyncio
import hashlib
import pathlib
import re
import sqlite3
import time
import types

from anju.plugins import common
from anju.registry.core.redirects import safe_next
from datasette import Response, hookimpl
from markupsafe import Markup

STAFF_ROLES = ("admin", "supervisor")
SITE = "staff"
COOKIE = "anju_staff"  # the session token; the account lives in the registry's login_session
ENV_PREFIX = "env:"
SESSION_SECONDS = 12 * 3600
# Columns no one reads through the staff site's SQL: they come back as NULL.
SECRET_TABLES = {"keyring", "login_session", "login_failure"}
SECRET_COLUMN = re.compile(r"password|secret|private|token", re.IGNORECASE)


def _open(path: str):
    """A read-write connection to the registry, for its login sessions and failed logins."""
    from anju.registry.core.store import connect
    return connect(pathlib.Path(path))


def _configured_user(datasette, name: str, password: str) -> dict | None:
    """The datasette-auth-passwords account if the name and password match its hash."""
    from datasette_auth_passwords.utils import verify_password
    config = datasette.plugin_config("datasette-auth-passwords") or {}
    password_hash = config.get(f"{name}_password_hash")
    if password_hash and verify_password(password, password_hash):
        return {"id": name, "role": "admin"}
    return None


def _log_in(datasette, path: str, name: str, password: str,
            address: str | None) -> tuple[str | None, int]:
    """(session token, 0) for a staff account, (None, seconds to wait or 0) when refused.

    The same backoff as the web app (registry.core.users), kept in the registry; a configured
    account's session is stored under "env:NAME".
    """
    from anju.registry.core import users
    conn = _open(path)
    reg = types.SimpleNamespace(conn=conn)
    try:
        wait = users.login_wait(reg, name, address)
        if wait:
            return None, wait
        if _configured_user(datasette, name, password):
            users.clear_failures(reg, name)
            return users.start_session(reg, ENV_PREFIX + name, SITE), 0
        user = users.authenticate(reg, name, password)
        if user and user["role"] in STAFF_ROLES:
            users.clear_failures(reg, name)
            return users.start_session(reg, user["name"], SITE), 0
        users.record_failure(reg, name, address)
        return None, 0
    finally:
        conn.close()


def _session_actor(datasette, path: str, token: str) -> dict | None:
    """The actor of a live staff session: its account as it is now (enabled, staff role)."""
    conn = _open(path)
    try:
        row = conn.execute(
            "SELECT s.user_name, u.role, u.disabled FROM login_session s LEFT JOIN user u "
            "ON u.name = s.user_name WHERE s.token_hash = ? AND s.site = ? AND s.expires_at > ?",
            (hashlib.sha256(token.encode()).hexdigest(), SITE, time.time())).fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if row is None:
        return None
    name, role, disabled = row
    if name.startswith(ENV_PREFIX):
        config = datasette.plugin_config("datasette-auth-passwords") or {}
        name = name[len(ENV_PREFIX):]
        return {"id": name, "role": "admin"} if config.get(f"{name}_password_hash") else None
    if role in STAFF_ROLES and not disabled:
        return {"id": name, "role": role}
    return None


async def login(datasette, request):
    error, status = None, 200
    next_path = safe_next(request.args.get("next"))
    if request.method == "POST":
        form = await request.post_vars()
        name = (form.get("username") or "").strip()[:100]
        password = form.get("password") or ""
        next_path = safe_next(form.get("next"))
        registry = common.settings(datasette).get("registry")
        client = request.scope.get("client")
        token, wait = (None, 0)
        if name and registry:
            token, wait = await asyncio.to_thread(_log_in, datasette, registry, name, password,
                                                  client[0] if client else None)
        if token:
            response = Response.redirect(datasette.urls.path(next_path))
            response.set_cookie(COOKIE, token, max_age=SESSION_SECONDS, httponly=True,
                                samesite="lax")
            return response
        if wait:
            error, status = f"登录失败次数过多，请 {wait} 秒后再试 (too many failed logins)", 429
        else:
            error, status = "用户名或密码不正确 (wrong user name or password)", 403
    return Response.html(await datasette.render_template(
        "password_login.html", {"error": error, "next": next_path}, request=request),
        status=status)


async def logout(datasette, request):
    """End the staff session on the server and in the browser."""
    if request.method == "POST":
        token = request.cookies.get(COOKIE)
        registry = common.settings(datasette).get("registry")
        if token and registry:
            from anju.registry.core import users

            def end():
                conn = _open(registry)
                try:
                    users.end_session(types.SimpleNamespace(conn=conn), token)
                finally:
                    conn.close()
            await asyncio.to_thread(end)
    response = Response.redirect(datasette.urls.path("/-/login"))
    response.set_cookie(COOKIE, "", expires=0, max_age=0, httponly=True, samesite="lax")
    response.set_cookie("ds_actor", "", expires=0, max_age=0)
    return response


async def not_here(datasette, request):
    return Response.html("<p>找不到这个页面</p>", status=404)


@hookimpl(tryfirst=True)
def register_routes(datasette):
    # tryfirst: our routes come before datasette-auth-passwords' own pages of the same paths.
    if common.mode(datasette) != "staff":
        # The public site has no accounts: no login page, no password tool.
        return [(r"^/-/(login|password-tool)$", not_here)]
    return [(r"^/-/login$", login), (r"^/-/logout$", logout),
            (r"^/-/full/(?P<table>[a-z_]+)/(?P<record_id>[^/]+)$", full_view)]


@hookimpl(tryfirst=True)
def actor_from_request(datasette, request):
    """On the staff site, the actor is the live session of the anju cookie, or nobody."""
    if common.mode(datasette) != "staff":
        return None
    token = request.cookies.get(COOKIE)
    registry = common.settings(datasette).get("registry")
    if not token or not registry:
        return None

    async def inner():
        return await asyncio.to_thread(_session_actor, datasette, registry, token)
    return inner


@hookimpl
def asgi_wrapper(datasette):
    """On the staff site, drop Datasette's own signed actor cookie before any hook reads it:
    only a session stored in the registry logs anyone in (a stolen secret forges nothing)."""
    def wrap(app):
        async def stripped(scope, receive, send):
            if scope.get("type") == "http" and common.mode(datasette) == "staff":
                scope = dict(scope, headers=[_without_ds_actor(k, v) if k == b"cookie" else (k, v)
                                             for k, v in scope.get("headers", [])])
            await app(scope, receive, send)
        return stripped
    return wrap


def _without_ds_actor(key: bytes, value: bytes) -> tuple[bytes, bytes]:
    kept = [part for part in value.split(b";") if part.strip().split(b"=", 1)[0] != b"ds_actor"]
    return key, b";".join(kept)


@hookimpl
def forbidden(datasette, request, message):
    if common.mode(datasette) != "staff" or request.actor:
        return None
    target = request.path + (f"?{request.query_string}" if request.query_string else "")
    from urllib.parse import quote
    return Response.redirect(datasette.urls.path("/-/login") + "?next=" + quote(target))


@hookimpl
def prepare_connection(conn, database, datasette):
    if common.mode(datasette) != "staff" or database != common.settings(datasette).get(
            "database"):
        return
    from anju.registry.core.definition import parse
    from anju.registry.publication.staffmask import TEMP_SCHEMA, install
    guarded: dict = {}
    row = conn.execute("SELECT value FROM main.meta WHERE key = 'survey'").fetchone()
    if row and row[0]:
        # IDs, phones and GPS come back masked in every page, JSON, CSV and SQL result.
        guarded = install(conn, parse(row[0]))

    def authorizer(action, table, column, db, source):
        if action == sqlite3.SQLITE_READ and (
                table in SECRET_TABLES or (table == "user" and column == "password_hash")
                or (column and SECRET_COLUMN.search(column))
                or (db == "main" and (table, column) in guarded
                    and source != guarded[(table, column)])
                or (db == "temp" and table in TEMP_SCHEMA)):
            return sqlite3.SQLITE_IGNORE
        return sqlite3.SQLITE_OK

    conn.set_authorizer(authorizer)


FULL_TABLES = ("household", "member")


async def full_view(datasette, request):
    """An admin's view of one record's full values, each one written to full_view_log first."""
    from anju.registry.publication.staffmask import log_full_view
    from markupsafe import escape
    actor = request.actor or {}
    if actor.get("role") != "admin":
        return Response.html("<p>只有管理员可以查看完整信息 (admins only)</p>", status=403)
    table, record_id = request.url_vars["table"], request.url_vars["record_id"]
    if table not in FULL_TABLES:
        return Response.html("<p>没有这类记录 (no such record type)</p>", status=404)
    path = common.settings(datasette).get("registry")

    def read():
        from anju.registry.core.store import connect
        conn = connect(pathlib.Path(path), readonly=True)
        conn.row_factory = sqlite3.Row
        try:
            row = conn.execute(f"SELECT * FROM [{table}] WHERE id = ?", (record_id,)).fetchone()
            return dict(row) if row else None
        finally:
            conn.close()
    row = await asyncio.to_thread(read)
    if row is None:
        return Response.html("<p>找不到这条记录 (record not found)</p>", status=404)
    await asyncio.to_thread(log_full_view, path, str(actor.get("id")), "admin", table,
                            record_id, sorted(row))
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape('' if v is None else v)}</td></tr>"
                    for k, v in row.items())
    return Response.html(await datasette.render_template("anju_full.html", {
        "table": table, "record_id": record_id, "cells": Markup(cells)}, request=request))
