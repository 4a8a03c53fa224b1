"""Publication: the privacy-safe public database that `anju serve` shows to everyone.

`publish(reg, out)` builds a NEW SQLite file beside the target and renames it into place, so a
reader never sees half a publication. What goes in is decided by the survey definition (each
field's `publish` policy) and registry.privacy (the one masking rule, the minimum group size):

- household: one row per household that is not deleted, with only `plain` fields (choices as
  their Chinese labels) and `masked` fields (through mask_name); free text is scrubbed of ID
  numbers, phones, coordinates and the names of anyone in the registry; compensation columns
  when the compensation module offers them. No ID, phone, member, hardship, GPS or photo data.
- progress: households per zone and status, with sums of `total` fields (suppressed when small).
- zone: per zone targets, deadlines and progress figures (the dashboard's source).
- choice_total: per zone counts of each choice of a non-sensitive `total` choice field (wishes),
  suppressed when small;
- sensitive_total: project-level totals of sensitive fields (hardship, member counts), rounded
  and released on change against the registry's disclosure ledger (registry.publication.
  disclosure); daily_progress: cumulative stage counts by day (registry.public_totals).
- provenance: as-of time, registry digest, packs merged, anju version, survey definition hash.
- column_info: each public column's Chinese and English label and kind (money, status, ...).
- publication_round, round_household, compensation_decision: the lawful path's rounds, what each
  published and the decisions announced (registry/legal/public.py).
"""
# i18n: no-catalog (the public site's labels are written into public.db).

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from anju.registry.completion import public as completion_public
from anju.registry.core.cells import FORMULA_STARTS
from anju.registry.core.changes import now
from anju.registry.core.definition import Field
from anju.registry.core.digest import digest
from anju.registry.core.store import Registry, StoreError, connect
from anju.registry.legal.public import write_tables as write_legal_tables
from anju.registry.publication import disclosure
from anju.registry.publication.aggregate import Aggregates, write_daily
from anju.registry.publication.facets import sort_indexes
from anju.registry.publication.facets import write_counts as write_facet_counts
from anju.registry.publication.privacy import (
    MIN_GROUP,
    NEVER_TYPES,
    NameScrubber,
    mask_name,
    scrub_text,
)
from anju.registry.publication.totals import SURVEYED

# Legal identifying data, published exactly as registered (the same address in public.db, the
# lookup, the zone lists and their XLSX): never rewritten, so lookups and facets keep working.
KEY_FIELDS = ("house_no", "zone", "address")
# Staff names that free text may carry (the cadre of a household, the surveyor of a visit).
STAFF_COLUMNS = (("household", "cadre"), ("visit", "surveyor"))
# Words in a compensation column's name that mark it as an amount of money.
MONEY_WORDS = ("yuan", "amount", "fee", "value", "total", "incentive", "compensation", "subsidy",
               "price", "difference", "payment", "award")
# Labels of the public compensation columns (agreements.public_rows), used
# when it does not offer its own (public_columns()).
COMPENSATION_LABELS = {
    "agreement_no": ("协议编号", "Agreement no.", "text"),
    "signed_on": ("签约日期", "Signed on", "date"),
    "compensation_mode": ("补偿方式", "Compensation", "choice"),
    "compensation_total": ("补偿总额", "Compensation total", "money"),
    "recognised_area": ("认定面积(㎡)", "Recognised area (m²)", "area"),
    "house_value": ("房屋价值补偿", "House value", "money"),
    "price_difference": ("产权调换差价", "Swap price difference", "money"),
}
FTS_COLUMNS = ("house_no", "address", "owner_name")
_NO_NAMES = NameScrubber(())
# From this many households the digest is computed in a second process, beside the build.
BACKGROUND_DIGEST_FROM = 20_000


class PublishError(StoreError):
    """A publication that cannot be written; nothing was replaced."""


def public_fields(reg: Registry) -> tuple[list[Field], list[Field]]:
    """The household fields shown per household (plain, masked) and those only totalled."""
    shown, totalled = [], []
    for f in reg.definition.record("household").columns:
        if f.type in NEVER_TYPES or f.publish == "never":
            continue
        (totalled if f.publish == "total" else shown).append(f)
    return shown, totalled


def publish(reg: Registry, out_path: str | Path, *,
            progress: Callable[[int], None] | None = None) -> dict:
    """Write the public database of `reg` to out_path (atomically); return a summary."""
    started = time.perf_counter()
    out = Path(out_path)
    if not out.parent.is_dir():
        raise PublishError(f"{out.parent}: no such directory")
    if out.exists() and out.resolve() == Path(reg.path).resolve():
        raise PublishError(f"{out}: is the registry itself; publish to another file")
    compensation, comp_columns = _compensation(reg)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        conn = connect(tmp, wal=False)
        try:
            summary = _build(reg, conn, compensation, comp_columns, progress)
        finally:
            conn.close()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
        _sync_directory(out.parent)
    except sqlite3.Error as exc:
        tmp.unlink(missing_ok=True)
        raise PublishError(f"{out}: cannot write the public database ({exc})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    summary["seconds"] = round(time.perf_counter() - started, 2)
    summary["path"] = str(out)
    return summary


def _sync_directory(path: Path) -> None:
    """Make the rename itself durable (POSIX); Windows has no directory handles to sync."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _compensation(reg: Registry) -> tuple[dict, list[dict]]:
    """Per-household public compensation figures, if the compensation module offers them."""
    try:
        from anju.registry.compensation import agreements as compensation
        rows = compensation.public_rows(reg) or {}
    except (ImportError, AttributeError):
        return {}, []
    labels = {}
    with contextlib.suppress(AttributeError, TypeError):
        labels = compensation.public_columns() or {}
    names: dict[str, None] = {}
    for values in rows.values():
        names.update(dict.fromkeys(values))
    columns = []
    household = reg.definition.record("household")
    for name in names:
        zh, en, known_kind = COMPENSATION_LABELS.get(name, (name, name, None))
        info = labels.get(name) or {}
        sample = next((v[name] for v in rows.values() if v.get(name) is not None), None)
        numeric = isinstance(sample, int | float) and not isinstance(sample, bool)
        kind = info.get("kind") or known_kind or (
            "money" if numeric and any(w in name for w in MONEY_WORDS)
            else "number" if numeric else "text")
        # A code of one of the survey's choice lists is published as its Chinese label.
        field = household.field(name) if household.has(name) else None
        columns.append({"name": name, "zh": info.get("zh") or zh, "en": info.get("en") or en,
                        "kind": kind, "sql": "REAL" if numeric else "TEXT",
                        "choices": field if field is not None and field.choices else None})
    return rows, columns


def _kind(f: Field) -> str:
    if f.name == "status":
        return "status"
    if f.publish == "masked":
        return "name"
    if f.type in ("select_one", "select_multiple"):
        return "choice"
    if f.type == "decimal":
        return "area" if f.name.endswith("area") else "number"
    return {"integer": "integer", "date": "date"}.get(f.type, "text")


def _converter(f: Field, names: NameScrubber) -> Callable:
    """The function that turns one field's stored value into its published value, by policy."""
    if f.publish == "masked":
        return lambda v: mask_name(v) if v else None
    if f.type in ("select_one", "select_multiple"):
        labels = {c.value: c.label["zh"] for c in f.choices}
        if f.type == "select_one":
            return lambda v: labels.get(v, v) if v else None
        return lambda v: "、".join(labels.get(i, i) for i in (
            json.loads(v) if isinstance(v, str) else v)) if v else None
    if f.name in KEY_FIELDS:
        return lambda v: v if v not in ("", None) else None
    if f.type == "text":
        return lambda v: scrub_text(v, names) if v else None
    return lambda v: None if v == "" else v


def _snapshot_marker(conn) -> tuple:
    """What identifies the registry's state: every write adds a change row."""
    return tuple(conn.execute("SELECT count(*), max(rowid) FROM change").fetchone())


def digest_file(path: str) -> tuple[tuple, str]:
    """The digest of a registry file read in its own snapshot, with that snapshot's marker.

    Runs in a second process while the publication is built: the digest is half the work."""
    import types

    from anju.registry.core.definition import parse
    conn = connect(path, readonly=True)
    try:
        conn.execute("BEGIN")
        marker = _snapshot_marker(conn)
        survey = conn.execute("SELECT value FROM meta WHERE key = 'survey'").fetchone()[0]
        value = digest(types.SimpleNamespace(conn=conn, definition=parse(survey)))
        conn.execute("COMMIT")
        return marker, value
    finally:
        conn.close()


def _background_digest(reg: Registry) -> subprocess.Popen | None:
    """digest_file in a second process (it prints marker and digest as JSON), or None for small
    registries (starting a process costs more than a small digest)."""
    count = reg.conn.execute("SELECT count(*) FROM household").fetchone()[0]
    if count < BACKGROUND_DIGEST_FROM:
        return None
    code = ("import json, sys; from anju.registry.publication.publish import digest_file; "
            "print(json.dumps(digest_file(sys.argv[1])))")
    try:
        return subprocess.Popen([sys.executable, "-c", code, str(Path(reg.path).resolve())],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                cwd=Path(__file__).resolve().parent.parent.parent)
    except OSError:
        return None


def _digest_result(process: subprocess.Popen | None, marker: tuple) -> str | None:
    """The background digest if it describes the same registry state as our snapshot."""
    if process is None:
        return None
    out, _ = process.communicate()
    if process.returncode != 0:
        return None
    try:
        theirs, value = json.loads(out)
    except ValueError:
        return None
    return value if tuple(theirs) == tuple(marker) else None


def _build(reg: Registry, conn: sqlite3.Connection, compensation: dict, comp_columns: list,
           progress) -> dict:
    shown, totalled = public_fields(reg)
    defn = reg.definition
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    cols = [("id", "INTEGER PRIMARY KEY")]
    cols += [(f.name, "REAL" if f.type == "decimal" else
              "INTEGER" if f.type == "integer" else "TEXT") for f in shown]
    cols += [("status_code", "TEXT")] + [(c["name"], c["sql"]) for c in comp_columns]
    conn.execute("BEGIN")
    conn.execute("CREATE TABLE household ({})".format(
        ", ".join(f"[{n}] {t}" for n, t in cols)))
    stored = {r[1] for r in reg.conn.execute("PRAGMA table_info(household)")}
    needed = [n for n in dict.fromkeys(["id", "zone", "house_no", "status", "owner_name"]
                                       + [f.name for f in shown + totalled]) if n in stored]
    helper = _background_digest(reg)
    # One read snapshot for the rows and the digest, so the provenance describes these rows;
    # it stays open until the digest is known.
    reg.conn.execute("BEGIN")
    try:
        marker = _snapshot_marker(reg.conn)
        deleted = reg.conn.execute(
            "SELECT count(*) FROM household WHERE deleted IS NOT NULL").fetchone()[0]
        last_change = reg.conn.execute("SELECT max(at) FROM change").fetchone()[0]
        packs = _packs_merged(reg)
        # Every person's name in the registry, so that no free text names anyone, a neighbour
        # included: read straight into the scrubber's set (no list of millions of names).
        names = NameScrubber(_people(reg, shown, stored))
        cells = disclosure.sensitive_cells(totalled)
        summary, totals = _write(reg, conn, shown, totalled, cols, needed, names, cells,
                                 compensation, comp_columns, progress)
        write_legal_tables(conn, reg, names)  # rounds, what each published, decisions
        completion_public.write_tables(conn, reg)  # selection order, results, flats left
        current = totals.current()
        # A failed or outdated helper: compute it here, in our snapshot.
        registry_digest = _digest_result(helper, marker) or digest(reg)
    finally:
        reg.conn.execute("COMMIT")
        if helper is not None and helper.returncode is None:  # we failed before reading it
            helper.kill()
            helper.wait()
    # The ledger is written (and committed) before the file is put in place.
    disclosure.write_table(conn, disclosure.release(reg, cells, current))
    completion_public.write_paid(conn, completion_public.paid_by_zone(reg))  # the ledger too
    survey_hash = defn.hash
    _provenance(conn, reg, {
        "as_of": now(), "last_change_at": last_change or "", "registry_digest": registry_digest,
        "packs_merged": packs, "anju_version": _version(), "survey_hash": survey_hash,
        "survey_version": str(defn.version), "households": str(summary["households"]),
        "households_deleted": str(deleted), "min_group": str(MIN_GROUP),
        "sensitive_rounding": f"{disclosure.ROUND_COUNT}/{disclosure.ROUND_SUM}",
        "sensitive_min_change": str(disclosure.K_CHANGED),
    })
    _neutralise_formulas(conn)
    conn.execute("COMMIT")
    _indexes(conn, shown, comp_columns)
    write_facet_counts(conn)  # the site's facet counts, once (registry/publication/facets.py)
    return {**summary, "deleted": deleted, "registry_digest": registry_digest,
            "survey_hash": survey_hash}


def _neutralise_formulas(conn) -> None:
    """Every published text that a spreadsheet would read as a formula gets its apostrophe
    (registry.core.cells), so the site's CSV downloads and the database file itself are safe to
    open in Excel or WPS. In SQL, one UPDATE per text column: 250,000 rows stay quick."""
    starts = sorted(FORMULA_STARTS)
    marks = ", ".join("?" for _ in starts)
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                 ).fetchall():
        for column in [r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")]:
            conn.execute(f"UPDATE [{table}] SET [{column}] = char(39) || [{column}] "
                         f"WHERE typeof([{column}]) = 'text' AND substr([{column}], 1, 1) "
                         f"IN ({marks})", starts)


def _people(reg: Registry, shown: list[Field], stored: set[str]):
    """Every name the public text must not show: members, the masked household fields (owner),
    deleted households included, and the staff; yielded, never collected."""
    yield from (n for (n,) in reg.conn.execute("SELECT name FROM member"))
    masked = [f.name for f in shown if f.publish == "masked"]
    if "owner_name" in stored:
        masked.append("owner_name")
    for name in dict.fromkeys(masked):
        yield from (n for (n,) in reg.conn.execute(f"SELECT [{name}] FROM household"))
    yield from _staff_names(reg)


def _write(reg: Registry, conn, shown: list[Field], totalled: list[Field], cols: list,
           needed: list[str], names: NameScrubber, cells: list, compensation: dict,
           comp_columns: list, progress) -> tuple[dict, Aggregates]:
    """Stream the household rows into the public table, summing the aggregates on the way, and
    write the aggregate tables (inside the caller's transactions)."""
    status_field = reg.definition.record("household").field("status")
    order = {c.value: i for i, c in enumerate(status_field.choices)}
    convert = [(f.name, _converter(f, names)) for f in shown]
    comp_convert = [(c["name"], _converter(c["choices"], _NO_NAMES) if c["choices"]
                     else (lambda v: v)) for c in comp_columns]
    totals = Aggregates(totalled, status_field, order, cells, SURVEYED)
    marks = ", ".join("?" for _ in cols)
    # NOT INDEXED: one pass and a sort (on disk beyond the cache) is twice as quick as walking
    # the collector's (zone, house_no) index and reading every row at random.
    cur = reg.conn.execute(
        "SELECT {} FROM household NOT INDEXED WHERE deleted IS NULL "
        "ORDER BY zone, house_no, id".format(", ".join(f"[{n}]" for n in needed)))
    batch = []
    i = 0
    for i, values_in in enumerate(cur, 1):
        row = dict(zip(needed, values_in))
        values = [i] + [fn(row[name]) for name, fn in convert] + [row["status"]]
        comp = compensation.get(row["id"])
        if comp_convert:
            values += [fn(comp.get(name)) if comp else None for name, fn in comp_convert]
        batch.append(values)
        totals.add(row)
        if len(batch) >= 5000:
            conn.executemany(f"INSERT INTO household VALUES ({marks})", batch)
            if progress:
                progress(len(batch))
            batch = []
    conn.executemany(f"INSERT INTO household VALUES ({marks})", batch)
    if progress:
        progress(len(batch))
    totals.write(conn, reg)
    write_daily(conn, reg)
    _column_info(conn, shown, comp_columns)
    return {"households": i, "columns": [c for c, _ in cols]}, totals


def _column_info(conn, shown: list[Field], comp_columns: list[dict]) -> None:
    conn.execute("CREATE TABLE column_info ([table] TEXT, [column] TEXT, label_zh TEXT, "
                 "label_en TEXT, kind TEXT, PRIMARY KEY ([table], [column]))")
    rows = [("household", "id", "序号", "No.", "integer")]
    rows += [("household", f.name, f.label["zh"], f.label["en"], _kind(f)) for f in shown]
    rows.append(("household", "status_code", "状态代码", "Status code", "code"))
    rows += [("household", c["name"], c["zh"], c["en"], c["kind"]) for c in comp_columns]
    conn.executemany("INSERT INTO column_info VALUES (?, ?, ?, ?, ?)", rows)


def _provenance(conn, reg: Registry, values: dict) -> None:
    labels = {"as_of": ("发布时间", "Published at (UTC)"),
              "last_change_at": ("数据截至", "Last change (UTC)"),
              "registry_digest": ("登记库摘要", "Registry digest"),
              "packs_merged": ("已合并数据包", "Packs merged"),
              "anju_version": ("安居版本", "anju version"),
              "survey_hash": ("调查表定义摘要", "Survey definition hash"),
              "survey_version": ("调查表版本", "Survey definition version"),
              "households": ("公示户数", "Households published"),
              "households_deleted": ("已作废户数(未公示)", "Deleted households (not published)"),
              "min_group": ("最小统计组(户)", "Minimum group for totals"),
              "project_name": ("项目名称", "Project"),
              "sensitive_rounding": ("敏感统计取整(户数/人数)", "Sensitive totals rounded to"),
              "sensitive_min_change": ("敏感统计更新所需最少变动户数",
                                       "Households that must change before a sensitive total "
                                       "is released again")}
    values = {"project_name": reg.meta("project_name") or "", **values}
    conn.execute("CREATE TABLE provenance (key TEXT PRIMARY KEY, label TEXT, label_en TEXT, "
                 "value TEXT)")
    conn.executemany("INSERT INTO provenance VALUES (?, ?, ?, ?)",
                     [(k, *labels.get(k, (k, k)), str(v)) for k, v in values.items()])


def _staff_names(reg: Registry) -> list[str]:
    """The names of the project's staff: user accounts, cadres, surveyors (never in free text)."""
    names = [n for (n,) in reg.conn.execute("SELECT name FROM user")]
    for table, column in STAFF_COLUMNS:
        if column in {r[1] for r in reg.conn.execute(f"PRAGMA table_info([{table}])")}:
            names += [n for (n,) in reg.conn.execute(
                f"SELECT DISTINCT [{column}] FROM [{table}] WHERE [{column}] IS NOT NULL")]
    return names


def _packs_merged(reg: Registry) -> str:
    """How many packs the registry has merged (its pack_received table, where it has one)."""
    if not reg.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                            "name = 'pack_received'").fetchone():
        return "0"
    return str(reg.conn.execute("SELECT count(*) FROM pack_received").fetchone()[0])


def _version() -> str:
    try:
        return metadata.version("anju")
    except metadata.PackageNotFoundError:
        return "unknown"


def _indexes(conn, shown: list[Field], comp_columns: list[dict]) -> None:
    """Indexes for every faceted or sorted column, and full-text search for lookups."""
    import sqlite_utils
    free_text = {f.name for f in shown if f.type == "text" and f.name not in KEY_FIELDS}
    indexed = [f.name for f in shown if f.name not in free_text and f.publish != "masked"]
    indexed += ["status_code"] + [c["name"] for c in comp_columns if c["sql"] == "REAL"]
    for name in indexed:
        conn.execute(f"CREATE INDEX [household_{name}] ON household ([{name}])")
    conn.execute("CREATE INDEX household_zone_status ON household (zone, status)")
    sort_indexes(conn)  # (facet column, house_no): a filtered page's rows in the site's order
    conn.execute("CREATE INDEX progress_zone ON progress (zone, status_order)")
    conn.execute("CREATE INDEX choice_total_zone ON choice_total (zone, field)")
    db = sqlite_utils.Database(conn)
    fts = [c for c in FTS_COLUMNS if c in {f.name for f in shown}]
    if fts:
        # trigram: Chinese has no spaces, so substring search is what finds 昆明路 in an address.
        db["household"].enable_fts(fts, tokenize="trigram")
    conn.execute("ANALYZE")
