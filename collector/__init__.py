"""The anju web app: the surveyor's offline collector and the central office's review screens.

`create_app` builds one Flask app on one registry database. Each concern is a blueprint module
listed in BLUEPRINTS; a module may declare NAV = [(endpoint, zh, en, minimum role)] to appear
in the navigation bar.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import secrets
from pathlib import Path

from flask import Flask, g, redirect, url_for
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from . import hardening, i18n
from .db import close_registry

# Blueprint modules of the app, in navigation order. Add a module name to register it.
BLUEPRINTS = ("households", "forms", "dossier", "visits", "workflow", "attachments", "auth",
              "review", "progress", "care", "compensation", "completion", "selection", "legal",
              "devices",
              "settings_view", "backup_view", "sync", "users_view", "survey_view", "drafts",
              "screens", "fixtures")

csrf = CSRFProtect()
babel = Babel()


def create_app(database: str | os.PathLike | None = None,
               test_config: dict | None = None) -> Flask:
    """Build the web app on the registry at `database` (or test_config['DATABASE'])."""
    # The instance folder is named, not found: Flask's search cannot walk the `anju` namespace.
    app = Flask(__name__, instance_relative_config=True,
                instance_path=str(Path(__file__).resolve().parent / "instance"))
    app.config.from_mapping(
        DATABASE=str(database) if database else None,
        SECRET_KEY=None,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=12),  # a working day
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
        BUSY_TIMEOUT_MS=10_000,  # then a page says the database is busy (collector/hardening.py)
        BABEL_DEFAULT_LOCALE="zh",
        WTF_CSRF_TIME_LIMIT=None,  # a form may stay open all day on a laptop
    )
    if test_config:
        app.config.update(test_config)
    else:
        app.config.from_pyfile("config.py", silent=True)
    if not app.config["DATABASE"]:
        raise ValueError("create_app needs a database path")
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _secret_key(Path(app.config["DATABASE"]))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    i18n.init_app(app)
    app.teardown_appcontext(close_registry)
    app.config["NAV"] = []
    for name in BLUEPRINTS:
        module = importlib.import_module(f"{__name__}.{name}")
        app.register_blueprint(module.bp)
        app.config["NAV"].extend(getattr(module, "NAV", ()))
    hardening.init_app(app)  # after the blueprints: its checks run once the user is known

    from .auth import public

    @app.route("/")
    @public
    def index():
        """The first page a user is allowed to see (the login page for anonymous visitors)."""
        nav = app.config["NAV"]
        if g.get("user") is None or not nav:
            return redirect(url_for("auth.login"))
        return redirect(url_for(nav[0][0]))

    return app


def _secret_key(database: Path) -> str:
    """A per-database cookie-signing key kept beside it, readable by its owner only, so logins
    survive a restart of the app. (It signs the cookie; a session also needs its token in the
    database, so the key alone does not forge a login.)"""
    path = database.with_name(database.name + ".secret")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if os.name == "posix" and path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)  # a key written by an older anju with the default mode
        return path.read_text().strip()
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w") as out:
        out.write(key)
    return key
