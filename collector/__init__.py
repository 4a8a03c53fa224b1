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

from . import i18n
from .db import close_registry

# Blueprint modules of the app, in navigation order. Add a module name to register it.
BLUEPRINTS = ("households", "forms", "dossier", "visits", "workflow", "attachments", "auth",
              "review", "progress", "compensation", "completion", "devices", "settings_view",
              "backup_view", "sync")

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

    @app.route("/")
    def index():
        """The first page a user is allowed to see (the login page for anonymous visitors)."""
        nav = app.config["NAV"]
        if g.get("user") is None or not nav:
            return redirect(url_for("auth.login"))
        return redirect(url_for(nav[0][0]))

    return app


def _secret_key(database: Path) -> str:
    """A per-database session key kept beside it, so logins survive a restart of the app."""
    path = database.with_name(database.name + ".secret")
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_hex(32)
        path.write_text(key)
        return key
