"""Failures of the machine, not of the user's input, said so that a person can act on them.

A database locked by a long merge, a full disk, a read-only or damaged database file, a port
already taken: `explain` turns the exception into a Failure with a Chinese and an English
sentence saying what happened and what to do. The web app shows it as a page, the `anju`
command as one line with exit status 2.
"""

from __future__ import annotations

import errno
import socket
import sqlite3
from dataclasses import dataclass

from anju.registry.core.i18n import N_


@dataclass(frozen=True)
class Failure:
    """What went wrong, for people: a kind (locked, full, readonly, corrupt, port) and text."""

    kind: str
    zh: str
    en: str

    def line(self) -> str:
        return f"{self.zh} ({self.en})"


LOCKED = Failure("locked", N_("数据库正忙（可能正在合并数据包或备份），本次操作未保存。"
                 "请稍等片刻后重试。"),
                 "the database is busy (a merge or backup may be running); nothing was saved. "
                 "Wait a moment and try again.")
FULL = Failure("full", N_("磁盘空间已满，本次操作未保存，也没有留下不完整的文件。"
               "请清理磁盘或换一个位置后重试。"),
               "the disk is full; nothing was saved and no partial file was left. Free some "
               "space or choose another place, then try again.")
READONLY = Failure("readonly", N_("数据库文件是只读的（U盘写保护或没有写入权限），"
                   "无法保存。请检查文件权限后重试。"),
                   "the database file is read-only (a write-protected drive or no permission); "
                   "nothing can be saved. Check the file's permissions.")
CORRUPT = Failure("corrupt", N_("数据库文件已损坏或不是安居数据库。"
                  "请停止使用此文件，并从最近的备份恢复（anju restore）。"),
                  "the database file is damaged or not an anju database. Stop using it and "
                  "restore the latest backup (anju restore).")
PORT = Failure("port", N_("端口已被占用：可能已有一个安居程序在运行。"
               "请关闭它，或用 --port 换一个端口。"),
               "the port is already in use: anju may already be running. Close it or choose "
               "another --port.")

_SQLITE_WORDS = (
    (("database is locked", "database table is locked", "busy"), LOCKED),
    (("database or disk is full", "disk i/o error"), FULL),
    (("readonly database", "read-only", "readonly"), READONLY),
    (("file is not a database", "malformed", "not a database", "disk image"), CORRUPT),
)
_ERRNOS = {errno.ENOSPC: FULL, errno.EFBIG: FULL, errno.EDQUOT: FULL, errno.EROFS: READONLY,
           errno.EACCES: READONLY, errno.EPERM: READONLY, errno.EADDRINUSE: PORT}


def explain(exc: BaseException) -> Failure | None:
    """The Failure an exception stands for, or None when it is not one of these."""
    if isinstance(exc, sqlite3.Error):
        text = str(exc).lower()
        for words, failure in _SQLITE_WORDS:
            if any(w in text for w in words):
                return failure
        return None
    if isinstance(exc, OSError):
        return _ERRNOS.get(exc.errno)
    cause = exc.__cause__ or exc.__context__
    return explain(cause) if cause is not None and cause is not exc else None


def check_port(host: str, port: int) -> None:
    """Raise OSError(EADDRINUSE) now if the port is taken, before a server starts on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, port))
