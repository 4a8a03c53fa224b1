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
from .i18n import t

bp = Blueprint("users_view", __name__)
NAV = [("users_view.index", "账号", "Accounts", "admin")]
ROLE_LABELS = {"surveyor": ("调查员", "surveyor"), "supervisor": ("主管", "supervisor"),
               "admin": ("管理员", "admin")}


@bp.route("/users")
@role_required("admin")
def index():
    """The accounts of this database."""
    return render_template("users/index.html", accounts=users.list_users(get_registry()),
                           roles=ROLE_LABELS)


def _done(message_zh: str, message_en: str, action):
    try:
        action()
    except StoreError as exc:
        flash(t("未保存：", "Not saved: ") + str(exc))
    else:
        flash(t(message_zh, message_en))
    return redirect(url_for("users_view.index"))


@bp.route("/users/add", methods=("POST",))
@role_required("admin")
def add():
    """Add an account."""
    name = request.form.get("name", "").strip()
    role = request.form.get("role", "")
    return _done(f"已添加账号 {name}", f"Added account {name}", lambda: users.add_user(
        get_registry(), name, request.form.get("password", ""), role))


@bp.route("/users/<name>/<action>", methods=("POST",))
@role_required("admin")
def change(name: str, action: str):
    """Set a password or a role, disable or enable an account; its sessions end."""
    reg = get_registry()
    own = name == g.user["name"]
    if action == "password":
        return _done(f"已为 {name} 设置新密码", f"New password for {name}",
                     lambda: users.set_password(reg, name, request.form.get("password", "")))
    if action == "role":
        role = request.form.get("role", "")
        if own and role != "admin":
            flash(t("不能取消自己的管理员角色", "You cannot take away your own admin role"))
            return redirect(url_for("users_view.index"))
        return _done(f"{name} 的角色已改为 {role}", f"{name} is now {role}",
                     lambda: users.set_role(reg, name, role))
    if action in ("disable", "enable"):
        if own:
            flash(t("不能停用自己的账号", "You cannot disable your own account"))
            return redirect(url_for("users_view.index"))
        disabled = action == "disable"
        return _done(f"已{'停用' if disabled else '启用'}账号 {name}",
                     f"{'Disabled' if disabled else 'Enabled'} {name}",
                     lambda: users.set_disabled(reg, name, disabled))
    abort(404)
