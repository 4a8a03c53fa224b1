"""The registry of the current request, opened once per request and closed on teardown."""

from __future__ import annotations

from anju.registry.core.store import Registry
from flask import abort, current_app, g


def get_registry() -> Registry:
    """The open registry for this request."""
    if "registry" not in g:
        g.registry = Registry.open(current_app.config["DATABASE"])
    return g.registry


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
