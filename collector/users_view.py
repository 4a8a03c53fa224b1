"""The admin's accounts page: add an account, set a password or a role, disable or enable one.

Every change ends the account's sessions at once (registry.core.users); an admin cannot disable
their own account or take their own admin role away, so the page never locks everyone out.
"""

from __future__ import annotations

from anju.registry.core import users
from anju.registry.core.store import StoreError
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from .auth import role_required
from .db import get_registry
from .i18n import N_, _

bp = Blueprint("users_view", __name__)
NAV = [("users_view.index", N_("账号"), "Accounts", "admin")]
ROLE_LABELS = {"surveyor": (N_("调查员"), "surveyor"), "supervisor": (N_("主管"), "supervisor"),
               "admin": (N_("管理员"), "admin")}


@bp.route("/users")
@role_required("admin")
def index():
    """The accounts of this database."""
    return render_template("users/index.html", accounts=users.list_users(get_registry()),
                           roles=ROLE_LABELS)


def _done(message: str, action):
    try:
        action()
    except StoreError as exc:
        flash(_("未保存：") + str(exc))
    else:
        flash(message)
    return redirect(url_for("users_view.index"))


@bp.route("/users/add", methods=("POST",))
@role_required("admin")
def add():
    """Add an account."""
    name = request.form.get("name", "").strip()
    role = request.form.get("role", "")
    return _done(_("已添加账号 %(name)s", name=name), lambda: users.add_user(
        get_registry(), name, request.form.get("password", ""), role))


@bp.route("/users/<name>/<action>", methods=("POST",))
@role_required("admin")
def change(name: str, action: str):
    """Set a password or a role, disable or enable an account; its sessions end."""
    reg = get_registry()
    own = name == g.user["name"]
    if action == "password":
        return _done(_("已为 %(name)s 设置新密码", name=name),
                     lambda: users.set_password(reg, name, request.form.get("password", "")))
    if action == "role":
        role = request.form.get("role", "")
        if own and role != "admin":
            flash(_("不能取消自己的管理员角色"))
            return redirect(url_for("users_view.index"))
        return _done(_("%(name)s 的角色已改为 %(role)s", name=name, role=role),
                     lambda: users.set_role(reg, name, role))
    if action in ("disable", "enable"):
        if own:
            flash(_("不能停用自己的账号"))
            return redirect(url_for("users_view.index"))
        disabled = action == "disable"
        return _done(_("已停用账号 %(name)s", name=name) if disabled
                     else _("已启用账号 %(name)s", name=name),
                     lambda: users.set_disabled(reg, name, disabled))
    abort(404)
