"""Small things every page needs: the favicon (browsers ask for /favicon.ico on every page)."""

from __future__ import annotations

from flask import Blueprint, current_app, send_from_directory

from .auth import public

bp = Blueprint("screens", __name__)


@bp.route("/favicon.ico")
@public
def favicon():
    """The app's icon (an SVG; pages also name it with <link rel=icon>)."""
    response = send_from_directory(current_app.static_folder, "favicon.svg",
                                   mimetype="image/svg+xml", max_age=86400)
    return response
