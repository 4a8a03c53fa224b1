"""Encryption at rest: a laptop database (and its backups) encrypted with SQLCipher, unlocked by a
user's password through one key slot per user.

A stolen laptop or USB stick must give away nothing. The database file is encrypted page by page
with SQLCipher (AES-256, an HMAC per page) under a random 256-bit data key (the DEK). The DEK is
never on disk in plain text: a small side file beside the database, `DB.keys` (mode 0600), holds
one slot per user, each the DEK wrapped with AES-GCM under a key that scrypt derives from that
user's password. Adding or removing a user or changing a password rewrites one slot; the database
itself is never re-encrypted. The slots cannot live inside the database: they are what opens it.

An unlocked DEK is kept in this process's memory only (`_KEYS`, by key id), so the web app opens
the database at the first login after it starts and every later request finds the key here; a CLI
command asks for a password (or reads it from stdin) and forgets the key when it ends.

Every SQLite connection of anju is opened by `registry.core.store.connect`, which asks
`key_for(path)` whether the file is encrypted and with which key. An encrypted file is opened with
the sqlcipher3 driver; its errors are re-raised as the standard library's sqlite3 errors of the
same name, so that every `except sqlite3.Error` in anju holds for encrypted files too.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

FORMAT = "anju-keys/1"
SUFFIX = ".keys"
SQLITE_HEADER = b"SQLite format 3\x00"
# scrypt as OWASP advises (N=2^17, r=8, p=1: 128 MiB, a few tenths of a second per unlock).
# Tests alone lower it (tests/conftest.py); a slot records the parameters it was made with.
KDF = {"n": 2 ** 17, "r": 8, "p": 1}
_MIN_N = 2 ** 14  # a slot claiming less work than this is refused (a forged, cheap slot)

_KEYS: dict[str, bytes] = {}  # key id -> DEK, for this process only
_LOCK = threading.Lock()


class AtRestError(Exception):
    """Base of the errors below; the registry turns them into StoreError (message for people)."""


class Locked(AtRestError):
    """An encrypted database whose key this process does not hold yet."""


class WrongPassword(AtRestError):
    """No slot of the database opens with the password given."""


class KeyFileError(AtRestError):
    """A key file that is missing, damaged or does not belong to its database."""


LOCKED_TEXT = ("数据库已加密，尚未解锁：请先登录或输入密码 "
               "(the database is encrypted and locked; log in or give a password)")
WRONG_TEXT = "密码错误，无法解锁数据库 (wrong password: the database stays locked)"


# -- files ------------------------------------------------------------------------------------
def keys_path(db: str | os.PathLike) -> Path:
    """The side file holding the key slots of database `db`."""
    db = Path(db)
    return db.with_name(db.name + SUFFIX)


def _pending_path(db: str | os.PathLike) -> Path:
    return keys_path(db).with_name(keys_path(db).name + ".new")


def has_plain_header(db: str | os.PathLike) -> bool:
    """Whether the file starts like a plain SQLite database (an empty file counts as plain)."""
    try:
        with open(db, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return True
    return head == SQLITE_HEADER or head == b""


def is_encrypted(db: str | os.PathLike) -> bool:
    """Whether `db` is an encrypted anju database: it has a key file. (Without its key file an
    encrypted file cannot be told from a damaged one: both read as a corrupt database.)"""
    return keys_path(db).is_file() or _pending_path(db).is_file()


def read_slots(db: str | os.PathLike) -> dict:
    """The key file of `db` (format, key id, slots), or KeyFileError saying what is wrong."""
    path = keys_path(db)
    if not path.is_file() and _pending_path(db).is_file():
        path = _pending_path(db)  # an encryption was interrupted after the database was replaced
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeyFileError(f"{db}: 数据库已加密，但缺少密钥文件 {keys_path(db).name}；请从备份恢复 "
                           f"(encrypted, but its key file {keys_path(db).name} is missing; "
                           "restore it from a backup)") from None
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"{path}: 密钥文件已损坏 (the key file is damaged: {exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(
            data.get("slots"), list) or not isinstance(data.get("key_id"), str) or not all(
            isinstance(s, dict) and isinstance(s.get("user"), str) for s in data["slots"]):
        raise KeyFileError(f"{path}: 不是安居密钥文件 (not an anju key file)")
    return data


def write_slots(db: str | os.PathLike, data: dict, *, pending: bool = False) -> Path:
    """Write the key file of `db` whole (0600, fsync, rename), so a crash leaves old or new."""
    target = _pending_path(db) if pending else keys_path(db)
    part = target.with_name(target.name + ".part")
    with contextlib.suppress(FileNotFoundError):
        part.unlink()
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(part, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
    return target


def copy_slots(src_db: str | os.PathLike, dst_db: str | os.PathLike) -> Path:
    """Copy the key file of one database beside another (a backup, a restore)."""
    return write_slots(dst_db, read_slots(src_db))


def remove_slots_file(db: str | os.PathLike) -> None:
    for path in (keys_path(db), _pending_path(db)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# -- keys and slots ----------------------------------------------------------------------------
def key_id_of(dek: bytes) -> str:
    """A public name for a DEK (it says which key, not what the key is)."""
    return hashlib.sha256(b"anju-dek-id\x00" + dek).hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode("utf-8"))


def _aad(key_id: str, user: str) -> bytes:
    # A slot is bound to its key and its user: moved to another user's name it does not open.
    return f"anju-slot|{key_id}|{user}".encode()


def make_slot(dek: bytes, user: str, password: str) -> dict:
    """One user's slot: the DEK wrapped under a key derived from the user's password."""
    salt, nonce = os.urandom(16), os.urandom(12)
    params = dict(KDF)
    kek = _derive(password, salt, **params)
    wrapped = AESGCM(kek).encrypt(nonce, dek, _aad(key_id_of(dek), user))
    return {"user": user, "kdf": "scrypt", **params, "salt": _b64(salt), "nonce": _b64(nonce),
            "wrapped": _b64(wrapped)}


def open_slot(slot: dict, key_id: str, password: str) -> bytes | None:
    """The DEK if `password` opens this slot, else None."""
    try:
        n, r, p = int(slot["n"]), int(slot["r"]), int(slot["p"])
        if slot.get("kdf") != "scrypt" or n < min(_MIN_N, KDF["n"]) or not (
                1 <= r <= 32 and 1 <= p <= 16 and n <= 2 ** 20):
            return None
        kek = _derive(password, _unb64(slot["salt"]), n, r, p)
        dek = AESGCM(kek).decrypt(_unb64(slot["nonce"]), _unb64(slot["wrapped"]),
                                  _aad(key_id, str(slot["user"])))
    except (KeyError, TypeError, ValueError, InvalidTag):
        return None
    return dek if key_id_of(dek) == key_id else None


def users_with_slots(db: str | os.PathLike) -> list[str]:
    """The users whose password can unlock `db`."""
    return [str(s.get("user")) for s in read_slots(db)["slots"]]


def unlock(db: str | os.PathLike, password: str, user: str | None = None) -> str:
    """Open `db`'s key with a user's password (any user's when `user` is None) and keep it in
    this process's memory; return the user whose slot opened. WrongPassword otherwise."""
    data = read_slots(db)
    tried = 0
    for slot in data["slots"]:
        if user is not None and slot.get("user") != user:
            continue
        tried += 1
        dek = open_slot(slot, data["key_id"], password or "")
        if dek is not None:
            remember(dek)
            _FAILED.pop(_failure_key(db), None)
            return str(slot["user"])
    if not tried:  # an unknown name costs one derivation too: no telling names apart by time
        _derive(password or "", b"\x00" * 16, **KDF)
    _note_failure(db)
    raise WrongPassword(WRONG_TEXT)


# Failed unlocks, per database, in this process's memory (the database and its own backoff
# table are what is locked): after FREE_UNLOCKS each try waits 2, 4, 8 ... s, at most 15 min.
FREE_UNLOCKS = 5
_FAILED: dict[str, tuple[int, float]] = {}


def _failure_key(db: str | os.PathLike) -> str:
    return str(Path(db).resolve())


def _note_failure(db: str | os.PathLike, at: float | None = None) -> None:
    count, _ = _FAILED.get(_failure_key(db), (0, 0.0))
    _FAILED[_failure_key(db)] = (count + 1, time.time() if at is None else at)


def unlock_wait(db: str | os.PathLike, at: float | None = None) -> int:
    """Seconds to wait before the next unlock try of `db` is even looked at (0: go ahead)."""
    count, last = _FAILED.get(_failure_key(db), (0, 0.0))
    if count < FREE_UNLOCKS:
        return 0
    wait = min(2 ** (count - FREE_UNLOCKS + 1), 15 * 60)
    left = last + wait - (time.time() if at is None else at)
    return max(0, int(left + 0.999))


def remember(dek: bytes) -> str:
    """Keep a DEK for this process; return its key id."""
    kid = key_id_of(dek)
    with _LOCK:
        _KEYS[kid] = dek
    return kid


def forget_all() -> None:
    """Drop every key this process holds (tests; the end of a command)."""
    with _LOCK:
        _KEYS.clear()


def is_unlocked(db: str | os.PathLike) -> bool:
    try:
        return key_for(db) is not None
    except AtRestError:
        return False


def key_for(db: str | os.PathLike) -> bytes | None:
    """None for a plain database; the DEK of an encrypted one; Locked if this process lacks it."""
    if not is_encrypted(db):
        return None
    kid = read_slots(db)["key_id"]
    dek = _KEYS.get(kid)
    if dek is None:
        raise Locked(LOCKED_TEXT)
    return dek


def _dek(db: str | os.PathLike) -> tuple[dict, bytes]:
    data = read_slots(db)
    dek = _KEYS.get(data["key_id"])
    if dek is None:
        raise Locked(LOCKED_TEXT)
    return data, dek


def set_slot(db: str | os.PathLike, user: str, password: str) -> None:
    """Give `user` a slot (or a new one, for a new password); the database must be unlocked."""
    data, dek = _dek(db)
    data["slots"] = [s for s in data["slots"] if s.get("user") != user]
    data["slots"].append(make_slot(dek, user, password))
    write_slots(db, data)


def has_slot(db: str | os.PathLike, user: str) -> bool:
    return user in users_with_slots(db)


def remove_slot(db: str | os.PathLike, user: str) -> bool:
    """Take `user`'s slot away (that password no longer unlocks); False if it had none. The last
    slot is never removed: without one nobody could open the database again."""
    data = read_slots(db)
    kept = [s for s in data["slots"] if s.get("user") != user]
    if len(kept) == len(data["slots"]):
        return False
    if not kept:
        raise KeyFileError("不能删除最后一个能解锁数据库的账户 (the last account that can "
                           "unlock the database cannot lose its key slot)")
    data["slots"] = kept
    write_slots(db, data)
    return True


def new_key_file(dek: bytes, user: str, password: str) -> dict:
    """The key file of a newly encrypted database with one slot."""
    return {"format": FORMAT, "key_id": key_id_of(dek), "cipher": "sqlcipher4",
            "slots": [make_slot(dek, user, password)]}


# -- connections -------------------------------------------------------------------------------
def _driver():
    from sqlcipher3 import dbapi2
    return dbapi2


_QUIETED: list[bool] = []


def open_encrypted(path: str, dek: bytes, *, uri: bool = False, timeout: float = 5.0,
                   isolation_level: str | None = "", check_same_thread: bool = True):
    """A sqlcipher3 connection to `path` keyed with `dek` (a raw key: no second KDF), whose
    errors are the standard library's sqlite3 errors. The key is checked at once."""
    d = _driver()
    conn = d.connect(path, uri=uri, timeout=timeout, isolation_level=isolation_level,
                     check_same_thread=check_same_thread, factory=_connection_class())
    if not _QUIETED:  # SQLCipher logs a wrong key to stderr: one line is ours to print
        conn.execute("PRAGMA cipher_log_level = NONE")
        _QUIETED.append(True)
    conn.execute(f"PRAGMA key = \"x'{dek.hex()}'\"")
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return conn


def _translate(exc: BaseException) -> BaseException:
    cls = getattr(sqlite3, type(exc).__name__, sqlite3.DatabaseError)
    if not (isinstance(cls, type) and issubclass(cls, sqlite3.Error)):
        cls = sqlite3.DatabaseError
    new = cls(*exc.args)
    for attr in ("sqlite_errorcode", "sqlite_errorname"):
        if hasattr(exc, attr):
            setattr(new, attr, getattr(exc, attr))
    return new


_CLASSES: list = []


def _connection_class():
    """sqlcipher3 Connection and Cursor classes that raise sqlite3's errors."""
    if _CLASSES:
        return _CLASSES[0]
    d = _driver()

    def guard(method):
        def wrapped(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except d.Error as exc:
                raise _translate(exc) from None
        wrapped.__name__ = method.__name__
        return wrapped

    class Cursor(d.Cursor):
        execute = guard(d.Cursor.execute)
        executemany = guard(d.Cursor.executemany)
        executescript = guard(d.Cursor.executescript)
        fetchone = guard(d.Cursor.fetchone)
        fetchmany = guard(d.Cursor.fetchmany)
        fetchall = guard(d.Cursor.fetchall)
        __next__ = guard(d.Cursor.__next__)

    class Connection(d.Connection):
        def cursor(self, factory=Cursor):
            return super().cursor(factory)

        @guard
        def execute(self, sql, parameters=()):
            return self.cursor().execute(sql, parameters)

        @guard
        def executemany(self, sql, parameters):
            return self.cursor().executemany(sql, parameters)

        @guard
        def executescript(self, script):
            return self.cursor().executescript(script)

        commit = guard(d.Connection.commit)
        rollback = guard(d.Connection.rollback)
        backup = guard(d.Connection.backup)

    _CLASSES.append(Connection)
    return Connection


# -- the central office's backup key -------------------------------------------------------------
# The central registry stays plain on the office's server, but its backups leave it (a USB stick,
# a shelf). They are encrypted to the office's backup key pair: the server holds only the public
# key (meta `backup_public_key`), so it backs up unattended, and reading a backup needs the
# private key file the central admin keeps off the server, protected by a passphrase.
def new_backup_key(passphrase: str) -> tuple[bytes, str]:
    """A new backup key pair: (the private key as passphrase-encrypted PEM, the public key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    private = X25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(passphrase.encode()))
    public = private.public_key().public_bytes(serialization.Encoding.Raw,
                                               serialization.PublicFormat.Raw)
    return pem, _b64(public)


def backup_key_fingerprint(public_b64: str) -> str:
    return hashlib.sha256(_unb64(public_b64)).hexdigest()[:16]


def _backup_kek(shared: bytes, key_id: str) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"anju-backup-slot|{key_id}".encode()).derive(shared)


def make_public_slot(dek: bytes, public_b64: str) -> dict:
    """A slot that the holder of the backup private key opens (X25519, HKDF, AES-GCM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )
    ephemeral = X25519PrivateKey.generate()
    kid = key_id_of(dek)
    kek = _backup_kek(ephemeral.exchange(X25519PublicKey.from_public_bytes(_unb64(public_b64))),
                      kid)
    nonce = os.urandom(12)
    user = f"backup-key:{backup_key_fingerprint(public_b64)}"
    epk = ephemeral.public_key().public_bytes(serialization.Encoding.Raw,
                                              serialization.PublicFormat.Raw)
    return {"user": user, "kdf": "x25519", "epk": _b64(epk), "nonce": _b64(nonce),
            "wrapped": _b64(AESGCM(kek).encrypt(nonce, dek, _aad(kid, user)))}


def unlock_with_backup_key(db: str | os.PathLike, pem: bytes, passphrase: str) -> str:
    """Open an encrypted central backup with the backup private key; WrongPassword if the
    passphrase or the key does not fit."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
    try:
        private = serialization.load_pem_private_key(pem, passphrase.encode())
    except (ValueError, TypeError):
        raise WrongPassword("备份密钥的口令错误，或不是备份密钥文件 (wrong passphrase, or not a "
                            "backup key file)") from None
    data = read_slots(db)
    for slot in data["slots"]:
        if slot.get("kdf") != "x25519":
            continue
        try:
            shared = private.exchange(X25519PublicKey.from_public_bytes(_unb64(slot["epk"])))
            dek = AESGCM(_backup_kek(shared, data["key_id"])).decrypt(
                _unb64(slot["nonce"]), _unb64(slot["wrapped"]),
                _aad(data["key_id"], str(slot["user"])))
        except (KeyError, TypeError, ValueError, InvalidTag, AttributeError):
            continue
        if key_id_of(dek) == data["key_id"]:
            remember(dek)
            return str(slot["user"])
    raise WrongPassword("这个备份不是用此备份密钥加密的 (this backup was not encrypted to this "
                        "backup key)")


def export_copy(src: str | os.PathLike, dst: str | os.PathLike, *, src_key: bytes | None,
                dst_key: bytes | None) -> None:
    """Copy a whole database into a new file with another key (None: plain), by
    sqlcipher_export, keeping its user_version; the copy is checked before this returns."""
    d = _driver()
    dst = Path(dst)
    if dst.exists():
        raise KeyFileError(f"{dst}: exists already")
    if src_key is None:
        conn = d.connect(str(src), isolation_level=None, timeout=30)
    else:
        conn = open_encrypted(str(src), src_key, isolation_level=None, timeout=30)
    try:
        conn.execute("BEGIN")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute("ATTACH DATABASE ? AS copy KEY ?",
                     (str(dst), f"x'{dst_key.hex()}'" if dst_key else ""))
        conn.execute("SELECT sqlcipher_export('copy')")
        conn.execute(f"PRAGMA copy.user_version = {int(version)}")
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE copy")
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise KeyFileError(f"{src}: integrity check failed")
    except d.Error as exc:
        with contextlib.suppress(FileNotFoundError):
            dst.unlink()
        raise _translate(exc) from None
    finally:
        conn.close()


# -- turning a plain database into an encrypted one --------------------------------------------
def encrypt_file(db: str | os.PathLike, user: str, password: str) -> str:
    """Encrypt the plain database `db` in place, without loss; return the new key id.

    The plain content is exported into a new encrypted file beside it (sqlcipher_export), every
    table's row count is compared, then the key file is written (as `.keys.new`), the encrypted
    file takes the database's name and the key file its own. Whatever step a crash interrupts,
    the database opens afterwards: plain as before, or encrypted with its key file. Nobody else
    may have the database open (stop `anju collect` first).
    """
    db = Path(db)
    if is_encrypted(db):
        raise KeyFileError(f"{db}: 已经加密 (already encrypted)")
    dek = os.urandom(32)
    d = _driver()
    tmp = db.with_name(db.name + ".encrypting")
    for leftover in (tmp, Path(f"{tmp}-journal")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
    plain = d.connect(str(db), isolation_level=None, timeout=30)
    try:
        if plain.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
            plain.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        plain.execute("BEGIN IMMEDIATE")  # nobody writes while we copy
        version = plain.execute("PRAGMA user_version").fetchone()[0]
        tables = [r[0] for r in plain.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND sql NOT LIKE 'CREATE VIRTUAL%'")]
        counts = {t: plain.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0] for t in tables}
        plain.execute("ATTACH DATABASE ? AS encrypted KEY ?", (str(tmp), f"x'{dek.hex()}'"))
        plain.execute("SELECT sqlcipher_export('encrypted')")
        plain.execute(f"PRAGMA encrypted.user_version = {int(version)}")
        plain.execute("COMMIT")
        plain.execute("DETACH DATABASE encrypted")
    except d.Error as exc:
        with contextlib.suppress(d.Error):
            plain.execute("ROLLBACK")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise _translate(exc) from None
    finally:
        plain.close()
    try:
        check = open_encrypted(str(tmp), dek, isolation_level=None)
        try:
            if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise KeyFileError(f"{db}: 加密副本校验失败 (the encrypted copy failed its check)")
            for t, n in counts.items():
                if check.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0] != n:
                    raise KeyFileError(f"{db}: 加密副本缺少 {t} 的数据 (the encrypted copy lost "
                                       f"rows of {t}); the database is unchanged")
            check.execute("PRAGMA journal_mode = WAL")
        finally:
            check.close()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        write_slots(db, new_key_file(dek, user, password), pending=True)
        os.replace(tmp, db)
        os.replace(_pending_path(db), keys_path(db))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if has_plain_header(db):
            with contextlib.suppress(FileNotFoundError):
                _pending_path(db).unlink()
        raise
    for side in ("-wal", "-shm"):  # the plain database's, emptied by the checkpoint above
        with contextlib.suppress(FileNotFoundError):
            Path(f"{db}{side}").unlink()
    remember(dek)
    return key_id_of(dek)
