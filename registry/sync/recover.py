"""Recovering a lost or broken laptop's work from its backup, at the central registry.

A revoked laptop's packs are refused (whoever holds the laptop holds its signing key), so the work
it had not exported can only come back from a backup on the surveyor's USB stick. The central
office, holding that stick, merges the backup's change log straight into the registry: every change
is checked against the registry's survey definition exactly as a pack's are, files come with their
SHA-256 checked, and it all goes in one transaction (nothing half-written). The merge is the same
union-and-fold as for packs, so recovering a backup twice, or one whose changes already arrived
in packs, changes nothing.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from anju.registry.core.origin import device_of
from anju.registry.core.store import Registry, StoreError, connect, transaction
from anju.registry.field.backup import BackupError, verify
from anju.registry.sync.authority import Checker, TrustError, bare, blob_mime
from anju.registry.sync.merge import MergeError, parse_change

BATCH = 2000


@dataclass
class Recovery:
    """What merging a backup into a registry did."""

    changes: int
    new: int
    known: int
    blobs: int
    devices: dict[str, int]  # device name (or id) -> changes new to the registry
    attested: int = 0        # new changes of revoked devices, attested by the recovering admin

    def line(self) -> str:
        by = ", ".join(f"{n} from {d}" for d, n in sorted(self.devices.items())) or "none new"
        extra = (f"; {self.attested} changes of revoked devices attested"
                 if self.attested else "")
        return (f"{self.changes} changes in the backup: {self.new} new ({by}), {self.known} "
                f"already known; {self.blobs} new files{extra}")


def recover_backup(reg: Registry, backup: str | os.PathLike, *,
                   attested_by: str = "central office") -> Recovery:
    """Merge the change log and files of a backup of the same project into `reg`.

    The trust rules of a pack hold (registry/sync/authority.py): every change verifies against
    its origin's key and stays within its origin's capabilities. Recovering is the explicit act
    by which the central office takes responsibility for a revoked laptop's changes: those new
    to the registry are recorded in `attestation` as attested by `attested_by`, and the central
    pack then relays them like any change it accepted.
    """
    path = Path(backup)
    if reg.meta("role") != "central":
        raise BackupError("only the central registry recovers a laptop's backup; on the laptop "
                          "itself use `anju restore`")
    verify(path)
    src = connect(path, readonly=True)
    try:
        project = src.execute("SELECT value FROM meta WHERE key = 'project_id'").fetchone()[0]
        if project != reg.project_id:
            raise BackupError(f"{path}: a backup of another project ({project[:8]}), not "
                              f"of this registry's ({reg.project_id[:8]})")
        names = dict(reg.conn.execute("SELECT device_id, name FROM device"))
        total = new = known = blobs = 0
        devices: dict[str, int] = {}
        seen: dict = {}
        cols = {r[1] for r in src.execute("PRAGMA table_info(change)")}
        hlc_col = "coalesce(hlc, at)" if "hlc" in cols else "at"
        trust_cols = "prev, sig" if {"prev", "sig"} <= cols else "NULL, NULL"
        checker = Checker(reg, None, source=path.name, attest=attested_by)
        with transaction(reg.conn):
            cur = src.execute("SELECT change_id, device_id, seq, record_type, record_id, "
                              f"fields, base, at, by, note, {hlc_col}, {trust_cols} FROM change "
                              "ORDER BY rowid")
            while rows := cur.fetchmany(BATCH):
                rows = [list(r) for r in rows]
                try:
                    changes = checker.check(rows, [parse_change(reg.definition, r, seen)
                                                   for r in bare(rows)])
                except (MergeError, TrustError) as exc:
                    raise BackupError(f"{path}: {exc}") from None
                fresh = _unknown(reg, changes)
                for c in fresh:
                    who = names.get(device_of(c.device_id), c.device_id[:8])
                    devices[who] = devices.get(who, 0) + 1
                added, already = reg.apply(changes)
                total += len(changes)
                new += added
                known += already
            try:
                checker.finish()
            except TrustError as exc:
                raise BackupError(f"{path}: {exc}") from None
            blobs = _copy_blobs(src, reg)
            attested = len(checker.attested)
    except sqlite3.IntegrityError as exc:
        raise BackupError(f"{path}: clashes with changes already here ({exc})") from None
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: unreadable backup ({exc})") from None
    finally:
        src.close()
    return Recovery(total, new, known, blobs, devices, attested)


def _unknown(reg: Registry, changes: list) -> list:
    return [c for c in changes if not reg.conn.execute(
        "SELECT 1 FROM change WHERE change_id = ?", (c.change_id,)).fetchone()]


def _copy_blobs(src: sqlite3.Connection, reg: Registry) -> int:
    """Copy the files the registry lacks, each checked against its SHA-256 name."""
    added = 0
    for sha, mime, size, data in src.execute("SELECT sha256, mime, size, data FROM blob"):
        if reg.conn.execute("SELECT 1 FROM blob WHERE sha256 = ?", (sha,)).fetchone():
            continue
        if hashlib.sha256(data).hexdigest() != sha or len(data) != size:
            raise StoreError(f"file {sha[:12]} in the backup does not match its SHA-256")
        mime = blob_mime(sha, mime, data)
        reg.conn.execute("INSERT INTO blob (sha256, mime, size, data) VALUES (?, ?, ?, ?)",
                         (sha, mime, size, data))
        added += 1
    return added
