"""The engineered merge (issue 21) is the straightforward merge, only faster.

- `validation.partial_errors` (each field's check called directly) gives exactly the errors of
  `validate(partial=True, latest=None)` for any values, hostile ones included (hypothesis);
- the realistic data of scripts/scale_data.py merged as packs gives the digest, the change set
  and the rows of the registry the generator builds directly (the store's own fold), and the
  bulk path (indexes deferred and rebuilt, big batches) gives the same digest, change set,
  conflicts and record rows as the ordinary path, whatever the order and grouping of packs.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from anju.registry.core import validation
from anju.registry.core.digest import digest, knowledge
from anju.registry.core.store import Registry
from anju.registry.sync import merge
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import scale_data  # noqa: E402

BOOKKEEPING = ("received_at",)
SIGNATURES = ("prev", "sig")  # each project enrols its laptops with keys of its own


@pytest.fixture(scope="module")
def definition(tmp_path_factory):
    reg = Registry.create(tmp_path_factory.mktemp("defn") / "r.db", project="p",
                          role="central", device_name="c")
    yield reg.definition
    reg.close()


def _values():
    texts = st.one_of(st.text(max_size=30), st.sampled_from(
        ["张伟", "欧阳娜娜", "  ", "", "11010519491231002X", "440524188001010014",
         "110105194912310021", "13800000001", "1380000000", "2026-02-30", "2026-10-01",
         "2999-01-01", "money", "swap", "head", "child", "surveyed", "signed", "brick_wood",
         "１２３", "3.14159", "1e3", "NaN", "-5", "A-0001", "Ａ-0001", "[\"disability\"]",
         "39.9,116.4", "x" * 300]))
    scalars = st.one_of(texts, st.integers(-10**13, 10**13), st.floats(allow_nan=True),
                        st.booleans(), st.none())
    return st.one_of(scalars, st.lists(scalars, max_size=3),
                     st.dictionaries(st.text(max_size=3), scalars, max_size=2))


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_partial_errors_are_validates_errors(definition, data):
    record = data.draw(st.sampled_from(sorted(definition.records)))
    names = [f.name for f in definition.record(record).columns]
    rtype = definition.record(record)
    if rtype.parent:
        names.append(f"{rtype.parent}_id")
    keys = data.draw(st.lists(st.one_of(st.sampled_from(names), st.text(max_size=8)),
                              min_size=1, max_size=6, unique=True))
    values = {k: data.draw(_values()) for k in keys}
    expected = validation.validate(definition, record, values, partial=True, latest=None)[1]
    assert validation.partial_errors(definition, record, values) == expected


def _rows(reg: Registry, skip: tuple = BOOKKEEPING) -> dict:
    """Every row of the change log and of every record table, bookkeeping of receipt aside."""
    out = {}
    for table in ("change", "conflict", *sorted(reg.definition.records)):
        cur = reg.conn.execute(f"SELECT * FROM [{table}]")
        cols = [d[0] for d in cur.description]
        keep = [i for i, c in enumerate(cols) if c not in skip]
        out[table] = sorted(tuple(row[i] for i in keep) for row in cur)
    return out


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    """Packs of 60 households from 4 laptops, and the registry built from the same data."""
    root = tmp_path_factory.mktemp("scaled")
    packs = scale_data.write_packs(root / "p", 60, laptops=4, seed=3, quiet=True)
    scale_data.build_registry(root / "built.db", 60, laptops=4, seed=3, quiet=True)
    return root, packs


def _fresh(root: Path, name: str) -> Registry:
    shutil.copy(root / "p" / "central.db", root / name)
    return Registry.open(root / name)


def test_scale_data_packs_merge_into_the_registry_built_directly(scaled, tmp_path):
    root, packs = scaled
    reg = _fresh(root, "merged-plain.db")
    results = merge.merge_packs(reg, packs)
    assert all(r.ok for r in results), [r.line() for r in results]
    built = Registry.open(root / "built.db")
    assert digest(reg) == digest(built)
    assert knowledge(reg) == knowledge(built)
    mine, theirs = (_rows(r, BOOKKEEPING + SIGNATURES) for r in (reg, built))
    for table in mine:
        assert mine[table] == theirs[table], table
    statuses = dict(reg.conn.execute("SELECT status, count(*) FROM household GROUP BY 1"))
    assert set(statuses) >= {"surveyed", "published", "valued", "signed"}
    assert reg.conn.execute("SELECT count(*) FROM agreement").fetchone()[0] == statuses["signed"]
    reg.close()
    built.close()
