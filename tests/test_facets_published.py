"""Facet counts computed at publish time (registry/publication/facets.py) and served by
plugins/facets.py: the same JSON and HTML as Datasette's own facets, value for value."""

import asyncio
import shutil
import sqlite3
import urllib.parse

import pytest
from anju.plugins.facets import PublishedFacet, parse_filters
from anju.registry.core.store import Registry
from anju.registry.field.demo import build_demo
from anju.registry.publication.facets import filter_key, metadata_facets
from anju.registry.publication.publish import publish
from anju.registry.publication.serve import build_datasette
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The public.db of a demo, and a copy (same name) without the counts: Datasette's path."""
    directory = tmp_path_factory.mktemp("facets")
    registry = build_demo(directory, households=160, seed=5)
    with Registry.open(registry) as reg:
        publish(reg, directory / "public.db")
    plain_dir = tmp_path_factory.mktemp("plain")
    plain = plain_dir / "public.db"
    shutil.copy(directory / "public.db", plain)
    conn = sqlite3.connect(plain)
    conn.execute("DROP TABLE facet_count")
    conn.execute("DROP TABLE facet_column")
    conn.commit()
    conn.close()
    return {"public": directory / "public.db", "plain": plain, "dir": directory}


def _values(path, column):
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute(
            f"SELECT DISTINCT [{column}] FROM household WHERE [{column}] IS NOT NULL "
            f"ORDER BY 1")]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def sites(files):
    ours = build_datasette(files["public"])
    plain = build_datasette(files["plain"])
    asyncio.run(ours.invoke_startup())
    asyncio.run(plain.invoke_startup())
    return ours, plain


def test_counts_equal_a_group_by_of_the_published_rows(files):
    """The oracle is a plain GROUP BY per filter, not the cube's marginals."""
    conn = sqlite3.connect(files["public"])
    columns = [c for (c,) in conn.execute("SELECT col FROM facet_column WHERE tbl = 'household'")]
    assert set(columns) == set(metadata_facets()) & {
        r[1] for r in conn.execute("PRAGMA table_info(household)")}
    zone = conn.execute("SELECT zone FROM household GROUP BY zone ORDER BY count(*) DESC"
                        ).fetchone()[0]
    status = conn.execute("SELECT status FROM household WHERE zone = ? LIMIT 1", (zone,)
                          ).fetchone()[0]
    for filters in ([], [("zone", zone)], [("zone", zone), ("status", status)]):
        where = " AND ".join(f"[{c}] = ?" for c, _ in filters) or "1"
        for col in columns:
            expected = conn.execute(
                f"SELECT [{col}], count(*) FROM household WHERE {where} AND [{col}] IS NOT NULL "
                f"GROUP BY [{col}] ORDER BY 2 DESC, 1", [v for _, v in filters]).fetchall()
            got = conn.execute("SELECT value, count FROM facet_count WHERE tbl = 'household' "
                               "AND filters = ? AND col = ? ORDER BY count DESC, value",
                               (filter_key(filters), col)).fetchall()
            assert got == expected, (filters, col)
    assert sum(n for (n,) in conn.execute(
        "SELECT count FROM facet_count WHERE filters = '[]' AND col = 'zone'")) == \
        conn.execute("SELECT count(*) FROM household").fetchone()[0]
    conn.close()


def test_the_facet_sql_is_parsed_strictly():
    sql = "select id, zone from household "
    assert parse_filters(sql, {}, "household") == []
    assert parse_filters(sql + "where zone = :p0 ", {"p0": "A"}, "household") == [("zone", "A")]
    assert parse_filters(sql + 'where "zone" = :p0 and "a ""b""" = :p1 ',
                         {"p0": "A", "p1": "B"}, "household") == [("zone", "A"), ('a "b"', "B")]
    assert parse_filters(sql + "where [actual use] = :p0 and status = :p1 ",
                         {"p0": "A", "p1": "B"}, "household") == [("actual use", "A"),
                                                                  ("status", "B")]
    for tail, params in [
            ("where zone > :p0 ", {"p0": "A"}),            # a range
            ("where zone = :p0 ", {"p0": 3}),               # not a text parameter
            ("where zone = :p0 ", {"p0": "A", "p1": "B"}),  # a parameter of something else
            ("where zone = :p0 and zone = :p1 ", {"p0": "A", "p1": "B"}),
            ("where rowid in (select rowid from household_fts where household_fts match "
             ":search) ", {"search": "x"}),
            ("where (id > :p0) ", {"p0": "5"}),
            ("", {"p0": "A"})]:
        assert parse_filters(sql + tail, params, "household") is None, tail
    assert parse_filters("select * from zone ", {}, "household") is None


def test_the_plugin_replaces_the_column_facet(sites):
    from datasette.plugins import pm
    classes = [k for group in pm.hook.register_facet_classes() for k in group]
    assert PublishedFacet in classes
    assert [k.type for k in classes].count("column") == 1


def _get(ds, path):
    response = asyncio.run(ds.client.get(path))
    assert response.status_code == 200, (path, response.text[:300])
    return response


def _paths(files):
    zone = _values(files["public"], "zone")[0]
    status = _values(files["public"], "status")[-1]
    structure = _values(files["public"], "structure")[0]
    q = urllib.parse.quote
    return [
        "/public/household", f"/public/household?zone={q(zone)}",
        f"/public/household?status={q(status)}",
        f"/public/household?zone={q(zone)}&status={q(status)}",
        f"/public/household?zone__exact={q(zone)}&structure={q(structure)}",
        f"/public/household?zone={q(zone)}&_facet=address",          # an extra facet
        f"/public/household?zone={q(zone)}&_facet_size=2",
        "/public/household?zone=%E6%97%A0%E6%AD%A4%E7%89%87%E5%8C%BA",  # no such zone
        f"/public/household?zone={q(zone)}&status={q(status)}&structure={q(structure)}",
        "/public/household?_search=%E8%B7%AF",                          # a search: Datasette
        f"/public/household?_sort_desc=house_no&zone={q(zone)}",
    ]


def test_json_and_html_equal_datasettes_own(files, sites):
    ours, plain = sites
    for path in _paths(files):
        for suffix in ("", ".json"):
            url = path.replace("/household", "/household" + suffix, 1)
            a, b = _get(ours, url), _get(plain, url)
            if suffix:
                assert a.json()["facet_results"] == b.json()["facet_results"], url
                assert a.json()["rows"] == b.json()["rows"], url
            else:
                assert a.text == b.text, url
    # the site's facets really come from the table: altered counts show through
    tampered = files["dir"] / "tampered"
    tampered.mkdir()
    shutil.copy(files["public"], tampered / "public.db")
    conn = sqlite3.connect(tampered / "public.db")
    conn.execute("UPDATE facet_count SET count = count + 1000")
    conn.commit()
    conn.close()
    ds = build_datasette(tampered / "public.db")
    facets = _get(ds, "/public/household.json").json()["facet_results"]
    assert all(v["count"] > 1000 for f in facets.values() for v in f["results"])
    zone = urllib.parse.quote(_values(files["public"], "zone")[0])
    status = urllib.parse.quote(_values(files["public"], "status")[0])
    for query in (f"zone={zone}", f"status={status}", f"zone={zone}&status={status}"):
        facets = _get(ds, f"/public/household.json?{query}").json()["facet_results"]
        assert facets and all(v["count"] > 1000 for f in facets.values()
                              for v in f["results"]), query
    facets = _get(ds, "/public/household.json?_search=%E8%B7%AF").json()["facet_results"]
    assert all(v["count"] < 1000 for f in facets.values() for v in f["results"])
    facets = _get(ds, f"/public/household.json?zone__not={zone}").json()["facet_results"]
    assert all(v["count"] < 1000 for f in facets.values() for v in f["results"])


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_filter_combination_matches_datasette(files, sites, data):
    ours, plain = sites
    columns = ["zone", "status", "structure", "actual_use"]
    chosen = data.draw(st.lists(st.sampled_from(columns), unique=True, max_size=3))
    args = []
    for column in chosen:
        values = _values(files["public"], column) + ["不存在的值"]
        args.append((column, data.draw(st.sampled_from(values))))
    extra = data.draw(st.sampled_from(["", "&_facet_size=3", "&_facet=address",
                                       "&_facet_size=max"]))
    url = "/public/household.json?" + urllib.parse.urlencode(args) + extra
    assert _get(ours, url).json()["facet_results"] == _get(plain, url).json()["facet_results"]


def test_the_province_site_answers_each_project_from_its_counts(files, tmp_path):
    """Many projects side by side: each database's facets come from its own counts."""
    from anju.registry.publication.serve import build_province
    ours, plain = [], []
    for name in ("east", "west"):
        shutil.copy(files["public"], tmp_path / f"{name}.db")
        ours.append(tmp_path / f"{name}.db")
        (tmp_path / "plain").mkdir(exist_ok=True)
        shutil.copy(files["plain"], tmp_path / "plain" / f"{name}.db")
        plain.append(tmp_path / "plain" / f"{name}.db")
    conn = sqlite3.connect(ours[1])
    conn.execute("UPDATE facet_count SET count = count * 2")  # tell the two projects apart
    conn.commit()
    conn.close()
    province, reference = build_province(ours), build_province(plain)
    zone = urllib.parse.quote(_values(files["public"], "zone")[0])
    for path in ("/east/household.json", f"/east/household.json?zone={zone}"):
        assert _get(province, path).json()["facet_results"] == \
            _get(reference, path).json()["facet_results"], path
    doubled = _get(province, "/west/household.json").json()["facet_results"]
    single = _get(reference, "/west/household.json").json()["facet_results"]
    assert [v["count"] for v in doubled["zone"]["results"]] == \
        [2 * v["count"] for v in single["zone"]["results"]]
