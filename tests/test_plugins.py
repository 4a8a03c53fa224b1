"""The public and staff Datasette sites through `ds.client`: every plugin page, every permission."""

import re
import sqlite3

import pytest
from anju.registry.core.digest import digest
from anju.registry.core.store import Registry
from anju.registry.field.demo import build_demo
from anju.registry.publication.publish import publish
from anju.registry.publication.serve import HASH_ENV, USER_ENV, build_datasette

# An absolute URL anywhere, or a protocol-relative one where a link or a fetch would use it
# (an attribute value or url()): base64 text in a data cell may hold "//" too.
URL = re.compile(r"""(?:https?:|(?<=["'(]))//([^/"'\s)<>]+)""", re.I)
LOCAL_HOSTS = {"localhost", "127.0.0.1", "www.w3.org"}  # w3.org: the SVG namespace, not fetched


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    directory = tmp_path_factory.mktemp("site")
    path = build_demo(directory, households=180, seed=3)
    with Registry.open(path) as reg:
        publish(reg, directory / "public.db")
        registry_digest = digest(reg)
        sample = reg.conn.execute(
            "SELECT house_no, owner_name, owner_id_no FROM household "
            "WHERE owner_id_no IS NOT NULL ORDER BY house_no LIMIT 1").fetchone()
    return {"dir": directory, "registry": path, "public": directory / "public.db",
            "digest": registry_digest, "house_no": sample[0], "owner": sample[1],
            "id_no": sample[2]}


@pytest.fixture(scope="module")
def paid(demo, tmp_path_factory):
    """A public database with compensation figures (the compensation module's contract)."""
    from anju.registry.compensation import agreements as compensation
    out = tmp_path_factory.mktemp("paid") / "public.db"
    with Registry.open(demo["registry"]) as reg, pytest.MonkeyPatch.context() as mp:
        hid = reg.conn.execute("SELECT id FROM household WHERE house_no = ?",
                               (demo["house_no"],)).fetchone()[0]
        mp.setattr(compensation, "public_rows", lambda r: {
            hid: {"compensation_total": 1234567.5, "house_value": 800000.0}})
        publish(reg, out)
    return out


@pytest.fixture
async def public(demo):
    ds = build_datasette(demo["public"])
    await ds.invoke_startup()
    return ds


@pytest.fixture
async def staff(demo, monkeypatch):
    from datasette_auth_passwords.utils import hash_password
    monkeypatch.setenv(HASH_ENV, hash_password("office-pass-1", iterations=1000))
    monkeypatch.setenv(USER_ENV, "office")
    ds = build_datasette(demo["registry"], staff=True)
    await ds.invoke_startup()
    return ds


def _no_external(html: str) -> None:
    """No URL on the page points off this machine (Datasette writes same-host absolute links)."""
    hosts = {m.group(1).split(":")[0].lower() for m in URL.finditer(html)}
    assert hosts <= LOCAL_HOSTS, hosts - LOCAL_HOSTS


# -- the public site --------------------------------------------------------------------------
async def test_dashboard_shows_figures_and_svg_charts(public, demo):
    r = await public.client.get("/-/progress")
    assert r.status_code == 200
    html = r.text
    assert "征收进度" in html and html.count("<svg") == 4 and "累计进度" in html
    conn = sqlite3.connect(demo["public"])
    households, signed = conn.execute("SELECT sum(households), sum(signed) FROM zone").fetchone()
    conn.close()
    assert f'<span class="n">{households:,}</span><span class="l">登记户数' in html
    assert f'<span class="n">{signed:,}</span><span class="l">已签约' in html
    # hardship only at project level, rounded; hidden cells labelled as hidden, never as "<5"
    assert "困难群体与人口（全项目" in html and "低保" in html and "约 " in html
    assert "&lt;5" not in html
    _no_external(html)


async def test_lookup_by_house_number(public, demo):
    r = await public.client.get(f"/-/lookup?house_no={demo['house_no']}")
    assert r.status_code == 200
    assert demo["house_no"] in r.text and demo["owner"][0] + "*" in r.text
    assert demo["owner"] not in r.text and demo["id_no"] not in r.text
    assert 'class="badge' in r.text
    _no_external(r.text)
    r = await public.client.get(f"/-/lookup?house_no={demo['house_no'].lower()}")
    assert "anju-card" in r.text and demo["house_no"] in r.text


async def test_lookup_partial_unknown_and_too_short(public, demo):
    conn = sqlite3.connect(demo["public"])
    address = conn.execute("SELECT address FROM household LIMIT 1").fetchone()[0]
    conn.close()
    r = await public.client.get("/-/lookup", params={"house_no": address[2:6]})
    assert "可能的结果" in r.text and address in r.text
    r = await public.client.get("/-/lookup?house_no=ZZ-0000")
    assert "没有找到" in r.text
    r = await public.client.get("/-/lookup?house_no=东关")
    assert "至少3个字的地址" in r.text
    r = await public.client.get("/-/lookup")
    assert r.status_code == 200 and "anju-card" not in r.text


async def test_provenance_page(public, demo):
    r = await public.client.get("/-/provenance")
    assert r.status_code == 200
    assert demo["digest"] in r.text and "张三丰 → 张**" in r.text
    _no_external(r.text)


async def test_table_page_has_facets_chinese_labels_and_badges(public):
    r = await public.client.get("/public/household")
    assert r.status_code == 200
    html = r.text
    assert "房屋编号" in html and "产权人姓名" in html and 'class="badge s-' in html
    _no_external(html)
    data = (await public.client.get("/public/household.json")).json()
    assert set(data["facet_results"]) == {"zone", "status", "structure", "actual_use"}
    numbers = [row[data["columns"].index("house_no")] for row in data["rows"]]
    assert numbers == sorted(numbers) and "按房屋编号升序排列" in html


async def test_money_is_rendered_as_yuan(paid, demo):
    ds = build_datasette(paid)
    await ds.invoke_startup()
    r = await ds.client.get(f"/public/household?house_no={demo['house_no']}")
    assert "¥1,234,567.50" in r.text and "¥800,000.00" in r.text  # to the fen, everywhere
    r = await ds.client.get(f"/-/lookup?house_no={demo['house_no']}")
    label = sqlite3.connect(paid).execute(
        "SELECT label_zh FROM column_info WHERE [column] = 'compensation_total'").fetchone()[0]
    assert label in r.text and "¥1,234,567.50" in r.text


async def test_json_csv_and_read_only_sql_for_everyone(public):
    r = await public.client.get("/public.json?sql=select+count(*)+as+n+from+household&_shape=array")
    assert r.status_code == 200 and r.json() == [{"n": 180}]
    r = await public.client.get("/public/household.csv?_size=5")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain") or \
        r.headers["content-type"].startswith("text/csv")
    assert "house_no" in r.text.splitlines()[0]
    r = await public.client.get("/public.json?sql=delete+from+household")
    assert r.status_code == 400
    assert public.setting("sql_time_limit_ms") == 1000
    r = await public.client.get(
        "/public.json?sql=with+recursive+c(x)+as+(select+1+union+all+select+x%2B1+from+c)"
        "+select+count(*)+from+c")
    assert r.status_code == 400 and "interrupted" in r.text.lower()


async def test_canned_queries(public, demo):
    r = await public.client.get(f"/public/lookup_house.json?house_no={demo['house_no']}"
                                "&_shape=array")
    assert r.status_code == 200
    (row,) = r.json()
    assert row["房屋编号"] == demo["house_no"] and row["产权人"] == demo["owner"][0] + "*"
    r = await public.client.get("/public/progress_by_zone.json?_shape=array")
    assert len(r.json()) == 6
    r = await public.client.get("/public/status_totals.json?_shape=array")
    assert sum(x["户数"] for x in r.json()) == 180


async def test_static_css_and_hidden_tables(public):
    r = await public.client.get("/anju-static/anju.css")
    assert r.status_code == 200 and ".badge" in r.text
    r = await public.client.get("/public")
    assert "column_info" not in r.text and "household_fts" not in r.text
    assert "住户公示" in r.text
    _no_external(r.text)
    for path in ("/", "/public/zone", "/public/progress", "/public/choice_total",
                 "/public/provenance", "/public/household/1"):
        r = await public.client.get(path)
        assert r.status_code == 200, path
        _no_external(r.text)


async def test_the_public_site_has_no_login(public):
    for path in ("/-/login", "/-/password-tool"):
        assert (await public.client.get(path)).status_code == 404


async def test_public_routes_are_not_on_the_staff_site(staff):
    for path in ("/-/progress", "/-/lookup", "/-/provenance"):
        assert (await staff.client.get(path)).status_code in (302, 404)


async def test_public_pages_honour_view_instance(demo):
    from anju.registry.publication.serve import PLUGINS_DIR, TEMPLATES_DIR, public_metadata
    from datasette.app import Datasette
    meta = public_metadata(demo["public"])
    meta["allow"] = False
    ds = Datasette([], immutables=[str(demo["public"])], metadata=meta,
                   plugins_dir=str(PLUGINS_DIR), template_dir=str(TEMPLATES_DIR))
    await ds.invoke_startup()
    for path in ("/-/progress", "/-/lookup?house_no=A-0001", "/-/provenance"):
        assert (await ds.client.get(path)).status_code == 403


# -- the staff site ---------------------------------------------------------------------------
async def _login(ds, user, password):
    page = await ds.client.get("/-/login?next=/registry/household")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    return await ds.client.post("/-/login", data={
        "username": user, "password": password, "csrftoken": token,
        "next": "/registry/household"}, cookies={"ds_csrftoken": page.cookies["ds_csrftoken"]})


def _actor(ds, name):
    """The cookie of a staff session of registry account `name`, opened as a login opens it."""
    from anju.registry.core.store import Registry
    from anju.registry.core.users import start_session
    with Registry.open(ds.plugin_config("anju")["registry"]) as reg:
        return {"anju_staff": start_session(reg, name, "staff")}


async def test_anonymous_visitor_gets_the_login_page_and_no_data(staff):
    for path in ("/", "/registry", "/registry/household", "/registry/household.json",
                 "/registry.json?sql=select+*+from+household", "/registry/change_log"):
        r = await staff.client.get(path)
        assert r.status_code == 302, path
        assert r.headers["location"].startswith("/-/login?next=")
    r = await staff.client.get("/-/login")
    assert r.status_code == 200 and "工作人员登录" in r.text
    _no_external(r.text)


async def test_registry_admin_logs_in_with_the_web_app_password(staff):
    r = await _login(staff, "admin", "anju-demo")
    assert r.status_code == 302 and r.headers["location"] == "/registry/household"
    cookies = {"anju_staff": r.cookies["anju_staff"]}
    r = await staff.client.get("/registry/household", cookies=cookies)
    assert r.status_code == 200 and "退出登录" in r.text


async def test_env_account_logs_in_and_others_are_refused(staff):
    r = await _login(staff, "office", "office-pass-1")
    assert r.status_code == 302
    for user, password in (("office", "wrong"), ("surveyor1", "anju-demo"),
                           ("admin", "nope"), ("", "")):
        r = await _login(staff, user, password)
        assert r.status_code == 403 and "用户名或密码不正确" in r.text and \
            "anju_staff" not in r.cookies


async def test_staff_views_of_conflicts_flags_and_change_log(staff, demo):
    cookies = _actor(staff, "admin")
    for path in ("/", "/registry/open_conflicts", "/registry/flags", "/registry/change_log",
                 "/registry/conflict", "/registry/change", "/registry/member"):
        r = await staff.client.get(path, cookies=cookies)
        assert r.status_code == 200, path
        _no_external(r.text)
    r = await staff.client.get("/registry/change_log.json?_shape=array", cookies=cookies)
    assert len(r.json()) == 500


async def test_staff_sql_and_what_even_staff_cannot_read(staff, demo):
    cookies = _actor(staff, "admin")
    r = await staff.client.get("/registry.json?sql=select+count(*)+as+n+from+household"
                               "&_shape=array", cookies=cookies)
    assert r.json() == [{"n": 180}]
    r = await staff.client.get("/registry.json?sql=select+name,password_hash+from+user"
                               "&_shape=array", cookies=cookies)
    assert r.status_code == 200 and all(row["password_hash"] is None for row in r.json())
    r = await staff.client.get("/registry.json?sql=select+*+from+keyring&_shape=array",
                               cookies=cookies)
    assert all(v is None for row in r.json() for v in row.values())
    assert (await staff.client.get("/registry/user", cookies=cookies)).status_code == 403
    assert (await staff.client.get("/registry/keyring", cookies=cookies)).status_code == 403
    r = await staff.client.get("/registry.json?sql=delete+from+household", cookies=cookies)
    assert r.status_code == 400


async def test_staff_table_shows_resident_ids_masked(staff, demo):
    cookies = _actor(staff, "admin")
    r = await staff.client.get(f"/registry/household?house_no={demo['house_no']}",
                               cookies=cookies)
    masked = demo["id_no"][:6] + "********" + demo["id_no"][-4:]
    assert masked in r.text and demo["id_no"] not in r.text


def test_serve_refuses_the_wrong_kind_of_database(demo, tmp_path):
    from anju.registry.cli import main
    from click.testing import CliRunner
    runner = CliRunner()
    for args, words in ((["serve", str(demo["registry"])], "not a public database"),
                        (["serve", "--staff", str(demo["public"])], "not an anju registry"),
                        (["serve", str(tmp_path / "none.db")], "no such database")):
        result = runner.invoke(main, args)
        assert result.exit_code == 2 and words in result.output, result.output
