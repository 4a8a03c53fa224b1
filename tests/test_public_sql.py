"""The public site's SQL, bounded (issue 14, point 9), through real Datasette (ds.client).

The attacks of the issue: `select length(randomblob(999999999))` ran 9.5 s past the 1 s limit
and took 1 GB; /-/databases.json and pragma_database_list showed the server's file paths.
"""

import subprocess
import sys
import time
from urllib.parse import quote

import pytest
from anju.registry.core.store import Registry
from anju.registry.publication.publish import publish
from anju.registry.publication.serve import build_datasette

from tests.conftest import HOUSEHOLD


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("public-sql-site")
    reg = Registry.create(root / "registry.db", project="p", role="central", device_name="c")
    for i in range(3):
        reg.save("household", None, {**HOUSEHOLD, "house_no": f"A-{i:04d}"}, by="li", full=True)
    publish(reg, root / "public.db")
    reg.close()
    return root


@pytest.fixture
async def ds(site):
    d = build_datasette(site / "public.db")
    await d.invoke_startup()
    return d


async def _sql(ds, sql):
    start = time.perf_counter()
    r = await ds.client.get("/public.json?_shape=array&sql=" + quote(sql))
    return r, time.perf_counter() - start


@pytest.mark.parametrize("sql", [
    "select length(randomblob(999999999))",
    "select length(zeroblob(999999999) || 'x')",
    "select length(printf('%.*c', 999999999, 'x'))",
    "select length(format('%999999999d', 1))",
    "with recursive c(x) as (select 1 union all select x + 1 from c limit 3000000) "
    "select length(group_concat(x)) from c",
])
async def test_a_huge_value_fails_at_once(ds, sql):
    r, seconds = await _sql(ds, sql)
    assert r.status_code == 400 and seconds < 1.5, (r.status_code, seconds, r.text[:200])
    text = r.text.lower()
    assert "too big" in text or "interrupted" in text or "not authorized" in text


async def test_ordinary_queries_still_work(ds):
    r, _ = await _sql(ds, "select count(*) as n, length(randomblob(1000)) as b from household")
    assert r.status_code == 200 and r.json() == [{"n": 3, "b": 1000}]


async def test_no_server_path_in_any_public_page_or_json(ds, site):
    secret = str(site)
    for path in ("/-/databases.json", "/-/databases", "/-/metadata.json", "/-/metadata",
                 "/-/settings.json", "/-/versions.json", "/-/plugins.json", "/-/config.json",
                 "/-/threads.json", "/-/actor.json", "/-/inspect.json", "/", "/public",
                 "/public.json", "/public/household.json", "/-/provenance", "/-/progress",
                 "/_internal.json?sql=select+path+from+databases"):
        r = await ds.client.get(path)
        assert secret not in r.text, path
    r = await ds.client.get("/-/databases.json")
    assert r.status_code == 200 and r.json()[0]["name"] == "public" \
        and "path" not in r.json()[0]
    for sql in ("select * from pragma_database_list", "select file from pragma_database_list",
                "select group_concat(file) as f from pragma_database_list",
                "select * from pragma_temp_store_directory"):
        r, _ = await _sql(ds, sql)
        assert r.status_code in (200, 400) and secret not in r.text, sql


def test_the_heap_limit_stops_a_query_that_needs_much_memory():
    """The process-wide cap `anju serve` sets for the public site (run in its own process)."""
    code = (
        "import sqlite3, time\n"
        "from anju.plugins.limits import limit_heap\n"
        "limit_heap(64 * 1024 * 1024)\n"
        "c = sqlite3.connect(':memory:')\n"
        "t = time.perf_counter()\n"
        "try:\n"
        "    c.execute('with recursive n(x) as (select 1 union all select x + 1 from n limit 40)'"
        " ' select x from n order by randomblob(5000000)').fetchall()\n"
        "    print('ran')\n"
        "except (sqlite3.Error, MemoryError) as e:  # SQLITE_NOMEM is a MemoryError\n"
        "    print('refused', e, round(time.perf_counter() - t, 2))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.startswith("refused"), out.stdout + out.stderr


async def test_site_pages_carry_the_security_headers(ds):
    for path in ("/", "/public/household", "/-/progress", "/public.json?sql=select+1",
                 "/no-such-page"):
        r = await ds.client.get(path)
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path
        assert r.headers["x-content-type-options"] == "nosniff"
