"""Backups of a laptop database: consistent copies on a folder the surveyor chooses (a USB stick).

A backup is SQLite's online backup (`sqlite3.Connection.backup`) of the live database, taken in
one step so that it is one consistent snapshot even while the web app is saving. It is written
under a temporary name, checked and then renamed, so a stick pulled out half-way never holds a
file that looks like a good backup. Each device keeps its own last N backups in the folder (several
laptops may share one stick). File names are valid on Windows: no ':' and no reserved characters.

Settings live in the database's meta table: `backup_dir`, `backup_every_minutes` (schedule of the
web app), `backup_keep`; the outcome of the last attempt in `backup_last_at`, `backup_last_file`
and `backup_error` (shown in the web app's banner).
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import re
import sqlite3
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from anju.registry.core import atrest
from anju.registry.core.changes import now
from anju.registry.core.store import SCHEMA_VERSION, Registry, StoreError, connect, transaction
from anju.registry.field import generation

DEFAULT_KEEP = 10
DEFAULT_EVERY_MINUTES = 30
REASONS = ("manual", "scheduled", "import", "restore")
SUFFIX = ".anju-backup.db"
# A `.part` file older than this is what a killed backup left behind (a live one is written in
# seconds); it is removed at the next backup of the same device.
STALE_PART_SECONDS = 15 * 60
_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f\s]+')
_NAME = re.compile(r"^anju-(?P<device>[0-9a-f]{8})-(?P<label>.*)-(?P<stamp>\d{8}T\d{6}\d{0,6}Z)"
                   r"-(?P<reason>[a-z]+)" + re.escape(SUFFIX) + "$")


class BackupError(StoreError):
    """A backup or restore that cannot be done; the message says why, for people."""


@dataclass(frozen=True)
class BackupFile:
    """One backup file in a folder, as its name describes it."""

    path: Path
    device: str
    label: str
    taken_at: dt.datetime
    reason: str

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def _label(text: str) -> str:
    """A piece of a file name valid on Windows, macOS and Linux (FAT32 sticks included)."""
    cleaned = _UNSAFE.sub("_", text or "").strip("._ ")
    return cleaned[:32] or "anju"


def backup_name(device_id: str, device_name: str, reason: str, when: dt.datetime) -> str:
    """The file name of a backup: device, readable label, UTC time, reason; no ':' anywhere."""
    stamp = when.strftime("%Y%m%dT%H%M%S%fZ")
    return f"anju-{device_id.replace('-', '')[:8]}-{_label(device_name)}-{stamp}-{reason}{SUFFIX}"


def parse_name(path: Path) -> BackupFile | None:
    """Read a backup's device, time and reason from its file name (None for other files)."""
    m = _NAME.match(path.name)
    if not m:
        return None
    stamp = m["stamp"].rstrip("Z")
    fmt = "%Y%m%dT%H%M%S%f" if len(stamp) > 15 else "%Y%m%dT%H%M%S"
    taken = dt.datetime.strptime(stamp, fmt).replace(tzinfo=dt.UTC)
    return BackupFile(path, m["device"], m["label"], taken, m["reason"])


def list_backups(folder: str | os.PathLike, device_id: str | None = None) -> list[BackupFile]:
    """The backups in a folder, newest first; only one device's when `device_id` is given."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    short = device_id.replace("-", "")[:8] if device_id else None
    found = [b for b in (parse_name(p) for p in folder.iterdir() if p.is_file()) if b]
    if short:
        found = [b for b in found if b.device == short]
    return sorted(found, key=lambda b: (b.taken_at, b.path.name), reverse=True)


def check_folder(folder: str | os.PathLike) -> Path:
    """The folder as a Path if backups can be written there, else a BackupError saying why."""
    if not str(folder).strip():
        raise BackupError("no backup folder given")
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise BackupError(f"{path}: no such folder (is the USB stick plugged in?)")
    probe = path / f".anju-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise BackupError(f"{path}: cannot write there ({exc.strerror})") from None
    return path.resolve()


def backup_now(reg_or_path: Registry | sqlite3.Connection | str | os.PathLike,
               folder: str | os.PathLike, reason: str = "manual", keep: int | None = None) -> Path:
    """Write a consistent backup of a database into `folder`, keep its last `keep`, return it.

    `reg_or_path` is an open Registry or the path of an anju database. The backup is verified
    (integrity check, anju meta) before it gets its final name; older backups of the same device
    beyond `keep` (meta `backup_keep`, default 10) are removed. The outcome is noted in meta.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown backup reason {reason!r}")
    own = isinstance(reg_or_path, str | os.PathLike)  # else a Registry or a connection (a
    # connection to an encrypted database is sqlcipher3's, not a sqlite3.Connection)
    if own:
        src = connect(_database(reg_or_path))
    else:
        src = reg_or_path.conn if isinstance(reg_or_path, Registry) else reg_or_path
    try:
        meta = dict(src.execute("SELECT key, value FROM meta WHERE key IN "
                                "('device_id', 'device_name', 'backup_keep', 'role', "
                                "'backup_public_key')").fetchall())
        try:
            target = _write(src, check_folder(folder), meta, reason)
        except BackupError as exc:
            _note(src, backup_error=f"{now()} {exc}")
            raise
        _note(src, backup_last_at=now(), backup_last_file=str(target), backup_error="")
        keep = keep if keep is not None else int(meta.get("backup_keep") or DEFAULT_KEEP)
        prune(target.parent, meta["device_id"], keep)
        remove_stale_parts(target.parent, meta["device_id"])
        return target
    finally:
        if own:
            src.close()


def _database(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path}: no such database")
    return path


def _write(src: sqlite3.Connection, folder: Path, meta: dict, reason: str) -> Path:
    """Copy the database in one step of the online backup API, verify it, then name it."""
    when = dt.datetime.now(dt.UTC)
    target = folder / backup_name(meta["device_id"], meta.get("device_name") or "", reason, when)
    part = target.with_name(target.name + ".part")
    keyed = _key_of(src)
    if keyed is None and meta.get("backup_public_key"):
        return _write_sealed(src, folder, meta, target, part)
    try:
        dst = connect(part, wal=False, key=keyed)
        try:
            # pages=-1: the whole database under one read transaction, one consistent snapshot
            # whatever other connections commit meanwhile (WAL lets them go on writing).
            src.backup(dst, pages=-1)
            # A backup is one self-contained file: no -wal/-shm beside it on the stick.
            dst.execute("PRAGMA journal_mode=DELETE")
            problem = _verify(dst)
        finally:
            dst.close()
        if problem:
            raise BackupError(f"backup {target.name} failed its check: {problem}")
        _fsync(part)
        if keyed is not None:  # an encrypted backup opens with the same users' passwords
            atrest.write_slots(target, atrest.read_slots(_path_of(src)))
        os.replace(part, target)
    except atrest.AtRestError as exc:
        raise BackupError(f"{folder}: {exc}") from None
    except OSError as exc:
        raise BackupError(f"{folder}: cannot write the backup ({exc.strerror or exc})") from None
    except sqlite3.Error as exc:
        raise BackupError(f"{folder}: backup failed ({exc})") from None
    finally:
        if part.exists():
            part.unlink()
    return target


def _write_sealed(src: sqlite3.Connection, folder: Path, meta: dict, target: Path,
                  part: Path) -> Path:
    """A backup of a plain (central) registry encrypted to the office's backup public key
    (registry/core/atrest.py): a snapshot beside the registry on the server's own disk, then
    its encrypted copy on the stick, so that no plain byte reaches the stick."""
    local = _path_of(src).with_name(f".{target.name}.{os.getpid()}.tmp")
    dek = os.urandom(32)
    try:
        for path in (local, part):
            path.unlink(missing_ok=True)
        plain = connect(local, wal=False, key=None)
        try:
            src.backup(plain, pages=-1)
            plain.execute("PRAGMA journal_mode=DELETE")
        finally:
            plain.close()
        atrest.export_copy(local, part, src_key=None, dst_key=dek)
        check = connect(part, wal=False, key=dek)
        try:
            check.execute("PRAGMA journal_mode=DELETE")
            problem = _verify(check)
        finally:
            check.close()
        if problem:
            raise BackupError(f"backup {target.name} failed its check: {problem}")
        _fsync(part)
        atrest.write_slots(target, {"format": atrest.FORMAT, "key_id": atrest.key_id_of(dek),
                                    "cipher": "sqlcipher4", "slots": [
                                        atrest.make_public_slot(dek, meta["backup_public_key"])]})
        os.replace(part, target)
    except atrest.AtRestError as exc:
        raise BackupError(f"{folder}: {exc}") from None
    except OSError as exc:
        raise BackupError(f"{folder}: cannot write the backup ({exc.strerror or exc})") from None
    except sqlite3.Error as exc:
        raise BackupError(f"{folder}: backup failed ({exc})") from None
    finally:
        for path in (local, Path(f"{local}-journal"), part):
            path.unlink(missing_ok=True)
    return target


def _path_of(conn: sqlite3.Connection) -> Path:
    """The file of a connection's main database."""
    return Path(conn.execute("PRAGMA database_list").fetchone()[2])


def _key_of(conn: sqlite3.Connection) -> bytes | None:
    """The key of an encrypted database's connection, None for a plain one."""
    return atrest.key_for(_path_of(conn))


def _fsync(path: Path) -> None:
    """Push the file to the stick before it is renamed, so a yanked stick keeps a whole file."""
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _note(conn: sqlite3.Connection, **values: str) -> None:
    """Record the outcome of a backup in meta (best effort: a busy database must not fail it)."""
    try:
        with transaction(conn):
            conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) "
                             "DO UPDATE SET value = excluded.value", values.items())
    except sqlite3.Error:
        pass


def prune(folder: Path, device_id: str, keep: int) -> list[Path]:
    """Remove one device's backups beyond the newest `keep`; return the removed files."""
    removed = []
    for old in list_backups(folder, device_id)[max(keep, 1):]:
        try:
            old.path.unlink()
            removed.append(old.path)
            atrest.keys_path(old.path).unlink(missing_ok=True)
        except OSError:
            pass  # a read-only or vanished file is not worth failing a backup for
    return removed


def remove_stale_parts(folder: Path, device_id: str,
                       older_than: float = STALE_PART_SECONDS) -> list[Path]:
    """Remove the `.part` files a killed backup of this device left in `folder`."""
    short = device_id.replace("-", "")[:8]
    removed = []
    limit = dt.datetime.now().timestamp() - older_than
    for part in Path(folder).glob(f"anju-{short}-*{SUFFIX}.part"):
        try:
            if part.stat().st_mtime < limit:
                part.unlink()
                removed.append(part)
        except OSError:
            pass  # gone already, or read-only: not worth failing a backup for
    return removed


def _verify(conn: sqlite3.Connection) -> str | None:
    """None if `conn` holds a sound anju database, else what is wrong with it."""
    try:
        result = conn.execute("PRAGMA integrity_check").fetchall()
        if result != [("ok",)]:
            return "integrity check: " + "; ".join(r[0] for r in result[:3])
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
            return "not an anju database (no meta table)"
        meta = dict(conn.execute("SELECT key, value FROM meta WHERE key IN "
                                 "('project_id', 'device_id', 'survey')").fetchall())
        missing = {"project_id", "device_id", "survey"} - set(meta)
        if missing:
            return "not an anju database (meta lacks " + ", ".join(sorted(missing)) + ")"
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            return f"made by a newer anju (schema {version} > {SCHEMA_VERSION}); upgrade anju"
    except sqlite3.DatabaseError as exc:
        return f"not a usable SQLite database ({exc})"
    except UnicodeDecodeError:  # damaged text the integrity check does not look into
        return "damaged: a text value is not valid UTF-8"
    return None


def verify(path: str | os.PathLike) -> None:
    """Raise BackupError unless the file is a sound anju database (read-only check)."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        conn = connect(path, readonly=True)
    except StoreError as exc:  # an encrypted backup this process holds no key for
        raise BackupError(str(exc)) from None
    except sqlite3.Error as exc:
        raise BackupError(f"{path}: cannot open ({exc})") from None
    try:
        problem = _verify(conn)
    finally:
        conn.close()
    if problem:
        raise BackupError(f"{path}: {problem}")


def restore(backup: str | os.PathLike, db: str | os.PathLike, *,
            force: bool = False) -> Path | None:
    """Put a backup in place of database `db`; return where the replaced database was saved.

    The backup is checked first (integrity, anju database). An existing `db` is overwritten only
    with `force`, and even then it is first saved beside itself as a backup with reason
    'restore', so a restore never loses anything. Stop the web app before restoring. The
    restored database then takes a new origin generation (registry/field/generation.py), so
    that its next changes never reuse a (device, seq) and sync brings back what it lost.
    """
    backup, db = Path(backup), Path(db)
    verify(backup)
    if backup.resolve() == (db.resolve() if db.exists() else None):
        raise BackupError(f"{db}: is the backup itself")
    saved = None
    if db.exists():
        if not force:
            raise BackupError(f"{db}: already exists; give --force to replace it "
                              "(it is saved as a backup first)")
        if _is_anju(db):
            saved = backup_now(db, db.parent, reason="restore", keep=1000)
    elif not db.parent.is_dir():
        raise BackupError(f"{db.parent}: no such folder")
    src = connect(backup, readonly=True)
    key = _key_of(src)
    if key is not None and _meta(src, "role") == "central":
        src.close()  # the central registry stays plain: the backup is decrypted into place
        _restore_plain(backup, key, db)
        generation.after_restore(db, backup)
        return saved
    try:
        if key is None and atrest.is_encrypted(db):
            raise BackupError(f"{db}: 是加密数据库，不能用未加密的备份覆盖 (is encrypted; a plain "
                              "backup does not replace it: restore to a new file)")
        if key is not None and (not atrest.is_encrypted(db) or atrest.read_slots(db)[
                "key_id"] != atrest.read_slots(backup)["key_id"]):
            _restore_with_new_key(src, key, backup, db)
            src.close()
            generation.after_restore(db, backup)
            return saved
        dst = connect(db, wal=False, timeout_ms=30_000, key=key)
        try:
            # The online backup API writes through SQLite's locks and journal, so a -wal file of
            # the old database is replaced too, and a failure leaves the old content in place.
            dst.execute("PRAGMA journal_mode=DELETE")
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=WAL")
        finally:
            dst.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise BackupError(f"{db}: in use (stop `anju collect` first); the database is "
                              "unchanged") from None
        raise BackupError(f"{db}: restore failed ({exc}); the database is unchanged") from None
    except sqlite3.Error as exc:
        raise BackupError(f"{db}: restore failed ({exc}); the database is unchanged") from None
    finally:
        src.close()
    generation.after_restore(db, backup)  # migrates, proves it opens, takes a new generation
    return saved


def _restore_plain(backup: Path, key: bytes, db: Path) -> None:
    """Restore an encrypted central backup as the plain registry it was made from."""
    tmp = db.with_name(db.name + ".restoring")
    tmp.unlink(missing_ok=True)
    try:
        atrest.export_copy(backup, tmp, src_key=key, dst_key=None)
        conn = connect(tmp, key=None)  # WAL, as every registry
        conn.close()
        _fsync(tmp)
        for side in ("-wal", "-shm", "-journal"):  # the replaced database's, saved already
            Path(f"{db}{side}").unlink(missing_ok=True)
        os.replace(tmp, db)
        atrest.remove_slots_file(db)
    except atrest.AtRestError as exc:
        raise BackupError(f"{db}: restore failed ({exc}); the database is unchanged") from None
    finally:
        for side in ("", "-wal", "-shm"):
            Path(f"{tmp}{side}").unlink(missing_ok=True)


def _restore_with_new_key(src: sqlite3.Connection, key: bytes, backup: Path, db: Path) -> None:
    """Restore an encrypted backup whose key `db` does not have: into a new file beside `db`,
    with the backup's key slots, then in place of `db` (saved as a backup first, with --force).
    The key file goes first (as `.keys.new`), so no moment leaves a database without its key."""
    tmp = db.with_name(db.name + ".restoring")
    tmp.unlink(missing_ok=True)
    try:
        dst = connect(tmp, wal=False, key=key)
        try:
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=WAL")
        finally:
            dst.close()
        _fsync(tmp)
        atrest.write_slots(db, atrest.read_slots(backup), pending=True)
        for side in ("-wal", "-shm", "-journal"):  # the replaced database's, saved already
            Path(f"{db}{side}").unlink(missing_ok=True)
        os.replace(tmp, db)
        atrest.keys_path(db).unlink(missing_ok=True)
        os.replace(atrest.keys_path(db).with_name(atrest.keys_path(db).name + ".new"),
                   atrest.keys_path(db))
    finally:
        tmp.unlink(missing_ok=True)


def _is_anju(path: Path) -> bool:
    try:
        verify(path)
    except BackupError:
        return False
    return True


def removable_folders() -> list[Path]:
    """Places a USB stick shows up on this computer, to suggest as the backup folder."""
    if os.name == "nt":
        # D: onwards: A: and B: may be floppy drives that stall when probed, C: is the system.
        return [Path(f"{letter}:/") for letter in "DEFGHIJKLMNOPQRSTUVWXYZ"
                if os.path.isdir(f"{letter}:/")]
    roots = [Path("/Volumes")] if sys.platform == "darwin" else [
        Path("/media") / _user(), Path("/run/media") / _user(), Path("/media")]
    found: list[Path] = []
    for root in roots:
        try:
            found += [p for p in sorted(root.iterdir()) if p.is_dir() and os.access(p, os.W_OK)
                      and p not in found and p.name != "Macintosh HD" and p != Path("/media")
                      / _user()]
        except OSError:
            continue
    return found


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "user"


def _meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def configured_folder(reg_or_conn: Registry | sqlite3.Connection) -> Path | None:
    """The backup folder chosen for this database, or None."""
    conn = reg_or_conn.conn if isinstance(reg_or_conn, Registry) else reg_or_conn
    folder = (_meta(conn, "backup_dir") or "").strip()
    return Path(folder) if folder else None


def before_import(reg: Registry) -> Path | None:
    """Back up a database before a pack is merged into it; never stops the merge.

    The chosen folder is used; a laptop without one gets a `backups` folder beside its database.
    A central registry without a chosen folder is not backed up here (its own routine does it).
    A failure is noted in meta (the banner shows it) and the merge goes on: a merge only adds.
    """
    folder = configured_folder(reg)
    try:
        if folder is None:
            if reg.meta("role") != "laptop":
                return None
            folder = Path(reg.path).parent / "backups"
            folder.mkdir(exist_ok=True)
        return backup_now(reg, folder, reason="import")
    except (BackupError, OSError):
        return None


def due(conn: sqlite3.Connection, at: dt.datetime | None = None) -> bool:
    """Whether the schedule asks for a backup now: folder set, interval passed, new changes."""
    folder = configured_folder(conn)
    if folder is None:
        return False
    every = int(_meta(conn, "backup_every_minutes") or DEFAULT_EVERY_MINUTES)
    if every <= 0:
        return False
    if _meta(conn, "backup_last_mark") == _mark(conn, folder):
        return False  # nothing new since the last scheduled backup to this folder
    last = _meta(conn, "backup_last_at")
    if not last:
        return True
    at = at or dt.datetime.now(dt.UTC)
    taken = dt.datetime.strptime(last, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    return at - taken >= dt.timedelta(minutes=every)


def _mark(conn: sqlite3.Connection, folder: Path) -> str:
    """What the database holds, as far as a backup cares: the change log only grows."""
    count = conn.execute("SELECT count(*) FROM change").fetchone()[0]
    return f"{folder}|{count}"


def scheduled(path: str | os.PathLike) -> Path | None:
    """One tick of the schedule on the database at `path`: back up if due; return the file."""
    try:
        conn = connect(path)
    except (sqlite3.Error, StoreError):  # a locked encrypted database waits for a login
        return None
    try:
        if not due(conn):
            return None
        folder = configured_folder(conn)
        mark = _mark(conn, folder)
        try:
            target = backup_now(conn, folder, reason="scheduled")
        except BackupError:
            return None
        _note(conn, backup_last_mark=mark)
        return target
    except sqlite3.Error:
        return None
    finally:
        conn.close()


class Scheduler:
    """A background thread that backs a database up on its schedule (one per web app)."""

    def __init__(self, database: str | os.PathLike, tick_seconds: float = 60.0):
        self.database = Path(database)
        self.tick = tick_seconds
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="anju-backup", daemon=True)

    def start(self) -> Scheduler:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=30)

    def _run(self) -> None:
        while not self.stopped.is_set():
            if not self.database.exists():
                return  # the database went away (a test's temporary folder)
            scheduled(self.database)
            self.stopped.wait(self.tick)
