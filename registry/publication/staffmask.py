"""Masking in the data the staff site serves (HTML, JSON, CSV and SQL results alike).

The staff site is Datasette on the registry itself. On every connection it opens, each table
that holds a secret value (a resident ID, a phone, a GPS point, in the record tables and in the
change log's and conflicts' JSON) is shadowed by a TEMP VIEW of the same name that returns the
value masked: SQLite looks a name up in `temp` before `main`, so Datasette's table, row, JSON,
CSV pages and any SQL a supervisor writes read the view. An authorizer blanks (NULL) every read
of those columns that does not come through one of the views (`main.household`, a CTE, a
function over the raw column). Full values: only the admin page /-/full/..., which writes each
view to full_view_log (registry.publication.staffmask.log_full_view).
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3

from anju.registry.core.changes import now
from anju.registry.core.definition import Definition
from anju.registry.core.store import connect
from anju.registry.publication.privacy import MASK, mask_id_for_staff

SECRET_TYPES = ("resident_id", "phone", "geopoint")
# Tables whose JSON columns may carry secret values, keyed by field name.
JSON_COLUMNS = {"change": ("fields",), "conflict": ("candidates",)}
_TOKEN = secrets.token_hex(8)
_LONG_NUMBER = re.compile(r"\d[\d\s-]{5,}\d[Xx]?")


def mask_phone(value) -> str | None:
    """A phone as staff may see it: first 3 and last 4 digits."""
    if value in (None, ""):
        return value
    text = str(value)
    return text[:3] + MASK * max(len(text) - 7, 1) + text[-4:] if len(text) > 7 \
        else MASK * len(text)


def mask_gps(value) -> str | None:
    """A GPS point as staff may see it: two decimals (about a kilometre)."""
    if value in (None, ""):
        return value
    try:
        return ",".join(f"{float(p):.2f}" for p in str(value).split(","))
    except ValueError:
        return MASK * 6


MASKERS = {"resident_id": mask_id_for_staff, "phone": mask_phone, "geopoint": mask_gps}


def mask_value(kind: str, value):
    if value is None or not isinstance(value, str | int | float):
        return value
    return MASKERS[kind](str(value))


def mask_text(value):
    """Free text (a flag's reason) with every long number masked like an ID."""
    if not isinstance(value, str):
        return value
    return _LONG_NUMBER.sub(lambda m: mask_id_for_staff(re.sub(r"[\s-]", "", m.group())),
                            value)


def secret_columns(defn: Definition) -> dict[str, dict[str, str]]:
    """{table: {column: kind}} of the secret columns of the record tables."""
    out: dict[str, dict[str, str]] = {}
    for rtype in defn.records.values():
        for f in rtype.columns:
            if f.type in SECRET_TYPES:
                out.setdefault(rtype.name, {})[f.name] = f.type
    return out


def _json_masker(secrets: dict[str, dict[str, str]]):
    kinds = {name: kind for cols in secrets.values() for name, kind in cols.items()}

    def mask(record_type, field, text):
        """A change's fields (field → value) or a conflict's candidates, masked."""
        if not isinstance(text, str):
            return text
        try:
            data = json.loads(text)
        except ValueError:
            return mask_text(text)
        table = secrets.get(record_type, {})
        if isinstance(data, dict):
            data = {k: mask_value(table.get(k) or kinds.get(k), v)
                    if (table.get(k) or kinds.get(k)) else v for k, v in data.items()}
        elif isinstance(data, list) and field in table:
            data = [dict(c, value=mask_value(table[field], c.get("value")))
                    if isinstance(c, dict) else c for c in data]
        return json.dumps(data, ensure_ascii=False)
    return mask


def install(conn: sqlite3.Connection, defn: Definition) -> tuple[dict, str]:
    """Shadow the secret-bearing tables of `conn` by masking TEMP VIEWs and register the mask
    functions; return {(table, column): the only view allowed to read it} for the authorizer.

    The view that reads the raw column has a name made of a per-process secret token, so that
    no query can borrow it (a CTE named like the table would otherwise pass as the view); the
    authorizer also hides the temp schema, where the token could be read."""
    secrets = secret_columns(defn)
    conn.create_function("anju_mask", 2, mask_value, deterministic=True)
    conn.create_function("anju_mask_text", 1, mask_text, deterministic=True)
    conn.create_function("anju_mask_json", 3, _json_masker(secrets), deterministic=True)
    tables = {r[0] for r in conn.execute(
        "SELECT name FROM main.sqlite_master WHERE type = 'table'")}
    guarded: dict[tuple[str, str], str] = {}
    for table in sorted(tables):
        cols = [r[1] for r in conn.execute(f"PRAGMA main.table_info([{table}])")]
        masked = {}
        for c in cols:
            if c in secrets.get(table, {}):
                masked[c] = f"anju_mask('{secrets[table][c]}', main.[{table}].[{c}])"
            elif c in JSON_COLUMNS.get(table, ()):
                field = "[field]" if "field" in cols else "NULL"
                masked[c] = f"anju_mask_json(record_type, {field}, main.[{table}].[{c}])"
            elif table == "flag" and c in ("reason_zh", "reason_en"):
                masked[c] = f"anju_mask_text(main.[{table}].[{c}])"
        if not masked:
            continue
        inner = f"anju_{_TOKEN}_{table}"
        guarded |= {(table, c): inner for c in masked}
        select = ", ".join([f"main.[{table}].rowid AS rowid"] + [
            f"{masked[c]} AS [{c}]" if c in masked else f"main.[{table}].[{c}]" for c in cols])
        conn.execute(f"CREATE TEMP VIEW IF NOT EXISTS [{inner}] AS SELECT {select} "
                     f"FROM main.[{table}]")
        conn.execute(f"CREATE TEMP VIEW IF NOT EXISTS [{table}] AS SELECT * FROM [{inner}]")
    return guarded


TEMP_SCHEMA = frozenset({"sqlite_master", "sqlite_temp_master", "sqlite_schema",
                         "sqlite_temp_schema"})


def log_full_view(path: str, actor: str, role: str, record_type: str, record_id: str,
                  columns: list[str]) -> None:
    """Record that an admin saw a record's full values (committed before they are shown)."""
    conn = connect(path, timeout_ms=10_000)
    try:
        conn.execute("INSERT INTO full_view_log (at, actor, role, record_type, record_id, "
                     "columns) VALUES (?, ?, ?, ?, ?, ?)",
                     (now(), actor, role, record_type, record_id, json.dumps(columns)))
    finally:
        conn.close()
