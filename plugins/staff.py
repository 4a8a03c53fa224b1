"""The staff site's gate: a Chinese login page, anonymous visitors sent to it, secrets blanked.

Accounts: the datasette-auth-passwords account configured from ANJU_STAFF_PASSWORD_HASH (a
pbkdf2_sha256 hash from `datasette hash-password`), and the registry's own admin and supervisor
users (registry.users.authenticate), so the central office logs in with the same password as in
the web app. Only active on the staff site (plugin setting anju.mode = staff).
"""

from __future__ import annotations

import asyncio
import pathlib
import re
import sqlite3
import types

from anju.plugins import common
from datasette import Response, hookimpl
from markupsafe import Markup

STAFF_ROLES = ("admin", "supervisor")
# Columns no one reads through the staff site's SQL: they come back as NULL.
SECRET_TABLES = {"keyring"}
SECRET_COLUMN = re.compile(r"password|secret|private|token", re.IGNORECASE)


def _registry_user(path: str, name: str, password: str) -> dict | None:
    """The registry account if the name and password match an admin or supervisor."""
    from anju.registry.core.users import authenticate
    conn = sqlite3.connect(pathlib.Path(path).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        user = authenticate(types.SimpleNamespace(conn=conn), name, password)
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if user and user["role"] in STAFF_ROLES:
        return {"id": user["name"], "role": user["role"]}
    return None


def _configured_user(datasette, name: str, password: str) -> dict | None:
    """The datasette-auth-passwords account if the name and password match its hash."""
    from datasette_auth_passwords.utils import verify_password
    config = datasette.plugin_config("datasette-auth-passwords") or {}
    password_hash = config.get(f"{name}_password_hash")
    if password_hash and verify_password(password, password_hash):
        return {"id": name, "role": "admin"}
    return None


def _safe_next(value: str | None) -> str:
    # Only a path on this site: never an open redirect elsewhere.
    if value and value.startswith("/") and not value.startswith("//"):
        return value
    return "/"


async def login(datasette, request):
    error = None
    next_path = _safe_next(request.args.get("next"))
    if request.method == "POST":
        form = await request.post_vars()
        name = (form.get("username") or "").strip()
        password = form.get("password") or ""
        next_path = _safe_next(form.get("next"))
        registry = common.settings(datasette).get("registry")
        actor = _configured_user(datasette, name, password) if name else None
        if actor is None and name and registry:
            actor = await asyncio.to_thread(_registry_user, registry, name, password)
        if actor:
            response = Response.redirect(datasette.urls.path(next_path))
            response.set_cookie("ds_actor", datasette.sign({"a": actor}, "actor"),
                                httponly=True, samesite="lax")
            return response
        error = "用户名或密码不正确 (wrong user name or password)"
    return Response.html(await datasette.render_template(
        "password_login.html", {"error": error, "next": next_path}, request=request),
        status=200 if error is None else 403)


async def not_here(datasette, request):
    return Response.html("<p>找不到这个页面</p>", status=404)


@hookimpl(tryfirst=True)
def register_routes(datasette):
    # tryfirst: our routes come before datasette-auth-passwords' own pages of the same paths.
    if common.mode(datasette) != "staff":
        # The public site has no accounts: no login page, no password tool.
        return [(r"^/-/(login|password-tool)$", not_here)]
    return [(r"^/-/login$", login),
            (r"^/-/full/(?P<table>[a-z_]+)/(?P<record_id>[^/]+)$", full_view)]


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
        conn = sqlite3.connect(pathlib.Path(path).resolve().as_uri() + "?mode=ro", uri=True)
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
