"""The checks engineered for scale (issue 21) find what their straightforward forms find."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from anju.registry.core.store import Registry
from anju.registry.review import checks
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import HOUSEHOLD

NAMES = ("张伟", "张 伟", "AB", "ab", "李娜", "王芳")
IDS = ("11010519491231002X", "110105491231002", "440524188001010014", "11010519491231002x")


def _sql_groups(reg: Registry) -> set:
    """The check's first form: one grouped SQL statement over all members and owners."""
    checks.prepare(reg)
    rows = reg.conn.execute("""
        WITH p AS (
            SELECT household_id AS hid, anju_id(id_no) AS canon, anju_norm(name) AS name,
                   'member' AS t, id AS rid
            FROM member WHERE deleted IS NULL AND trim(id_no) != ''
            UNION ALL
            SELECT id, anju_id(owner_id_no), anju_norm(owner_name), 'household', id
            FROM household WHERE deleted IS NULL AND trim(owner_id_no) != '')
        SELECT hid, canon, json_group_array(json_array(name, t, rid)) FROM p
        WHERE name IS NOT NULL GROUP BY hid, canon HAVING count(DISTINCT name) > 1""")
    return {(h, c, tuple(sorted(tuple(r) for r in json.loads(rs)))) for h, c, rs in rows}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(households=st.lists(st.tuples(
    st.sampled_from(NAMES), st.sampled_from(IDS + ("",)), st.booleans(),
    st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(IDS), st.booleans()),
             max_size=4)), min_size=1, max_size=6))
def test_one_id_two_names_streamed_equals_the_grouped_sql(households):
    with tempfile.TemporaryDirectory() as tmp:
        reg = Registry.create(Path(tmp) / "r.db", project="p", role="central",
                              device_name="c")
        for n, (owner, owner_id, gone, members) in enumerate(households):
            hid = reg.save("household", None, {**HOUSEHOLD, "house_no": f"A-{n:04d}",
                                               "owner_name": owner, "owner_id_no": owner_id},
                           by="t", full=True)
            for name, id_no, deleted in members:
                mid = reg.save("member", None, {"household_id": hid, "name": name,
                                                "id_no": id_no, "relation": "other"},
                               by="t", full=True)
                if deleted:
                    reg.delete("member", mid, reason="错", by="t")
            if gone:
                reg.delete("household", hid, reason="重复", by="t")
        streamed = {(h, c, tuple(sorted(tuple(r) for r in rows)))
                    for h, c, rows in checks._id_name_groups(reg)}
        assert streamed == _sql_groups(reg)
        reg.close()
