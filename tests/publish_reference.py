"""The straightforward publication (every row materialised), kept as the tests' reference.

This is `registry/publication/publish.py`'s `_build` as it was before publication streamed its
rows (issue 21): it reads every household into a list, totals it with totals.write_totals and
totals.write_daily, and collects every name into a list. tests/test_publish_stream.py publishes
a registry both ways and requires the same bytes in every published table.
"""

from anju.registry.completion import public as completion_public
from anju.registry.core.changes import now
from anju.registry.core.digest import digest
from anju.registry.legal.public import write_tables as write_legal_tables
from anju.registry.publication import disclosure
from anju.registry.publication.facets import write_counts as write_facet_counts
from anju.registry.publication.privacy import MIN_GROUP, NameScrubber
from anju.registry.publication.publish import (
    _NO_NAMES,
    _background_digest,
    _column_info,
    _converter,
    _digest_result,
    _indexes,
    _neutralise_formulas,
    _packs_merged,
    _provenance,
    _snapshot_marker,
    _staff_names,
    _version,
    public_fields,
)
from anju.registry.publication.totals import SURVEYED, write_daily, write_totals


def build(reg, conn, compensation: dict, comp_columns: list,
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
        people = [n for (n,) in reg.conn.execute("SELECT name FROM member")]
        cur = reg.conn.execute(
            "SELECT {} FROM household WHERE deleted IS NULL ORDER BY zone, house_no, id".format(
                ", ".join(f"[{n}]" for n in needed)))
        rows = [dict(zip(needed, r)) for r in cur]
        deleted = reg.conn.execute(
            "SELECT count(*) FROM household WHERE deleted IS NOT NULL").fetchone()[0]
        last_change = reg.conn.execute("SELECT max(at) FROM change").fetchone()[0]
        packs = _packs_merged(reg)
        masked = [f.name for f in shown if f.publish == "masked"]
        if "owner_name" in stored:
            masked.append("owner_name")
        for name in dict.fromkeys(masked):
            people += [n for (n,) in reg.conn.execute(f"SELECT [{name}] FROM household")]
        people += _staff_names(reg)
        summary = write(reg, conn, shown, totalled, cols, rows, people, compensation,
                         comp_columns, progress)
        write_legal_tables(conn, reg, people)  # rounds, what each published, decisions
        completion_public.write_tables(conn, reg)  # selection order, results, flats left

        cells = disclosure.sensitive_cells(totalled)
        current = disclosure.contributions(cells, rows, SURVEYED)
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
        "survey_version": str(defn.version), "households": str(len(rows)),
        "households_deleted": str(deleted), "min_group": str(MIN_GROUP),
        "sensitive_rounding": f"{disclosure.ROUND_COUNT}/{disclosure.ROUND_SUM}",
        "sensitive_min_change": str(disclosure.K_CHANGED),
    })
    _neutralise_formulas(conn)
    conn.execute("COMMIT")
    _indexes(conn, shown, comp_columns)
    write_facet_counts(conn)
    return {**summary, "deleted": deleted, "registry_digest": registry_digest,
            "survey_hash": survey_hash}



def write(reg, conn, shown, totalled, cols, rows, people, compensation: dict, comp_columns: list,
           progress) -> dict:
    """Insert the household rows and the aggregate tables (inside the caller's transaction)."""
    status_field = reg.definition.record("household").field("status")
    order = {c.value: i for i, c in enumerate(status_field.choices)}
    # Every person's name in the registry, so that no free text names anyone, a neighbour included.
    names = NameScrubber(people)
    convert = [(f.name, _converter(f, names)) for f in shown]
    comp_convert = [(c["name"], _converter(c["choices"], _NO_NAMES) if c["choices"]
                     else (lambda v: v)) for c in comp_columns]
    marks = ", ".join("?" for _ in cols)
    batch = []
    for i, row in enumerate(rows, 1):
        values = [i] + [fn(row[name]) for name, fn in convert] + [row["status"]]
        comp = compensation.get(row["id"])
        if comp_convert:
            values += [fn(comp.get(name)) if comp else None for name, fn in comp_convert]
        batch.append(values)
        if len(batch) >= 5000:
            conn.executemany(f"INSERT INTO household VALUES ({marks})", batch)
            if progress:
                progress(len(batch))
            batch = []
    conn.executemany(f"INSERT INTO household VALUES ({marks})", batch)
    if progress:
        progress(len(batch))
    write_totals(conn, reg, rows, totalled, status_field, order)
    write_daily(conn, reg, rows)
    _column_info(conn, shown, comp_columns)
    return {"households": len(rows), "columns": [c for c, _ in cols]}
