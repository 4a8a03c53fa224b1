"""The selection pages through the real Flask app: the inventory import, the order, the session,
and two browsers choosing one flat at once against a real threaded HTTP server."""

import http.cookiejar
import re
import threading
import urllib.parse
import urllib.request

from anju.registry.completion import flats as fl
from anju.registry.completion import selection as sel
from anju.registry.core.changes import now
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from tests.collector_helpers import PASSWORD, csrf, login, make_app
from tests.test_flats import inventory, swap_households, xlsx


def app_with_admin(registry):
    app = make_app(registry)
    registry.conn.execute("INSERT INTO user (name, password_hash, role, created_at) VALUES "
                          "(?, ?, ?, ?)", ("root", generate_password_hash(
                              PASSWORD, method="pbkdf2:sha256:1000"), "admin", now()))
    return app


def test_an_admin_imports_the_list_fixes_an_order_and_a_clerk_records_choices(registry):
    hids = swap_households(registry, 2)
    client = app_with_admin(registry).test_client()
    login(client, "root")
    token = csrf(client, "/selection/flats")
    good = xlsx([("3", "2", 1, "101", 91.5, "F90", 6500), ("3", "2", 1, "102", 91.5, "F90", 6500)])
    bad = xlsx([("3", "2", 1, "101", "abc", "F90", 6500)])
    r = client.post("/selection/flats/import", data={"csrf_token": token, "file": (
        __import__("io").BytesIO(bad), "房源.xlsx")}, follow_redirects=True)
    assert "第 2 行 E 列:建筑面积应为数字" in r.text and fl.all_flats(registry) == []
    r = client.post("/selection/flats/import", data={"csrf_token": token, "file": (
        __import__("io").BytesIO(good), "房源.xlsx")}, follow_redirects=True)
    assert "新增 2 套" in r.text and "3号楼2单元101" in r.text
    r = client.post("/selection/orders", data={"csrf_token": token, "rule": "lottery",
                                               "seed": "12", "witness": ""},
                    follow_redirects=True)
    assert "摇号种子至少 6 个字符" in r.text and sel.orders(registry) == []
    r = client.post("/selection/orders", data={"csrf_token": token, "rule": "lottery",
                                               "seed": "03 17 22 41", "witness": "公证处"},
                    follow_redirects=True)
    assert "已确定选房顺序" in r.text and "当前选房" in r.text
    [order] = sel.orders(registry)
    first, second = order["households"]
    flats = fl.all_flats(registry)
    # A supervisor runs the session.
    clerk = client.application.test_client()
    login(clerk, "boss")
    page = clerk.get(f"/selection/orders/{order['id']}").text
    assert "第1号" in page and flats[0]["label"] in page
    token = csrf(clerk, f"/selection/orders/{order['id']}")
    url = f"/selection/orders/{order['id']}/choose"
    r = clerk.post(url, data={"csrf_token": token, "household_id": second,
                              "flat_id": flats[0]["id"]}, follow_redirects=True)
    assert "现在轮到第 1 号" in r.text and sel.choices(registry) == {}
    r = clerk.post(url, data={"csrf_token": token, "household_id": first,
                              "flat_id": flats[0]["id"]}, follow_redirects=True)
    assert "已登记选房" in r.text and "差价" in r.text
    r = clerk.post(url, data={"csrf_token": token, "household_id": second,
                              "flat_id": flats[0]["id"]}, follow_redirects=True)
    assert "已被选定" in r.text
    assert set(sel.choices(registry)) == {first} and set(hids) == {first, second}
    # The household page shows its place, the flat and the settlement by that flat.
    box = clerk.get(f"/households/{first}").text
    assert 'id="selection"' in box and flats[0]["label"] in box and "按所选房源结算" in box
    assert "尚未选房" in clerk.get(f"/households/{second}").text
    # Only an admin fixes orders and releases choices.
    assert clerk.post("/selection/orders", data={"csrf_token": token, "rule": "signing"}
                      ).status_code == 403


def test_a_laptop_does_no_selection(tmp_path):
    from anju.registry.core.store import Registry
    laptop = Registry.create(tmp_path / "l.db", project="p", role="field", device_name="lap")
    try:
        client = make_app(laptop).test_client()
        login(client, "boss")
        r = client.get("/selection")
        assert r.status_code == 403 and "选房只在中心库进行" in r.text
    finally:
        laptop.close()


class Browser:
    """A user agent of its own: cookies, CSRF token, login, posts (urllib, no test client)."""

    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path):
        with self.opener.open(self.base + path) as r:
            return r.read().decode()

    def token(self, path):
        return re.search(r'name="csrf_token" value="([^"]+)"', self.get(path)).group(1)

    def post(self, path, data):
        body = urllib.parse.urlencode(data).encode()
        with self.opener.open(self.base + path, body) as r:
            return r.read().decode()

    def login(self, name):
        self.post("/login", {"name": name, "password": PASSWORD,
                             "csrf_token": self.token("/login")})


def test_two_browsers_choosing_one_flat_at_once_one_wins(registry):
    inventory(registry, 1)
    swap_households(registry, 2)
    sel.fix_order(registry, rule="signing", by="boss")
    [order] = sel.orders(registry)
    [flat] = fl.all_flats(registry)
    app = make_app(registry)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        browsers = [Browser(base), Browser(base)]
        tokens = []
        for b in browsers:
            b.login("boss")
            tokens.append(b.token(f"/selection/orders/{order['id']}"))
        barrier = threading.Barrier(2)
        pages = [None, None]

        def go(i):
            barrier.wait()
            pages[i] = browsers[i].post(f"/selection/orders/{order['id']}/choose", {
                "csrf_token": tokens[i], "household_id": order["households"][i],
                "flat_id": flat["id"], "out_of_turn": "两台电脑同时操作"})

        threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.shutdown()
    assert sorted("已登记选房" in p for p in pages) == [False, True]
    assert sum("已被选定" in p for p in pages) == 1
    assert registry.conn.execute("SELECT count(*) FROM flat_choice WHERE deleted IS NULL"
                                 ).fetchone()[0] == 1
