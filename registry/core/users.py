"""Local user accounts: surveyors, supervisors and admins, with hashed passwords.

Also the rules around them that every login page shares (the web app and the staff site):
the password policy, server-side sessions (a random token in the cookie, its SHA-256 in
`login_session`; ending an account's sessions is deleting its rows) and the backoff after
failed logins (`login_failure`, per account and per address, kept in the database so that a
restart does not forget it).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import time

from anju.registry.core import atrest
from anju.registry.core.changes import now
from anju.registry.core.common_passwords import COMMON_PASSWORDS
from anju.registry.core.store import Registry, StoreError, transaction
from werkzeug.security import check_password_hash, generate_password_hash

ROLES = ("surveyor", "supervisor", "admin")
NAME_RE = re.compile(r"^[\w.\-\u3400-\u9fff]{1,40}$")
MIN_PASSWORD = 10
POLICY_MESSAGE = (f"密码至少 {MIN_PASSWORD} 个字符，且不能是常见密码或用户名 "
                  f"(a password needs at least {MIN_PASSWORD} characters and must not be a "
                  "common password or the user name)")
SESSION_HOURS = 12  # a working day
# Failed logins allowed before each further attempt waits, per account and per address (an
# office behind one address has several people), then 2, 4, 8 ... seconds, at most 15 minutes.
FREE_FAILURES = {"user": 5, "addr": 20}
MAX_WAIT = 15 * 60
FORGET_AFTER = 24 * 3600  # a failure a day old no longer counts

_DUMMY_HASH: list[str] = []


# -- password policy ---------------------------------------------------------------------------
def check_password(password: str, name: str = "") -> None:
    """Refuse a password that is short, common, the user name or one repeated character."""
    password = password or ""
    folded = password.strip().lower()
    if (len(password) < MIN_PASSWORD or folded in COMMON_PASSWORDS
            or (name and name.lower() in folded and len(folded) - len(name) < 4)
            or len(set(folded)) <= 2 or _is_run(folded)):
        raise StoreError(POLICY_MESSAGE)


def _is_run(text: str) -> bool:
    """Whether the text is a run like 0123456789, abcdefghij or 9876543210."""
    steps = {ord(b) - ord(a) for a, b in zip(text, text[1:])}
    return len(steps) == 1 and steps <= {1, -1}


# -- accounts ----------------------------------------------------------------------------------
def add_user(reg: Registry, name: str, password: str, role: str, *,
             policy: bool = True) -> None:
    """Create an account; refuse a bad name, a weak password, an unknown role or a duplicate.

    policy=False is for the synthetic demo only, whose password is printed for everyone.
    """
    if role not in ROLES:
        raise StoreError(f"role must be one of {', '.join(ROLES)}")
    if not NAME_RE.match(name or ""):
        raise StoreError("a user name is 1-40 letters, digits, '.', '-' or '_'")
    if policy:
        check_password(password, name)
    elif not password:
        raise StoreError("a password is needed")
    with transaction(reg.conn):
        if reg.conn.execute("SELECT 1 FROM user WHERE name = ?", (name,)).fetchone():
            raise StoreError(f"user {name} already exists")
        reg.conn.execute("INSERT INTO user (name, password_hash, role, created_at) "
                         "VALUES (?, ?, ?, ?)", (name, generate_password_hash(password), role,
                                                 now()))
    _keep_slot(reg, name, password)


def list_users(reg: Registry) -> list[dict]:
    """Every account with its role, whether it is disabled and its open sessions."""
    rows = reg.conn.execute(
        "SELECT u.name, u.role, u.disabled, u.created_at, (SELECT count(*) FROM login_session s "
        "WHERE s.user_name = u.name AND s.expires_at > ?) FROM user u ORDER BY u.name",
        (time.time(),)).fetchall()
    return [{"name": r[0], "role": r[1], "disabled": bool(r[2]), "created_at": r[3],
             "sessions": r[4]} for r in rows]


def _change_user(reg: Registry, name: str, sql: str, args: tuple) -> None:
    """Change one account and end its sessions, in one transaction."""
    with transaction(reg.conn):
        if reg.conn.execute(sql + " WHERE name = ?", (*args, name)).rowcount == 0:
            raise StoreError(f"no user {name}")
        reg.conn.execute("DELETE FROM login_session WHERE user_name = ?", (name,))


def set_password(reg: Registry, name: str, password: str) -> None:
    """Give an account a new password (policy checked); its sessions end at once."""
    check_password(password, name)
    _change_user(reg, name, "UPDATE user SET password_hash = ?",
                 (generate_password_hash(password),))
    _keep_slot(reg, name, password)  # the old password no longer unlocks the database


def set_role(reg: Registry, name: str, role: str) -> None:
    """Give an account another role; its sessions end at once."""
    if role not in ROLES:
        raise StoreError(f"role must be one of {', '.join(ROLES)}")
    _change_user(reg, name, "UPDATE user SET role = ?", (role,))


def set_disabled(reg: Registry, name: str, disabled: bool = True) -> None:
    """Disable (or enable again) an account; a disabled account's sessions end at once, and
    on an encrypted laptop its key slot goes (enabled again, it gets one at its next login)."""
    if disabled and _encrypted(reg) and atrest.users_with_slots(reg.path) == [name]:
        raise StoreError("不能停用最后一个能解锁本机数据库的账户；请先让另一账户登录一次 "
                         "(the last account that can unlock this encrypted database cannot be "
                         "disabled; let another account log in once first)")
    _change_user(reg, name, "UPDATE user SET disabled = ?", (1 if disabled else 0,))
    if disabled and _encrypted(reg):
        atrest.remove_slot(reg.path, name)


def _encrypted(reg: Registry) -> bool:
    """Whether the account's database is an encrypted laptop database (registry/core/atrest)."""
    path = getattr(reg, "path", None)
    return path is not None and atrest.is_encrypted(path)


def _keep_slot(reg: Registry, name: str, password: str) -> None:
    """On an encrypted database, give `name` a key slot opened by `password` (or a new one)."""
    if _encrypted(reg):
        try:
            atrest.set_slot(reg.path, name, password)
        except (atrest.AtRestError, OSError) as exc:
            raise StoreError(f"{reg.path}: 账户已保存，但密钥槽未写入 (the account is saved but "
                             f"its key slot was not written: {exc})") from None


def authenticate(reg: Registry, name: str, password: str) -> dict | None:
    """The user's row if the name and password match an enabled account, else None.

    A password hash is checked in every case, against a stand-in hash for an unknown or
    disabled name, so the answer takes as long whether the account exists or not.
    """
    row = reg.conn.execute("SELECT name, password_hash, role, disabled FROM user WHERE name = ?",
                           (name,)).fetchone()
    stored = row[1] if row else _dummy_hash()
    matches = check_password_hash(stored, password or "")
    if row and matches and not row[3]:
        return {"name": row[0], "role": row[2]}
    return None


def _dummy_hash() -> str:
    """A hash of a random password, made the way add_user makes them (so it costs the same)."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(generate_password_hash(secrets.token_hex(16)))
    return _DUMMY_HASH[0]


# -- sessions ----------------------------------------------------------------------------------
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(reg: Registry, name: str, site: str = "collector", *,
                  hours: float = SESSION_HOURS, at: float | None = None) -> str:
    """Open a session for `name` and return its token (for the cookie; never stored)."""
    at = time.time() if at is None else at
    token = secrets.token_urlsafe(32)
    with transaction(reg.conn):
        reg.conn.execute("DELETE FROM login_session WHERE expires_at <= ?", (at,))
        reg.conn.execute("INSERT INTO login_session (token_hash, user_name, site, created_at, "
                         "expires_at) VALUES (?, ?, ?, ?, ?)",
                         (_token_hash(token), name, site, at, at + hours * 3600))
    return token


def session_user(reg: Registry, token: str | None, site: str = "collector", *,
                 at: float | None = None) -> dict | None:
    """The enabled account of a live session token (its role as it is now), or None."""
    if not token or not isinstance(token, str):
        return None
    at = time.time() if at is None else at
    row = reg.conn.execute(
        "SELECT u.name, u.role FROM login_session s JOIN user u ON u.name = s.user_name "
        "WHERE s.token_hash = ? AND s.site = ? AND s.expires_at > ? AND u.disabled = 0",
        (_token_hash(token), site, at)).fetchone()
    return {"name": row[0], "role": row[1]} if row else None


def end_session(reg: Registry, token: str | None) -> None:
    """End one session (logout)."""
    if token and isinstance(token, str):
        reg.conn.execute("DELETE FROM login_session WHERE token_hash = ?", (_token_hash(token),))


def end_sessions(reg: Registry, name: str) -> int:
    """End every session of an account; the number ended."""
    return reg.conn.execute("DELETE FROM login_session WHERE user_name = ?", (name,)).rowcount


# -- backoff after failed logins ---------------------------------------------------------------
def _keys(name: str, address: str | None) -> list[str]:
    keys = [f"user:{name}"]
    if address:
        keys.append(f"addr:{address}")
    return keys


def login_wait(reg: Registry, name: str, address: str | None, *,
               at: float | None = None) -> int:
    """Seconds before this account or address may try a password again (0: now)."""
    at = time.time() if at is None else at
    wait = 0.0
    for key in _keys(name, address):
        row = reg.conn.execute("SELECT failures, last_at FROM login_failure WHERE key = ?",
                               (key,)).fetchone()
        if not row or at - row[1] > FORGET_AFTER:
            continue
        over = row[0] - FREE_FAILURES[key.split(":", 1)[0]]
        if over >= 0:
            wait = max(wait, row[1] + min(2 ** (over + 1), MAX_WAIT) - at)
    return max(0, int(wait + 0.999))


def record_failure(reg: Registry, name: str, address: str | None, *,
                   at: float | None = None) -> None:
    """Count a failed login against the account and the address."""
    at = time.time() if at is None else at
    with transaction(reg.conn):
        for key in _keys(name, address):
            reg.conn.execute(
                "INSERT INTO login_failure (key, failures, last_at) VALUES (?, 1, ?) "
                "ON CONFLICT (key) DO UPDATE SET failures = CASE WHEN ? - last_at > ? THEN 1 "
                "ELSE failures + 1 END, last_at = excluded.last_at", (key, at, at, FORGET_AFTER))


def clear_failures(reg: Registry, name: str) -> None:
    """Forget an account's failed logins after it logged in."""
    reg.conn.execute("DELETE FROM login_failure WHERE key = ?", (f"user:{name}",))


def login(reg: Registry, name: str, password: str, address: str | None, site: str = "collector",
          *, at: float | None = None) -> tuple[dict | None, str | None, int]:
    """One login attempt: (user, session token, 0) on success, (None, None, seconds to wait)
    when refused; a wrong password counts towards the backoff, an attempt while waiting is
    refused without looking at the password."""
    wait = login_wait(reg, name, address, at=at)
    if wait:
        return None, None, wait
    user = authenticate(reg, name, password)
    if user is None:
        record_failure(reg, name, address, at=at)
        return None, None, 0
    clear_failures(reg, name)
    if _encrypted(reg) and not atrest.has_slot(reg.path, user["name"]):
        # An account made before the encryption (or enabled again) can unlock from now on.
        with contextlib.suppress(StoreError):
            _keep_slot(reg, user["name"], password)
    return user, start_session(reg, user["name"], site, at=at), 0
