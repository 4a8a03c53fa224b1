"""Local user accounts: surveyors, supervisors and admins, with hashed passwords."""

from __future__ import annotations

import re

from anju.registry.core.changes import now
from anju.registry.core.store import Registry, StoreError, transaction
from werkzeug.security import check_password_hash, generate_password_hash

ROLES = ("surveyor", "supervisor", "admin")
NAME_RE = re.compile(r"^[\w.\-\u3400-\u9fff]{1,40}$")
MIN_PASSWORD = 8


def add_user(reg: Registry, name: str, password: str, role: str) -> None:
    """Create an account; refuse a bad name, a short password, an unknown role or a duplicate."""
    if role not in ROLES:
        raise StoreError(f"role must be one of {', '.join(ROLES)}")
    if not NAME_RE.match(name or ""):
        raise StoreError("a user name is 1-40 letters, digits, '.', '-' or '_'")
    if len(password or "") < MIN_PASSWORD:
        raise StoreError(f"a password needs at least {MIN_PASSWORD} characters")
    with transaction(reg.conn):
        if reg.conn.execute("SELECT 1 FROM user WHERE name = ?", (name,)).fetchone():
            raise StoreError(f"user {name} already exists")
        reg.conn.execute("INSERT INTO user (name, password_hash, role, created_at) "
                         "VALUES (?, ?, ?, ?)", (name, generate_password_hash(password), role,
                                                 now()))


def authenticate(reg: Registry, name: str, password: str) -> dict | None:
    """The user's row if the name and password match an enabled account, else None."""
    row = reg.conn.execute("SELECT name, password_hash, role FROM user WHERE name = ? AND "
                           "disabled = 0", (name,)).fetchone()
    if row and check_password_hash(row[1], password or ""):
        return {"name": row[0], "role": row[2]}
    return None
