"""The household search served from indexes (registry.core.search) gives the answer of the plain
LIKE search: house number, owner or address containing the term, ASCII letters without case,
in house-number order. The oracle is Python's own substring test over the rows, not SQL."""

from __future__ import annotations

import random
import re

import pytest
from anju.registry.core import search
from anju.registry.core.store import Registry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.collector_helpers import login, make_app

SURNAMES = "张王李赵刘陈杨黄欧阳司马"
GIVEN = "伟芳娜敏静强磊军洋勇艳杰娟涛明超秀霞"
STREETS = ["东关街", "西门路", "北大街", "南关巷", "东关南街", "ＡＢＣ路", "Main St", "100%号院",
           "新_村", "关街关街"]
CHARS = sorted(set(SURNAMES + GIVEN + "".join(STREETS) + "ABCabc-0123456789 ＡＢＣａｂｃ１２％_"))
FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def households(n: int, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        surname = rnd.choice(["欧阳", "司马", *"张王李赵刘陈杨黄"])
        out.append({"house_no": f"{rnd.choice('ABCDab')}-{rnd.randrange(10**4):04d}{i}",
                    "zone": rnd.choice(["东关片区A地块", "西门片区"]),
                    "address": f"{rnd.choice(STREETS)}{rnd.randrange(200)}号",
                    "structure": "brick_wood",
                    "owner_name": surname + "".join(rnd.choice(GIVEN)
                                                    for _ in range(rnd.randint(1, 2)))})
    return out


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    """A registry of 80 households, some tombstoned, with the search index."""
    r = Registry.create(tmp_path_factory.mktemp("search") / "registry.db", project="测试项目",
                        role="central", device_name="central")
    r.save_many([("household", None, h) for h in households(80)], by="tester")
    search.ensure_search_index(r.conn)
    for (hid,) in r.conn.execute("SELECT id FROM household ORDER BY id LIMIT 5").fetchall():
        r.delete("household", hid, reason="重复登记", by="tester")
    yield r
    r.close()


def oracle(reg, term: str) -> list[str]:
    """House numbers of live households containing the term, computed in Python."""
    term = term.replace("\x00", "").strip()[:100]
    rows = reg.conn.execute("SELECT id, house_no, owner_name, address FROM household "
                            "WHERE deleted IS NULL").fetchall()
    hits = [r for r in rows if not term or any(term.translate(FOLD) in (v or "").translate(FOLD)
                                                for v in r[1:])]
    return [r[1] for r in sorted(hits, key=lambda r: (r[1], r[0]))]


def all_pages(reg, term: str, page_size: int = 7) -> tuple[list[str], list]:
    out, results, page = [], [], 1
    while True:
        p = search.find(reg.conn, term, [], [], page, page_size)
        results.append(p)
        out += [r["house_no"] for r in p.rows]
        if not p.has_next:
            return out, results
        page += 1


def terms():
    """Search terms: 1-5 characters from the data's alphabet (Chinese, full-width, ASCII,
    wildcards), substrings of real values, house numbers and their prefixes."""
    values = [v for h in households(80) for v in (h["house_no"], h["owner_name"], h["address"])]
    piece = st.sampled_from(values).flatmap(
        lambda v: st.tuples(st.integers(0, len(v)), st.integers(1, 5)).map(
            lambda ab: v[ab[0]:ab[0] + ab[1]]))
    return st.one_of(st.text(st.sampled_from(CHARS), min_size=1, max_size=5), piece,
                     st.sampled_from(values), st.sampled_from(values).map(str.lower),
                     st.text(min_size=1, max_size=4))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(term=terms(), candidates=st.sampled_from([search.CANDIDATES, 3]),
       vocab=st.sampled_from([search.VOCAB_MAX, 0]))
def test_same_answer_as_plain_like(reg, term, candidates, vocab):
    """Every way to a term's rows (trigram candidates checked and counted, a short term's
    trigrams from the vocabulary, the walk of a common term) gives the oracle's rows in its
    order, page after page."""
    defaults = search.CANDIDATES, search.VOCAB_MAX
    search.CANDIDATES, search.VOCAB_MAX = candidates, vocab
    try:
        got, pages = all_pages(reg, term)
    finally:
        search.CANDIDATES, search.VOCAB_MAX = defaults
    assert got == oracle(reg, term)
    first = pages[0]
    if first.total is not None:
        assert first.total == len(got)
    else:
        assert first.at_least <= len(got)


def test_paths_taken(reg, monkeypatch):
    """A rare term goes to the trigram index, long or short; a common one walks the list."""
    assert search.find(reg.conn, "东关南街", [], [], 1).path == "fts"
    assert search.find(reg.conn, "欧阳", [], [], 1).path == "fts"
    monkeypatch.setattr(search, "CANDIDATES", 2)  # 号 and 东关街 are now common
    assert search.find(reg.conn, "号", [], [], 1).path == "scan"
    assert search.find(reg.conn, "东关街", [], [], 1).path == "scan"
    assert search.find(reg.conn, "", [], [], 1).path == "index"


def test_index_follows_every_write(tmp_path):
    """Saves, edits, tombstones and direct SQL all keep the trigram index equal to the table."""
    r = Registry.create(tmp_path / "r.db", project="测试项目", role="central",
                        device_name="central")
    search.ensure_search_index(r.conn)
    ids = [r.save("household", None, h, by="t", full=True) for h in households(6)]
    r.save("household", ids[0], {"owner_name": "司马光"}, by="t")
    r.save("household", ids[1], {"address": "南关巷9号"}, by="t")
    r.delete("household", ids[2], reason="重复", by="t")
    r.conn.execute("UPDATE household SET address = '北大街1号' WHERE id = ?", (ids[3],))
    r.conn.execute("DELETE FROM household WHERE id = ?", (ids[4],))
    table = r.conn.execute("SELECT rowid, house_no, owner_name, address FROM household "
                           "ORDER BY rowid").fetchall()
    fts = [tuple(v[:-2] if isinstance(v, str) else v for v in row) for row in r.conn.execute(
        "SELECT rowid, house_no, owner_name, address FROM household_fts ORDER BY rowid")]
    assert fts == table and len(table) == 5
    assert [h["house_no"] for h in search.find(r.conn, "司马光", [], [], 1).rows] == \
        [r.get("household", ids[0])["house_no"]]
    old_name = households(6)[0]["owner_name"]
    if old_name not in "司马光":
        assert ids[0] not in [h["id"] for h in search.find(r.conn, old_name, [], [], 1).rows]
    gone = {h["id"] for h in search.find(r.conn, households(6)[2]["house_no"], [], [], 1).rows}
    assert ids[2] not in gone
    r.close()


def test_building_the_index_on_an_existing_registry(tmp_path):
    r = Registry.create(tmp_path / "r.db", project="测试项目", role="central",
                        device_name="central")
    r.save_many([("household", None, h) for h in households(10)], by="t")
    assert not search.has_search_index(r.conn)
    assert search.find(r.conn, "东关街", [], [], 1).path == "scan"  # still right without it
    assert search.ensure_search_index(r.conn) is True
    assert search.ensure_search_index(r.conn) is False
    assert r.conn.execute("SELECT COUNT(*) FROM household_fts").fetchone()[0] == 10
    r.close()


def test_list_page_counts_lazily(tmp_path, monkeypatch):
    """A full page does not count everything: past COUNT_CAP the list says "N+", and pages on."""
    monkeypatch.setattr(search, "COUNT_CAP", 60)
    r = Registry.create(tmp_path / "r.db", project="测试项目", role="central",
                        device_name="central")
    r.save_many([("household", None, h) for h in households(120)], by="t")
    client = make_app(r).test_client()
    login(client)
    page = client.get("/households").text
    assert "共 60+ 户" in page and "第 1 页" in page and "下一页" in page
    second = client.get("/households?page=3").text
    assert "下一页" not in second
    assert len(re.findall(r'<td><a href="/households/', second)) == 20
    # a rare term is counted exactly; a common one (past CANDIDATES) not beyond its page
    assert "共 120 户" in client.get("/households?q=号").text
    monkeypatch.setattr(search, "CANDIDATES", 100)
    assert "共 50+ 户" in client.get("/households?q=号").text
    assert re.search(r"共 \d+ 户", client.get("/households?q=东关南街").text)
    r.close()
