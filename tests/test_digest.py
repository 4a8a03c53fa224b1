"""The digest depends on what the records say, not on the order changes were written in."""

import random

from anju.registry.core.changes import Change, fold
from anju.registry.core.digest import digest
from anju.registry.core.store import Registry, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import HOUSEHOLD


def _copy_in_order(changes, path, seed):
    reg = Registry.create(path, project="p", role="central", device_name="c")
    shuffled = list(changes)
    random.Random(seed).shuffle(shuffled)
    for c in shuffled:  # one change per transaction, in a shuffled order
        with transaction(reg.conn):
            reg.apply([c])
    value = digest(reg)
    reg.close()
    return value


def test_digest_independent_of_write_order(registry, tmp_path):
    ids = [registry.save("household", None, {**HOUSEHOLD, "house_no": f"A-{i}"}, by="x",
                         full=True) for i in range(5)]
    for i, hid in enumerate(ids):
        registry.save("household", hid, {"floors": i + 1}, by="y")
        registry.save("member", None, {"household_id": hid, "name": "王芳",
                                       "id_no": "11010519491231002X", "relation": "head"},
                      by="y")
        registry.save("household", hid, {"floors": i + 2}, by="y")
    changes = [Change.from_row(r[:10]) for r in registry.conn.execute(
        "SELECT change_id, device_id, seq, record_type, record_id, fields, base, at, by, note "
        "FROM change")]
    expected = digest(registry)
    for seed in range(3):
        assert _copy_in_order(changes, tmp_path / f"copy{seed}.db", seed) == expected


def test_digest_changes_when_a_value_changes(registry, household):
    before = digest(registry)
    registry.save("household", household, {"floors": 4}, by="x")
    assert digest(registry) != before
    assert len(before) == 64 and int(before, 16) >= 0


edit = st.tuples(st.sampled_from(["d1", "d2", "d3"]), st.sampled_from(["a", "b"]),
                 st.integers(0, 3), st.booleans())


@settings(max_examples=200, deadline=None)
@given(st.lists(edit, min_size=1, max_size=12), st.randoms())
def test_fold_is_a_function_of_the_set(edits, rnd):
    """Whatever order changes arrive in, the fold gives the same values and conflicts."""
    changes, last = [], {}
    for n, (device, fieldname, value, saw_last) in enumerate(edits):
        base = last.get(fieldname) if saw_last else None
        c = Change(change_id=f"c{n:02d}", device_id=device, seq=n, record_type="household",
                   record_id="h", fields={fieldname: value}, base={fieldname: base},
                   at=f"2026-01-01T00:00:{n % 3:02d}.000000Z", by="u")
        last[fieldname] = c.change_id
        changes.append(c)
    expected = fold(changes)
    shuffled = list(changes)
    rnd.shuffle(shuffled)
    got = fold(shuffled)
    assert got.values == expected.values
    assert {k: [h.change_id for h in v] for k, v in got.heads.items()} == {
        k: [h.change_id for h in v] for k, v in expected.heads.items()}
    # A change that saw the last one always wins over it.
    for c in changes:
        for name, b in c.base.items():
            if b is not None:
                assert b not in [h.change_id for h in got.heads[name]]
