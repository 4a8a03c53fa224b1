"""The province view: many projects' public databases side by side, one combined dashboard."""

import sqlite3

import pytest
from anju.registry.core.store import Registry
from anju.registry.field.demo import build_demo
from anju.registry.publication.publish import publish
from anju.registry.publication.serve import ServeError, build_province

from tests.english import english_words


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    out = []
    for seed, name in ((21, "dongguan"), (22, "ximen")):
        directory = tmp_path_factory.mktemp(name)
        path = build_demo(directory, households=50 + seed, seed=seed)
        with Registry.open(path) as reg:
            reg.set_meta("project_name", f"{'东关' if seed == 21 else '西门'}棚改项目")
            publish(reg, directory / f"{name}.db")
        out.append(directory / f"{name}.db")
    return out


def _sum(path, column):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT sum({column}) FROM zone").fetchone()[0] or 0
    finally:
        conn.close()


async def test_projects_side_by_side_and_combined(projects):
    ds = build_province(projects)
    await ds.invoke_startup()
    r = await ds.client.get("/-/province")
    assert r.status_code == 200
    html = r.text
    assert "东关棚改项目" in html and "西门棚改项目" in html and "<svg" in html
    households = sum(_sum(p, "households") for p in projects)
    signed = sum(_sum(p, "signed") for p in projects)
    assert f"<th>合计</th><th>{households:,}</th>" in html
    assert f"<th>{signed:,}</th>" in html
    assert english_words(html) == set()
    for path in ("/", "/dongguan", "/ximen/household", "/dongguan/zone"):
        r = await ds.client.get(path)
        assert r.status_code == 200, path
        assert english_words(r.text, database="dongguan") - {"ximen"} == set(), path
    home = (await ds.client.get("/")).text
    assert "东关棚改项目 公示数据" in home and "西门棚改项目 公示数据" in home
    # each project's own rows, unchanged
    r = await ds.client.get("/ximen/household.json?_shape=array&_size=max")
    conn = sqlite3.connect(projects[1])
    assert len(r.json()) == conn.execute("SELECT count(*) FROM household").fetchone()[0]
    conn.close()


def test_the_province_view_refuses_bad_input(projects, tmp_path):
    with pytest.raises(ServeError, match="two databases named dongguan"):
        build_province([projects[0], projects[0]])
    registry = tmp_path / "x.db"
    sqlite3.connect(registry).execute("CREATE TABLE t (a)").connection.close()
    with pytest.raises(ServeError, match="not a public database"):
        build_province([projects[0], registry])
    from anju.registry.cli import main
    from click.testing import CliRunner
    result = CliRunner().invoke(main, ["province", str(projects[0]), str(tmp_path / "no.db")])
    assert result.exit_code == 2 and "no such database" in result.output
