"""Every route declares who may open it, and the backup pages of the central are the admin's.

The issue: a surveyor pointed the central's backup at a new folder and got copies holding the
central signing key, the project key, every password hash and every resident ID.
"""

from anju.collector.auth import ROLES
from anju.registry.core.users import add_user

from tests.collector_helpers import csrf, login, make_app

DECLARED = {"public", *ROLES, "surveyor/admin", "surveyor/supervisor"}


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        yield rule, app.view_functions[rule.endpoint]


def _undeclared(app):
    return [str(rule) for rule, view in _routes(app)
            if getattr(view, "required_role", None) not in DECLARED]


def test_every_route_declares_its_role(registry):
    app = make_app(registry)
    assert not _undeclared(app), f"routes without a declared role: {_undeclared(app)}"
    app.add_url_rule("/slipped-through", "slipped", lambda: "data")  # a route someone adds
    assert _undeclared(app) == ["/slipped-through"]


def test_every_non_public_route_sends_anonymous_visitors_to_the_login(registry):
    app = make_app(registry)
    client = app.test_client()
    token = csrf(client)
    checked = 0
    for rule, view in _routes(app):
        if view.required_role == "public":
            continue
        url = rule.build({name: "x" for name in rule.arguments}, append_unknown=False)[1]
        method = "GET" if "GET" in rule.methods else "POST"
        response = client.open(url, method=method, data={"csrf_token": token})
        assert response.status_code == 302, (url, response.status_code)
        assert response.headers["Location"].startswith("/login"), url
        checked += 1
    assert checked > 30


def test_central_backup_pages_are_for_admins_only(registry, tmp_path):
    app = make_app(registry, BACKUP_SCHEDULER=False)
    add_user(registry, "root", "root-long-password", "admin")
    for name in ("li", "boss"):
        client = app.test_client()
        login(client, name)
        assert client.get("/backup").status_code == 403
        token = csrf(client, "/households")
        r = client.post("/backup/settings", data={"folder": str(tmp_path), "every": "30",
                                                  "keep": "5", "csrf_token": token})
        assert r.status_code == 403 and registry.meta("backup_dir") is None
        assert client.post("/backup/now", data={"csrf_token": token}).status_code == 403
    own = {registry.path.name + suffix for suffix in ("", "-wal", "-shm", ".secret")}
    assert {p.name for p in tmp_path.iterdir()} <= own  # no backup was written
    admin = app.test_client()
    login(admin, "root", "root-long-password")
    assert admin.get("/backup").status_code == 200


def test_laptop_backup_pages_stay_the_surveyors(tmp_path):
    from anju.registry.core.store import Registry
    reg = Registry.create(tmp_path / "laptop.db", project="p", role="laptop", device_name="l1")
    try:
        client = make_app(reg, BACKUP_SCHEDULER=False).test_client()
        login(client)
        assert client.get("/backup").status_code == 200
    finally:
        reg.close()
