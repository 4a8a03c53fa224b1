"""anju's look and navigation on both Datasette sites: Chinese navigation, local CSS, money as
yuan and statuses as badges (render_cell)."""

from __future__ import annotations

import json

import jinja2
from anju.plugins import common, limits
from datasette import Response, hookimpl

PUBLIC_NAV = (("/-/progress", "进度"), ("/-/lookup", "查询我家"), ("/{db}/household", "住户公示"),
              ("/{db}/zone", "片区进度"), ("/{db}", "统计与查询"), ("/-/provenance", "数据来源"))
PROVINCE_NAV = (("/-/province", "全省汇总"), ("/", "各项目公示"))
STAFF_NAV = (("/{db}/household", "住户"), ("/{db}/open_conflicts", "冲突"),
             ("/{db}/flags", "待核查"), ("/{db}/change_log", "变更记录"), ("/{db}", "SQL查询"))


@hookimpl
def startup(datasette):
    async def inner():
        await common.load(datasette)
    return inner


class _NoLockLoader(jinja2.BaseLoader):
    """Datasette's templates without the padlock emoji: offline machines have no emoji font (it
    shows as a box), and on the staff site every page is private anyway."""

    def __init__(self, inner: jinja2.BaseLoader):
        self.inner = inner

    def get_source(self, environment, template):
        source, filename, uptodate = self.inner.get_source(environment, template)
        return source.replace(" 🔒", ""), filename, uptodate

    def list_templates(self):
        return self.inner.list_templates()


@hookimpl
def prepare_jinja2_environment(env):
    from anju.registry.core.localtime import format_local
    env.filters["localtime"] = format_local  # times in the project's zone, as in the collector
    if not isinstance(env.loader, _NoLockLoader):
        env.loader = _NoLockLoader(env.loader)
    # "房屋编号 (House number)" -> "房屋编号": the Chinese part of a metadata label.
    env.filters["split_zh"] = lambda text: str(text).split(" (")[0]
    env.filters["beijing"] = common.beijing


def _labels(datasette, db: str) -> tuple[dict, dict, dict]:
    """Chinese table titles, column labels (any table) and column labels per table."""
    tables = ((datasette.metadata("tables", database=db) or {}) if db else {})
    titles, columns, per_table = {}, {"rowid": "序号"}, {}
    for name, meta in tables.items():
        meta = meta or {}
        if meta.get("title"):
            titles[name] = meta["title"]
        cols = {c: str(label) for c, label in (meta.get("columns") or {}).items()}
        per_table[name] = cols
        for c, label in cols.items():
            columns.setdefault(c, label)
    return titles, columns, per_table


@hookimpl
def extra_css_urls(datasette):
    # Served from plugins/static by the --static mount that registry/serve.py sets up.
    return [datasette.urls.path("/anju-static/anju.css")]


@hookimpl
def extra_template_vars(datasette):
    db = common.database_name(datasette) or ""
    mode = common.mode(datasette)
    nav = {"staff": STAFF_NAV, "province": PROVINCE_NAV}.get(mode, PUBLIC_NAV)
    queries = set()
    if mode == "staff":
        queries = set(datasette.metadata("queries", database=db) or {})
    links = []
    for href, label in nav:
        # A staff view whose table does not exist in this registry is left out of the menu.
        name = href.rsplit("/", 1)[-1]
        if mode == "staff" and name in ("open_conflicts", "flags", "change_log") \
                and name not in queries:
            continue
        links.append({"href": datasette.urls.path(href.format(db=db)), "label": label})
    titles, columns, per_table = _labels(datasette, db)
    db_titles = {name: datasette.metadata("title", database=name) or name
                 for name in datasette.databases if name != "_internal"}
    titles = {**db_titles, **titles}
    return {"anju_mode": mode, "anju_nav": links, "anju_db": db, "anju_titles": titles,
            "anju_col_zh": columns, "anju_table_cols": per_table, "anju_db_titles": db_titles}


@hookimpl
def render_cell(row, value, column, table, datasette):
    # Most cells are plain: answer those with one dictionary lookup.
    if (table, column) not in getattr(datasette, "_anju_kinds", ()):
        return None
    if (table, column) == ("provenance", "value"):
        key = row["key"] if "key" in row.keys() else None  # noqa: SIM118 (a sqlite3.Row)
        return common.beijing(value) if key in ("as_of", "last_change_at") else None
    return common.render(datasette, table, column, value)


@hookimpl
def prepare_connection(conn, database, datasette):
    # The public site: every query bounded in size and memory, no pragma naming a file.
    if common.mode(datasette) == "public":
        limits.bound(conn)


async def databases_view(datasette, request):
    """/-/databases(.json) without the server's file paths."""
    await datasette.ensure_permissions(request.actor, ["view-instance"])
    data = limits.databases(datasette)
    if request.url_vars.get("format"):
        return Response.json(data)
    return Response.html(await datasette.render_template(
        "show_json.html", {"filename": "databases.json", "data_json": json.dumps(
            data, indent=4)}, request=request))


@hookimpl
def register_routes(datasette):
    return [(r"^/-/databases(\.(?P<format>json))?$", databases_view)]


# Datasette's own pages carry inline scripts and styles, so the sites' policy allows those but
# nothing from elsewhere, no plugins, no framing, forms only to this site.
SITE_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
     b"img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
     b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


@hookimpl
def asgi_wrapper(datasette):
    """The security headers on every response of both sites."""
    def wrap(app):
        async def with_headers(scope, receive, send):
            if scope.get("type") != "http":
                return await app(scope, receive, send)

            async def send_with_headers(message):
                if message.get("type") == "http.response.start":
                    names = {k.lower() for k, _ in message.get("headers", [])}
                    message = dict(message, headers=list(message.get("headers", [])) + [
                        (k, v) for k, v in SITE_HEADERS if k not in names])
                await send(message)
            await app(scope, receive, send_with_headers)
        return with_headers
    return wrap
