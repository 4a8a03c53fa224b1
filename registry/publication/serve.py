"""The Datasette sites: the public site on a published database, the staff site on a registry.

`build_datasette` makes the configured Datasette object (tests use it through `ds.client`);
`run` serves it with uvicorn the way `datasette serve` does. Both sites load our plugins (the
`datasette` entry points of the anju distribution, anju/plugins), our templates and our local
static files, so no page asks anything of the network.
"""

from __future__ import annotations

import copy
import os
import sqlite3
from pathlib import Path

import yaml
from anju.registry.core.store import StoreError, connect

ROOT = Path(__file__).resolve().parent.parent.parent
PLUGINS_DIR = ROOT / "plugins"
TEMPLATES_DIR = PLUGINS_DIR / "templates"
STATIC_DIR = PLUGINS_DIR / "static"
METADATA = ROOT / "schema" / "metadata.yaml"
STATIC_MOUNT = "anju-static"
# The staff account of datasette-auth-passwords: a pbkdf2_sha256 hash (`datasette hash-password`).
HASH_ENV = "ANJU_STAFF_PASSWORD_HASH"
USER_ENV = "ANJU_STAFF_USER"

PUBLIC_SETTINGS = {
    "sql_time_limit_ms": 1000,      # read-only SQL for everyone, within a time limit
    "facet_time_limit_ms": 1000,    # the four default facets over 250,000 rows
    "suggest_facets": False,        # the metadata names the facets; guessing more costs time
    "default_page_size": 50,
    "max_returned_rows": 1000,
    "allow_download": True,         # the public database is open data
    "default_cache_ttl": 300,
}
STAFF_SETTINGS = {"sql_time_limit_ms": 5000, "default_page_size": 50, "allow_download": False,
                  "default_cache_ttl": 0, "suggest_facets": False}


class ServeError(StoreError):
    """A site that cannot be started as asked; the message is for people."""


def _tables(path: Path) -> set[str]:
    try:
        conn = connect(path, readonly=True)  # a URI: also Windows paths, "#" in names
        try:
            return {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ServeError(f"{path}: not a usable SQLite database ({exc})") from None


def public_metadata(path: Path) -> dict:
    """schema/metadata.yaml for a public database, with column labels from its column_info."""
    raw = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
    meta = copy.deepcopy(raw["public"])
    name = path.stem
    database = meta["databases"].pop("public")
    meta["databases"] = {name: database}
    conn = connect(path, readonly=True)
    try:
        for table, column, label_zh, label_en in conn.execute(
                "SELECT [table], [column], label_zh, label_en FROM column_info"):
            t = database.setdefault("tables", {}).setdefault(table, {})
            t.setdefault("columns", {})[column] = f"{label_zh} ({label_en})" \
                if label_en and label_en != label_zh else label_zh
        columns = {r[1] for r in conn.execute("PRAGMA table_info(household)")}
    finally:
        conn.close()
    household = database["tables"]["household"]
    household["facets"] = [f for f in household.get("facets", []) if f in columns]
    if household.get("sort") not in columns:
        household.pop("sort", None)
    meta.setdefault("plugins", {})["anju"] = {"mode": "public", "database": name}
    return meta


def _definition_labels(path: Path) -> dict[str, dict[str, str]]:
    """Chinese column labels of each record table, from the registry's own survey definition."""
    from anju.registry.core.definition import DefinitionError, parse
    conn = connect(path, readonly=True)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'survey'").fetchone()
    except sqlite3.Error:
        row = None
    finally:
        conn.close()
    try:
        defn = parse(row[0]) if row and row[0] else None
    except DefinitionError:
        defn = None
    if defn is None:
        return {}
    return {name: {f.name: f"{f.label['zh']} ({f.label['en']})" for f in rtype.columns}
            for name, rtype in defn.records.items()}


def staff_metadata(path: Path, accounts: dict[str, str]) -> dict:
    """The staff site's metadata: everything behind a login, SQL for staff only."""
    raw = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
    meta = copy.deepcopy(raw["staff"])
    name = path.stem
    database = meta["databases"].pop("registry")
    tables = _tables(path)
    queries = database.get("queries", {})
    database["queries"] = {k: q for k, q in queries.items()
                           if all(t in tables for t in q.pop("needs", []))}
    meta["databases"] = {name: database}
    for record, labels in _definition_labels(path).items():
        table = database.setdefault("tables", {}).setdefault(record, {})
        table.setdefault("columns", {}).update(labels)
    auth = {f"{user}_password_hash": {"$env": env} for user, env in accounts.items()}
    meta.setdefault("plugins", {})["datasette-auth-passwords"] = auth
    meta["plugins"]["anju"] = {"mode": "staff", "database": name, "registry": str(path)}
    return meta


def inspect_data(path: Path) -> dict:
    """What `datasette inspect` writes for an immutable database: its hash, size and counts
    (the same JSON shape), so the site never counts 250,000 rows while serving a page."""
    from datasette.inspect import inspect_hash
    conn = connect(path, readonly=True)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        counts = {t: {"count": conn.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0]}
                  for t in tables}
    finally:
        conn.close()
    return {path.stem: {"hash": inspect_hash(path), "size": path.stat().st_size,
                        "file": str(path), "tables": counts}}


def build_datasette(db: str | Path, *, staff: bool = False, inspect: dict | None = None,
                    secret: str | None = None):
    """The configured Datasette for a public database or, with staff=True, a registry."""
    from datasette.app import Datasette
    path = Path(db).resolve()
    if not path.is_file():
        raise ServeError(f"{path}: no such database")
    tables = _tables(path)
    common = dict(template_dir=str(TEMPLATES_DIR),
                  static_mounts=[(STATIC_MOUNT, str(STATIC_DIR))],
                  secret=secret or os.environ.get("DATASETTE_SECRET"))
    if staff:
        if "change" not in tables or "meta" not in tables:
            raise ServeError(f"{path}: not an anju registry (serve a public database without "
                             "--staff)")
        from anju.registry.core.store import Registry
        Registry.open(path).close()  # migrated: the staff logins keep their sessions there
        accounts = {}
        if os.environ.get(HASH_ENV):
            accounts[os.environ.get(USER_ENV) or "staff"] = HASH_ENV
        return Datasette([str(path)], metadata=staff_metadata(path, accounts),
                         settings=dict(STAFF_SETTINGS), **common)
    if "household" not in tables or "provenance" not in tables:
        raise ServeError(f"{path}: not a public database made by `anju publish` (serve a "
                         "registry with --staff)")
    if inspect is None:
        inspect = inspect_data(path)
    return Datasette([], immutables=[str(path)], inspect_data=inspect,
                     metadata=public_metadata(path), settings=dict(PUBLIC_SETTINGS), **common)


def build_province(dbs: list[str | Path], *, secret: str | None = None):
    """One Datasette serving many projects' public databases side by side (immutable, as
    published), with the combined dashboard /-/province."""
    from datasette.app import Datasette
    paths = [Path(db).resolve() for db in dbs]
    if not paths:
        raise ServeError("name at least one public database")
    stems = [p.stem for p in paths]
    for path in paths:
        if not path.is_file():
            raise ServeError(f"{path}: no such database")
        tables = _tables(path)
        if "household" not in tables or "provenance" not in tables:
            raise ServeError(f"{path}: not a public database made by `anju publish`")
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        raise ServeError(f"two databases named {duplicates[0]}: each project's file needs its "
                         "own name (it becomes its address on the site)")
    meta: dict = {}
    inspect: dict = {}
    for path in paths:
        one = public_metadata(path)
        database = one["databases"][path.stem]
        project = _project_name(path)
        if project:
            database["title"] = f"{project} 公示数据"
        if not meta:
            meta = {k: v for k, v in one.items() if k != "databases"}
            meta["databases"] = {}
        meta["databases"][path.stem] = database
        inspect.update(inspect_data(path))
    meta["title"] = "棚户区改造 各项目公示汇总"
    meta["plugins"]["anju"] = {"mode": "province", "databases": stems}
    return Datasette([], immutables=[str(p) for p in paths], inspect_data=inspect,
                     metadata=meta, settings=dict(PUBLIC_SETTINGS), template_dir=str(TEMPLATES_DIR),
                     static_mounts=[(STATIC_MOUNT, str(STATIC_DIR))],
                     secret=secret or os.environ.get("DATASETTE_SECRET"))


def _project_name(path: Path) -> str | None:
    conn = connect(path, readonly=True)
    try:
        row = conn.execute("SELECT value FROM provenance WHERE key = 'project_name'").fetchone()
        return row[0] if row and row[0] else None
    finally:
        conn.close()


def run_province(dbs: list[str | Path], *, host: str = "127.0.0.1", port: int = 8001,
                 echo=print) -> None:
    """Serve the province view until interrupted."""
    import uvicorn
    ds = build_province(dbs)
    echo(f"anju province view of {len(dbs)} projects on http://{host}:{port}/ (Ctrl+C stops it)")
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on", workers=1)


def run(db: str | Path, *, host: str = "127.0.0.1", port: int = 8001, staff: bool = False,
        echo=print) -> None:
    """Serve a site until interrupted, the way `datasette serve` does."""
    import uvicorn
    ds = build_datasette(db, staff=staff)  # ds.app() runs the startup hooks on first request
    if not staff:
        from anju.plugins.limits import limit_heap
        limit_heap()
    kind = "staff site (login required)" if staff else "public site"
    echo(f"anju {kind} on http://{host}:{port}/ (Ctrl+C stops it)")
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on", workers=1)
