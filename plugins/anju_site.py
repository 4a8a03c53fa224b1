"""anju's look and navigation on both Datasette sites: Chinese navigation, local CSS, money as
yuan and statuses as badges (render_cell)."""

from __future__ import annotations

import jinja2
from anju.plugins import common
from datasette import hookimpl

PUBLIC_NAV = (("/-/progress", "进度"), ("/-/lookup", "查询我家"), ("/{db}/household", "住户公示"),
              ("/{db}/zone", "片区进度"), ("/{db}", "统计与查询"), ("/-/provenance", "数据来源"))
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


@hookimpl
def extra_css_urls(datasette):
    # Served from plugins/static by the --static mount that registry/serve.py sets up.
    return [datasette.urls.path("/anju-static/anju.css")]


@hookimpl
def extra_template_vars(datasette):
    db = common.database_name(datasette) or ""
    mode = common.mode(datasette)
    nav = STAFF_NAV if mode == "staff" else PUBLIC_NAV
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
    return {"anju_mode": mode, "anju_nav": links, "anju_db": db}


@hookimpl
def render_cell(value, column, table, datasette):
    # Most cells are plain: answer those with one dictionary lookup.
    if (table, column) not in getattr(datasette, "_anju_kinds", ()):
        return None
    return common.render(datasette, table, column, value)
