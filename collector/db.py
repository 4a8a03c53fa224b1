"""The registry of the current request, opened once per request and closed on teardown."""

from __future__ import annotations

from anju.registry.core import atrest
from anju.registry.core.store import Registry
from flask import abort, current_app, g


def get_registry() -> Registry:
    """The open registry for this request."""
    if "registry" not in g:
        reg = Registry.open(current_app.config["DATABASE"])
        g.registry = reg
        # A page waits at most this long for a write lock (a long merge holds it), then says so.
        reg.conn.execute(f"PRAGMA busy_timeout = {int(current_app.config['BUSY_TIMEOUT_MS'])}")
        for name, value in current_app.config.get("SQLITE_PRAGMAS", {}).items():
            if not str(name).isidentifier():
                continue
            reg.conn.execute(f"PRAGMA {name} = {int(value)}")  # operator settings, numbers only
    return g.registry


def database_locked() -> bool:
    """Whether the app's database is encrypted and not unlocked yet (it opens at a login)."""
    path = current_app.config["DATABASE"]
    return atrest.is_encrypted(path) and not atrest.is_unlocked(path)


def live_household(reg: Registry, household_id: str) -> dict:
    """The household `household_id`, or a 404 if it does not exist or was deleted."""
    household = reg.get("household", household_id)
    if household is None or household.get("deleted"):
        abort(404)
    return household


def close_registry(exc: BaseException | None = None) -> None:
    """Close the request's registry, if one was opened."""
    reg = g.pop("registry", None)
    if reg is not None:
        reg.close()
