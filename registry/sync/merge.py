"""Merging packs: the union of change sets plus the deterministic fold, one pack at a time.

Each pack merges in one transaction: every change is checked against this database's survey
definition (record type, fields, values) before it is applied; if anything is wrong the pack is
rejected with one line naming the reason and nothing of it is written, while the other packs of
the same call still merge. The same merge runs on the central registry (laptop packs) and on a
laptop (the central pack, which also brings the project settings, the device directory and a
newer survey definition).
"""

from __future__ import annotations

import base64
import gc
import hashlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from anju.registry.compensation.rules import learn_versions
from anju.registry.core import definition as definition_mod
from anju.registry.core import surveys
from anju.registry.core.changes import DELETED, Change, now
from anju.registry.core.definition import Definition, DefinitionError
from anju.registry.core.errors import AnjuError
from anju.registry.core.i18n import N_
from anju.registry.core.store import Registry, StoreError, derive_tables, transaction
from anju.registry.core.validation import message, validate
from anju.registry.field import backup, generation
from anju.registry.review import checks
from anju.registry.sync import authority, central_meta, enrollment
from anju.registry.sync.packs import Pack, PackError, open_pack

AT_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
MAX_ID = 64


class MergeError(AnjuError):
    """A change or frame that cannot be merged; the message is the one-line reason.

    `code` and `params` say the same for people (see registry.sync.wording).
    """

    zh = N_("数据无法合并：%(detail)s")

    def __init__(self, message: str, code: str = "malformed", **params):
        super().__init__(message, code, **params)


@dataclass
class PackResult:
    """What merging one pack did, or why it was rejected."""

    path: str
    ok: bool
    reason: str = ""
    device: str = ""
    changes: int = 0
    new: int = 0
    known: int = 0
    conflicts: int = 0
    blobs: int = 0
    notes: tuple[str, ...] = ()
    # The same facts for people: why it was refused (a code and its details), the conflicts
    # this pack raised as (record_type, record_id, field), and the survey definition taken
    # or kept as ("adopted", version) or ("kept", local version, central version).
    code: str = ""
    params: dict = field(default_factory=dict)
    raised: tuple[tuple[str, str, str], ...] = ()
    survey: tuple = ()

    def line(self) -> str:
        """The summary line the command prints for this pack."""
        if not self.ok:
            return f"{self.path}: {self.reason}"
        extra = f", {self.blobs} new files" if self.blobs else ""
        notes = "".join(f"; {n}" for n in self.notes)
        return (f"{self.path}: merged from {self.device}: {self.new} new changes, "
                f"{self.known} already known, {self.conflicts} conflicts raised{extra}{notes}")


def merge_packs(reg: Registry, paths: Iterable[str | Path],
                progress: Callable[[int], None] | None = None,
                done: Callable[[str | Path, PackResult], None] | None = None
                ) -> list[PackResult]:
    """Merge packs one after the other, each atomically; bad packs are reported, not fatal.

    The one entry point of every merge (command line, web upload, laptop import): the central
    office's flags are rebuilt once at the end. `done` is told of each pack as it is merged.
    """
    results = []
    for p in paths:
        results.append(merge_pack(reg, p, progress=progress))
        if done:
            done(p, results[-1])
    checks.after_merge(reg, results)  # the central office's flags, rebuilt once per call
    return results


def merge_pack(reg: Registry, path: str | Path,
               progress: Callable[[int], None] | None = None) -> PackResult:
    """Merge one pack in one transaction; a rejected pack leaves the database as it was."""
    name = str(path)
    try:
        pack = open_pack(reg, path)
    except PackError as exc:
        return PackResult(name, False, str(exc), code=exc.code, params=exc.params)
    backup.before_import(reg)  # a laptop's copy before the pack goes in (registry/backup.py)
    before = _open_conflicts(reg)
    definition = reg.definition
    collecting = gc.isenabled()
    gc.disable()  # a merge makes many small acyclic objects; cycle scans only slow it down
    try:
        with transaction(reg.conn):
            result = _merge(reg, pack, name, progress)
            raised = _open_conflicts(reg) - before
            result.conflicts = len(raised)
            result.raised = tuple(sorted(raised))
            _record(reg, pack, result)
    except (PackError, MergeError, StoreError) as exc:
        reg.definition = definition
        return PackResult(name, False, str(exc), code=getattr(exc, "code", "refused"),
                          params=getattr(exc, "params", {}))
    except sqlite3.IntegrityError as exc:
        reg.definition = definition
        return PackResult(name, False, f"clashes with changes already here ({exc})",
                          code="clash")
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        reg.definition = definition  # a signed pack with an unexpected shape: refuse it
        return PackResult(name, False, f"malformed pack ({type(exc).__name__}: {exc})",
                          code="malformed")
    except BaseException:
        reg.definition = definition
        raise
    finally:
        if collecting:
            gc.enable()
    return result


def _open_conflicts(reg: Registry) -> set[tuple]:
    return set(reg.conn.execute("SELECT record_type, record_id, field FROM conflict"))


def _merge(reg: Registry, pack: Pack, name: str,
           progress: Callable[[int], None] | None) -> PackResult:
    result = PackResult(name, True, device=pack.device["name"])
    notes: list[str] = []
    survey: list[tuple] = []
    have: dict = {}
    held = 0
    memo = None
    trust = None
    first = True
    for frame in pack.frames(progress):
        kind = frame.get("t")
        if first != (kind == "meta"):
            raise MergeError("malformed pack: the meta frame must come first, once")
        first = False
        if kind == "meta":
            have = frame.get("have") or {}
            if not isinstance(have, dict):
                raise MergeError("malformed pack: holdings")
            held = generation.own_held(reg)  # before the pack brings any of them back
            notes += _take_meta(reg, pack, frame, survey)
        elif kind == "changes":
            rows = frame.get("c")
            if not isinstance(rows, list):
                raise MergeError("malformed pack: changes frame")
            memo = memo or Memo(reg.definition, surveys.older(reg))
            trust = trust or authority.Checker(reg, pack.device, source=name)
            changes = trust.check(rows, [parse_change(reg.definition, row, memo)
                                         for row in authority.bare(rows)])
            new, known = reg.apply(changes)
            result.changes += len(changes)
            result.new += new
            result.known += known
        elif kind == "blobs":
            result.blobs += _take_blobs(reg, frame.get("b"))
        else:
            raise MergeError(f"malformed pack: unknown frame {kind!r}")
    if first:
        raise MergeError("malformed pack: no meta frame")
    if trust:
        trust.finish()  # every change's origin signature, before anything commits
    _learn_holdings(reg, pack.header["device_id"], have)
    if generation.notice_lost_changes(reg, have, held):
        notes.append("this database lacks changes it made (restored from a backup?): it now "
                     "writes as a new generation; its lost changes come back with the next sync")
    result.notes = tuple(notes)
    result.survey = survey[0] if survey else ()
    return result


def _take_meta(reg: Registry, pack: Pack, meta: dict, survey: list | None = None) -> list[str]:
    """From the central registry, a laptop takes settings, devices and a newer definition.

    What became of the definition is also appended to `survey` (see PackResult.survey)."""
    survey = [] if survey is None else survey
    notes = []
    if reg.meta("role") == "central":
        central_meta.learn_stated(reg, meta.get("central_version"))
        return notes
    if pack.device["role"] != "central":
        return notes
    surveys.learn(reg, meta.get("surveys"))  # earlier definitions: old values still merge
    if isinstance(meta.get("devices"), list):
        try:
            enrollment.learn_devices(reg, meta["devices"])
        except (KeyError, TypeError) as exc:
            raise MergeError(f"malformed device directory ({exc})") from None
    made_at = meta.get("made_at") if isinstance(meta.get("made_at"), str) else ""
    newer = central_meta.newer(reg, meta)  # by the central's version number, not its clock
    if newer is None:  # a central pack of an older anju: by its time, as that anju did
        newer = made_at > (reg.meta("central_meta_at") or "")
    if not newer:
        return notes  # an older central pack merged again: its settings are out of date
    if "version" in meta:
        central_meta.adopt(reg, meta)
    reg.set_meta("central_meta_at", made_at)
    if isinstance(meta.get("settings"), dict):
        reg.set_meta("settings", json.dumps(meta["settings"], ensure_ascii=False))
    if isinstance(meta.get("compensation"), str):
        # The project's compensation rules, so laptops estimate with the real ones.
        reg.set_meta("compensation", meta["compensation"])
    # The versions of the rules, so an amendment made here uses its original's version.
    learn_versions(reg, meta.get("rules_versions"))
    text = meta.get("survey")
    if isinstance(text, str):
        try:
            theirs = definition_mod.parse(text, "the central survey definition")
        except DefinitionError as exc:
            raise MergeError(str(exc), "survey") from None
        if theirs.hash != reg.definition.hash:
            if theirs.version >= reg.definition.version:
                adopt_definition(reg, text)
                notes.append(f"adopted survey definition version {theirs.version}")
                survey.append(("adopted", theirs.version))
            else:
                notes.append(f"kept local survey definition (version "
                             f"{reg.definition.version} > central {theirs.version})")
                survey.append(("kept", reg.definition.version, theirs.version))
    return notes


def _learn_holdings(reg: Registry, device_id: str, have: dict) -> None:
    """Remember what the sender holds, so the next export to it sends only the rest.

    The bookmarks follow what the sender states, down as well as up: a peer restored from a
    backup holds less than before, and is sent again what it lost.
    """
    rows = [(device_id, o, s) for o, s in have.items() if isinstance(o, str) and
            isinstance(s, int) and not isinstance(s, bool)]
    reg.conn.execute("DELETE FROM export_bookmark WHERE device_id = ?", (device_id,))
    reg.conn.executemany(
        "INSERT INTO export_bookmark (device_id, origin, seq) VALUES (?, ?, ?) "
        "ON CONFLICT(device_id, origin) DO UPDATE SET seq = excluded.seq", rows)


def _take_blobs(reg: Registry, rows) -> int:
    """Store the files a pack carries, each checked against its SHA-256 name."""
    if not isinstance(rows, list):
        raise MergeError("malformed pack: blobs frame")
    added = 0
    for row in rows:
        try:
            sha, mime, size, text = row
            data = base64.b64decode(text, validate=True)
        except (TypeError, ValueError):
            raise MergeError("malformed file in the pack", "damaged") from None
        if (not isinstance(sha, str) or hashlib.sha256(data).hexdigest() != sha
                or size != len(data) or not isinstance(mime, str)):
            raise MergeError(f"file {str(sha)[:12]} does not match its SHA-256 or size",
                             "damaged")
        mime = authority.blob_mime(sha, mime, data)  # the type its bytes show, not the claim
        cur = reg.conn.execute("INSERT OR IGNORE INTO blob (sha256, mime, size, data) "
                               "VALUES (?, ?, ?, ?)", (sha, mime, size, data))
        added += cur.rowcount
    return added


def _record(reg: Registry, pack: Pack, result: PackResult) -> None:
    """Keep a row per pack received: when, from whom, what it did."""
    m = pack.manifest or {}
    stamp = now()
    reg.conn.execute(
        "INSERT INTO pack_received (content_hash, device_id, file_name, made_at, full, changes,"
        " new, known, conflicts, blobs, first_seen_at, last_seen_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(content_hash) DO UPDATE SET "
        "last_seen_at = excluded.last_seen_at, times = times + 1, "
        "file_name = excluded.file_name",
        (pack.content_hash, pack.header["device_id"], Path(result.path).name,
         str(m.get("made_at", "")), int(bool(m.get("full"))), result.changes, result.new,
         result.known, result.conflicts, result.blobs, stamp, stamp))


class Memo:
    """Values already found valid in one pack, so that repeated ones are not checked again.

    Whole field sets are remembered by their JSON text (a status moving on), and single values
    of choice, integer and date fields. A field's check depends only on its value unless the
    change holds a field with a relevance condition; such changes are always checked whole.
    """

    TYPES = ("select_one", "integer", "date")
    LIMIT = 200_000

    def __init__(self, defn: Definition, older: list[Definition] | None = None):
        self.older = older or []  # earlier definitions, for values made under them
        self.changes: set = set()
        self.values: set = set()
        self.single = {name: {f.name for f in rt.columns if f.type in self.TYPES
                              and not f.relevant} for name, rt in defn.records.items()}
        self.conditional = {name: {f.name for f in rt.columns if f.relevant}
                            for name, rt in defn.records.items()}

    def errors(self, defn: Definition, record_type: str, data: dict, key) -> dict:
        """validate(partial=True)'s errors for `data`, skipping what is known valid."""
        if key is not None and key in self.changes:
            return {}
        single = self.single[record_type]
        rest = data
        if single and not self.conditional[record_type] & data.keys():
            rest = {k: v for k, v in data.items() if k not in single
                    or not isinstance(v, str | int | float)
                    or (record_type, k, v.__class__, v) not in self.values}
        errors = (validate(defn, record_type, rest, partial=True, latest=None)[1] if rest
                  else {})
        if not errors:
            if key is not None and len(self.changes) < self.LIMIT:
                self.changes.add(key)
            for k in single & rest.keys():
                v = rest[k]
                if isinstance(v, str | int | float) and len(self.values) < self.LIMIT:
                    self.values.add((record_type, k, v.__class__, v))
        return errors


def parse_change(defn: Definition, row, memo: Memo | None = None) -> Change:
    """Check one change from a pack against the definition; MergeError says what is wrong.

    `memo` remembers what this pack already showed valid, so the same values are not validated
    twice.
    """
    if not isinstance(row, list) or len(row) not in (10, 11):  # 10: made before the hlc
        raise MergeError("malformed change")
    change_id, device_id, seq, record_type, record_id, fields, base, at, by, note = row[:10]
    hlc = row[10] if len(row) > 10 and row[10] is not None else at
    label = f"change {str(change_id)[:8]}"
    for value, what in ((change_id, "change id"), (device_id, "device id"),
                        (record_id, "record id")):
        if not isinstance(value, str) or not value or len(value) > MAX_ID:
            raise MergeError(f"{label}: bad {what}")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise MergeError(f"{label}: bad seq")
    if not isinstance(at, str) or not AT_RE.match(at):
        raise MergeError(f"{label}: bad time {at!r}")
    if not isinstance(hlc, str) or not AT_RE.match(hlc):
        raise MergeError(f"{label}: bad clock {hlc!r}")
    if not isinstance(by, str) or len(by) > 80 or not (note is None or isinstance(note, str)):
        raise MergeError(f"{label}: bad author or note")
    key = (record_type, fields) if isinstance(fields, str) and len(fields) < 160 else None
    try:
        fields = json.loads(fields) if isinstance(fields, str) else fields
        base = json.loads(base) if isinstance(base, str) else base
    except ValueError:
        raise MergeError(f"{label}: unreadable fields") from None
    if record_type not in defn.records:
        raise MergeError(f"{label}: unknown record type {record_type!r}", "invalid",
                         record_type=str(record_type)[:40], fields=[])
    if not isinstance(fields, dict) or not fields or not isinstance(base, dict):
        raise MergeError(f"{label}: malformed fields or base")
    label = f"change {change_id[:8]} of {record_type} {record_id[:8]}"
    for name, b in base.items():
        if name not in fields or not (b is None or isinstance(b, str) or (
                isinstance(b, list) and all(isinstance(x, str) for x in b))):
            raise MergeError(f"{label}: malformed base of {name}")
    data = dict(fields)
    if DELETED in data:
        reason = data.pop(DELETED)
        if reason is not None and not isinstance(reason, str):
            raise MergeError(f"{label}: malformed deletion reason")
    if data:
        errors = (memo.errors(defn, record_type, data, key) if memo
                  else validate(defn, record_type, data, partial=True, latest=None)[1])
        if errors and memo and _valid_under_older(memo.older, record_type, data):
            errors = {}  # made under an earlier definition: kept, and flagged by the checks
        if errors:
            detail = "; ".join(f"{k}: {_codes(v)}" for k, v in sorted(errors.items()))
            raise MergeError(f"invalid {label}: {detail}", "invalid", record_type=record_type,
                             record_id=record_id, fields=sorted(errors))
    return Change(change_id=change_id, device_id=device_id, seq=seq, record_type=record_type,
                  record_id=record_id, fields=fields, base=base, at=at, by=by, note=note,
                  hlc=hlc)


def _valid_under_older(older: list[Definition], record_type: str, data: dict) -> bool:
    """Whether values pass one of the earlier survey definitions this database knows."""
    for defn in older:
        if record_type in defn.records and not validate(defn, record_type, data, partial=True,
                                                        latest=None)[1]:
            return True
    return False


def _codes(codes) -> str:
    if isinstance(codes, dict):
        codes = [c for v in codes.values() for c in (v if isinstance(v, list) else [v])]
    return ", ".join(message(c, "en") for c in (codes if isinstance(codes, list) else [codes]))


def adopt_definition(reg: Registry, text: str) -> bool:
    """Switch this database to a survey definition; refuse one that drops or retypes a field
    holding data. Adds the new fields' columns. Returns whether anything changed."""
    try:
        new = definition_mod.parse(text, "survey definition")
    except DefinitionError as exc:
        raise StoreError(str(exc)) from None
    old = reg.definition
    if new.hash == old.hash:
        return False
    problems, emptied = [], []
    for rname, rtype in old.records.items():
        for f in rtype.columns:
            nrec = new.records.get(rname)
            nf = next((x for x in nrec.columns if x.name == f.name), None) if nrec else None
            if nf is not None and nf.type == f.type:
                continue
            held = reg.conn.execute(f"SELECT 1 FROM [{rname}] WHERE [{f.name}] IS NOT NULL "
                                    "LIMIT 1").fetchone()
            if held:
                what = "drops" if nf is None else f"retypes ({f.type} -> {nf.type})"
                problems.append(f"it {what} {rname}.{f.name}, which holds data")
            elif nf is not None and nf.sql_type != f.sql_type:
                emptied.append((rname, f.name))
    if problems:
        raise StoreError("survey definition refused: " + "; ".join(problems))
    own = not reg.conn.in_transaction
    if own:
        reg.conn.execute("BEGIN IMMEDIATE")
    try:
        surveys.remember(reg, reg.meta("survey"))  # the old one stays known: its values merge
        surveys.remember(reg, text)
        for rname, column in emptied:  # an empty column may change type: recreate it
            reg.conn.execute(f"ALTER TABLE [{rname}] DROP COLUMN [{column}]")
        derive_tables(reg.conn, new)
        reg.set_meta("survey", text)
    except BaseException:
        if own:
            reg.conn.execute("ROLLBACK")
        raise
    if own:
        reg.conn.execute("COMMIT")
    reg.definition = new
    return True


def summary(results: list[PackResult]) -> str:
    """One closing line over all packs of a call."""
    ok = [r for r in results if r.ok]
    return (f"{len(ok)} of {len(results)} packs merged: {sum(r.new for r in ok)} new changes, "
            f"{sum(r.known for r in ok)} already known, {sum(r.conflicts for r in ok)} "
            f"conflicts raised" + (f"; {len(results) - len(ok)} rejected"
                                   if len(ok) < len(results) else ""))
