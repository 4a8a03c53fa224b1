"""The streamed publication writes exactly what the straightforward one wrote (issue 21).

`anju publish` now streams the households (registry/publication/aggregate.py sums the totals on
the way, daily progress is one SQL statement, names go straight into the scrubber's set). The
oracle is the old path, kept verbatim in tests/publish_reference.py: the same registry, copied,
is published both ways and every table must hold the same values of the same SQLite types, in
the same row order, with the same schema, apart from the two clock readings (the publication
time and the ledger's release time).
"""

import shutil
import sqlite3
import sys
from pathlib import Path

import pytest
from anju.registry.core.store import Registry
from anju.registry.field.demo import build_demo
from anju.registry.publication import publish as publish_module
from anju.registry.publication.privacy import _name_view, normalised_view
from anju.registry.publication.publish import publish
from hypothesis import given
from hypothesis import strategies as st

from tests import publish_reference

ROOT = Path(__file__).resolve().parent.parent
CLOCKS = {("provenance", "as_of"), ("sensitive_total", "released_at")}


def _tables(path: Path) -> dict:
    """Every table's schema and rows (value and SQLite type of each cell), clocks blanked."""
    conn = sqlite3.connect(path)
    try:
        out = {"schema": sorted(conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE "
            "'sqlite_stat%'").fetchall(), key=str)}
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                     "AND name NOT LIKE 'sqlite_stat%'").fetchall():
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")]
            if not cols:  # an FTS shadow table reports none through table_info
                continue
            select = ", ".join(f"[{c}], typeof([{c}])" for c in cols)
            try:
                rows = conn.execute(f"SELECT {select} FROM [{table}] ORDER BY rowid").fetchall()
            except sqlite3.OperationalError:  # WITHOUT ROWID (an FTS shadow table)
                rows = conn.execute(f"SELECT {select} FROM [{table}] ORDER BY 1").fetchall()
            if table == "provenance":
                rows = [r if r[0] != "as_of" else r[:6] for r in rows]
            for t, c in CLOCKS:
                if t == table and c in cols:
                    i = 2 * cols.index(c)
                    rows = [r[:i] + ("<clock>", r[i + 1]) + r[i + 2:] for r in rows]
            out[table] = (cols, rows)
        return out
    finally:
        conn.close()


def _both_ways(registry: Path, directory: Path, monkeypatch) -> tuple[dict, dict]:
    """Publish two copies of one registry, streamed and straightforward (each its own ledger)."""
    copies = []
    for name in ("streamed", "reference"):
        (directory / name).mkdir()
        shutil.copy(registry, directory / name / "registry.db")
        copies.append(directory / name)
    with Registry.open(copies[0] / "registry.db") as reg:
        publish(reg, copies[0] / "public.db")
    with monkeypatch.context() as mp:
        mp.setattr(publish_module, "_build", publish_reference.build)
        with Registry.open(copies[1] / "registry.db") as reg:
            publish(reg, copies[1] / "public.db")
    return _tables(copies[0] / "public.db"), _tables(copies[1] / "public.db")


def _assert_same(streamed: dict, reference: dict) -> None:
    assert set(streamed) == set(reference)
    assert streamed["schema"] == reference["schema"]
    for table in reference:
        assert streamed[table] == reference[table], table


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A demo project (agreements, the lawful path, hardship) with a few hostile edits."""
    directory = tmp_path_factory.mktemp("demo")
    path = build_demo(directory, households=150, seed=8)
    with Registry.open(path) as reg:
        ids = [r[0] for r in reg.conn.execute("SELECT id FROM household ORDER BY house_no")]
        neighbour = reg.conn.execute("SELECT name FROM member WHERE name IS NOT NULL "
                                     "LIMIT 1").fetchone()[0]
        reg.save("household", ids[0], {"attachments_desc": f"围墙与{neighbour}家共用，电话"
                                        "13812345678"}, by="tester")
        reg.save("household", ids[1], {"attachments_desc": "=1+1 水井一口"}, by="tester")
        reg.delete("household", ids[2], reason="重复登记", by="tester")
    return path


def test_demo_publishes_the_same_tables_both_ways(demo, tmp_path, monkeypatch):
    streamed, reference = _both_ways(demo, tmp_path, monkeypatch)
    _assert_same(streamed, reference)
    cols, rows = streamed["household"]
    assert len(rows) > 100
    assert "provenance" in streamed and "daily_progress" in streamed


def test_bulk_registry_publishes_the_same_tables_both_ways(demo, tmp_path, monkeypatch):
    """The benchmark's bulk builder: many zones and statuses, agreements (given the demo's real
    frozen breakdowns, as scripts/bench_publish_scale.py does), members, visits."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import bench_scale
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    bench_scale.build(tmp_path / "bulk.db", 1500, seed=4)
    with sqlite3.connect(demo) as conn:
        templates = conn.execute("SELECT mode, breakdown, total FROM agreement WHERE "
                                 "deleted IS NULL AND amends IS NULL").fetchall()
    with sqlite3.connect(tmp_path / "bulk.db") as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM agreement")]
        conn.executemany("UPDATE agreement SET mode = ?, breakdown = ?, total = ? WHERE id = ?",
                         [(*templates[i % len(templates)], a) for i, a in enumerate(ids)])
    conn.close()
    streamed, reference = _both_ways(tmp_path / "bulk.db", tmp_path, monkeypatch)
    _assert_same(streamed, reference)
    assert len(streamed["household"][1]) == 1500


def _walk(text: str) -> tuple[str, list[int]]:
    """The per-character normalisation of privacy.normalised_view, written out (the oracle)."""
    import unicodedata
    digits = str.maketrans("零〇一二三四五六七八九", "00123456789")
    chars, index = [], []
    for i, ch in enumerate(text):
        if ch.isspace():
            continue
        for c in unicodedata.normalize("NFKC", ch).translate(digits):
            if c.isspace():
                continue
            low = c.lower()
            chars.append(low if len(low) == 1 else c)
            index.append(i)
    return "".join(chars), index


TEXT = st.text(alphabet=st.sampled_from(list("张王欧阳一二零〇伟 　ＡaB1１\t李\u3000丰，、。:;Z(")))


@given(TEXT | st.text(max_size=8))
def test_the_quick_views_are_the_normalised_view(text):
    assert normalised_view(text) == _walk(text)
    assert _name_view(text) == _walk(text)[0]
