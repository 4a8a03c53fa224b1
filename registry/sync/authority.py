"""Trust at the merge: every change authentic, authorised and in its device's sequence.

A pack's own signature says only who made the file. Each change inside is judged on its own,
wherever it travelled (docs/design.md, "Trust model of changes"):
- Authenticity: a change is signed by its origin device (registry/core/signing.py) and linked to
  the origin's previous change; one verified signature authenticates the unbroken run below it,
  so a pack costs one signature check per device run, not one per change. An unknown origin, a
  signature that does not verify, or an origin revoked before this database first received the
  change refuses the pack.
- Authority: the central office grants each device capabilities at enrolment; a change outside
  its origin's capabilities refuses the pack. The user name inside a change grants nothing.
  Changes the central registry relays were judged when it first received them.
- Sequence: two different changes with one (device, seq) are a fork, reported by both ids.

`Checker` runs these rules for one pack (or one backup, `anju recover`), frame by frame, and its
`finish` verifies the signatures before the merge commits.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from hashlib import sha256

from anju.registry.core.capabilities import (  # noqa: F401 -- the rules, re-exported here
    ALL,
    CAPABILITIES,
    FIELD_DEFAULT,
    FIELD_STATUSES,
    capabilities_of,
    from_text,
    needed,
    permits,
)
from anju.registry.core.changes import Change, now
from anju.registry.core.mime import sniff
from anju.registry.core.origin import device_of
from anju.registry.core.signing import link, message, prefix, row_message
from anju.registry.core.store import Registry, StoreError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

TRUST_COLUMNS = 2  # a pack's change row: the 10 change columns, hlc, then prev and sig
SIGNED = 13       # rows of 10 (before the hlc) or 11 columns are unsigned: refused where new


class TrustError(StoreError):
    """A change or file that this database must not accept; the message is the one-line reason."""


# -- capabilities ----------------------------------------------------------------------------
def parse_capabilities(values) -> frozenset[str]:
    """Capability names from a list or comma-separated text ('all' for every one)."""
    if isinstance(values, str):
        values = [values]
    names: set[str] = set()
    for v in values or ():
        for name in str(v).replace("，", ",").split(","):
            name = name.strip()
            if not name:
                continue
            if name == "all":
                names |= ALL
            elif name in CAPABILITIES:
                names.add(name)
            else:
                raise StoreError(f"unknown capability {name!r} (known: "
                                 f"{', '.join(CAPABILITIES)}, all)")
    return frozenset(names)


def capability_text(caps) -> str | None:
    """The device table's text for a capability set (None: the role's default)."""
    if caps is None:
        return None
    if isinstance(caps, str):  # already stored text, from a directory
        caps = from_text(caps)
    return json.dumps(sorted(set(caps) & ALL))


def set_capabilities(reg: Registry, name: str, caps) -> frozenset[str]:
    """On the central registry: grant device NAME exactly `caps`; its laptops learn it from the
    next central pack. Returns the capabilities now held."""
    if reg.meta("role") != "central":
        raise StoreError("only the central registry grants capabilities")
    caps = parse_capabilities(caps)
    row = reg.conn.execute("SELECT device_id, role FROM device WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise StoreError(f"no device named {name}")
    if row[1] == "central":
        raise StoreError(f"{name} is the central registry: it holds every capability")
    with reg.conn:
        reg.conn.execute("UPDATE device SET capabilities = ? WHERE device_id = ?",
                         (capability_text(caps), row[0]))
    return caps


# -- files -----------------------------------------------------------------------------------
def blob_mime(sha: str, claimed: str, data: bytes) -> str:
    """The type a carried file is stored under: read from its bytes, never taken on trust."""
    actual = sniff(data)
    if actual is None or actual != claimed:
        raise TrustError(f"file {sha[:12]} claims type {claimed[:40]!r} but its content is "
                         f"{actual or 'not an accepted image or PDF'}")
    return actual


# -- changes ---------------------------------------------------------------------------------
_VERIFIERS: dict[str, Ed25519PublicKey] = {}


def _verifier(public_key: str) -> Ed25519PublicKey:
    key = _VERIFIERS.get(public_key)
    if key is None:
        key = _VERIFIERS[public_key] = Ed25519PublicKey.from_public_bytes(
            base64.b64decode(public_key, validate=True))
    return key


def bare(rows) -> list:
    """A pack's change rows without their trust columns (what merge.parse_change reads)."""
    if not isinstance(rows, list):
        raise TrustError("malformed pack: changes frame")
    # A row of only the change columns (an old or forged pack) is read, then refused unsigned;
    # a row of any other length is left for parse_change to refuse as malformed.
    return [row[:-TRUST_COLUMNS] if isinstance(row, list) and len(row) == SIGNED else row
            for row in rows]


def _label(c: Change) -> str:
    return f"change {c.change_id[:8]} of {c.record_type} {c.record_id[:8]}"


class Checker:
    """The trust rules for one pack or backup, fed frame by frame, finished before commit.

    `relay` is the device that signed the pack: when it is the central registry, the changes
    it relays were authorised when it first received them (only authenticity is checked).
    `attest` (recovering a backup) accepts changes of revoked devices, recorded as attested.
    """

    def __init__(self, reg: Registry, relay: dict | None = None, *, source: str = "",
                 attest: str | None = None):
        self.reg = reg
        self.project_id = reg.project_id
        self.start = prefix(self.project_id)
        self.relay_central = bool(relay and relay.get("role") == "central"
                                  and relay.get("device_id") != reg.device_id)
        self.source = source
        self.attest = attest
        self.devices: dict[str, dict | None] = {}
        self.slots: dict[tuple[str, int], str] = {}
        self.seen: list[tuple] = []
        self.attested: list[Change] = []

    def device(self, device_id: str) -> dict | None:
        """The enrolled device behind origin `device_id` (a restored database's generation
        `<device>~<generation>` is its device: same key, same capabilities)."""
        if device_id not in self.devices:
            row = self.reg.conn.execute(
                "SELECT name, public_key, revoked_at, role, capabilities FROM device "
                "WHERE device_id = ?", (device_of(device_id),)).fetchone()
            d = None
            if row is not None and row[1]:
                d = dict(zip(("name", "public_key", "revoked_at", "role", "capabilities"), row))
                d["device_id"] = device_id
                d["caps"] = capabilities_of(d)
                try:
                    d["key"] = _verifier(row[1])
                except (ValueError, binascii.Error):
                    d = None
            self.devices[device_id] = d
        return self.devices[device_id]

    def check(self, rows: list, changes: list[Change]) -> list[Change]:
        """Judge one frame's changes (parsed from `rows`); return them carrying prev and sig."""
        pending = []
        slots, seen, start, relay = self.slots, self.seen, self.start, self.relay_central
        spans: dict[str, list[int]] = {}
        last, d, span, judge = None, None, None, False
        for row, c in zip(rows, changes, strict=True):
            prev, sig = row[-TRUST_COLUMNS:] if len(row) == SIGNED else (None, None)
            if (prev is not None and (prev.__class__ is not str or len(prev) != 64)) or (
                    sig is not None and (sig.__class__ is not str or len(sig) > 200)):
                raise TrustError(f"{_label(c)}: malformed signature")
            device_id, seq = c.device_id, c.seq
            if device_id != last:  # a pack holds long runs of one device's changes
                d = self.device(device_id)
                if d is None:
                    raise TrustError(f"{_label(c)}: made by an unknown device "
                                     f"{device_id[:36]}; refused")
                last, judge = device_id, bool(d["revoked_at"]) or not relay
                span = spans.setdefault(device_id, [seq, seq])
            if seq < span[0]:
                span[0] = seq
            elif seq > span[1]:
                span[1] = seq
            slot = (device_id, seq)
            other = slots.get(slot)
            if other is not None and other != c.change_id:
                raise TrustError(self._fork(d, seq, other, c.change_id))
            slots[slot] = c.change_id
            seen.append((device_id, seq, c.change_id,
                         sha256(row_message(start, row, c.clock, prev)).digest(), prev, sig,
                         (c.record_type, c.record_id)))
            if judge and (d["revoked_at"] or not permits(d["caps"], c)):
                pending.append((d, c))  # judged below, unless this database already holds it
            # `c` was made by parse_change for this frame alone: give it its trust columns
            # in place (a merge handles every change; dataclasses.replace would double that).
            object.__setattr__(c, "prev", prev)
            object.__setattr__(c, "sig", sig)
        if pending:
            known = self._known([c.change_id for _, c in pending])
            for d, c in pending:
                if c.change_id not in known:
                    self._judge_new(d, c)
        self._forks(changes, spans)
        return changes

    def _judge_new(self, d: dict, c: Change) -> None:
        """A change new to this database from a revoked origin or outside its capabilities."""
        if d["revoked_at"]:
            if self.attest:
                self.attested.append(c)
            elif not self.relay_central:
                raise TrustError(f"{_label(c)}: its device {d['name']} was revoked at "
                                 f"{d['revoked_at']}, before this registry received it")
        if self.relay_central:
            return
        missing = [n for n in needed(c) if n not in d["caps"]]
        if missing:
            raise TrustError(f"{_label(c)}: device {d['name']} lacks the capability "
                             f"{', '.join(missing)} (the user name {c.by!r} grants nothing)")

    def _held_unsigned(self, entries: list[tuple]) -> dict[str, bytes]:
        """change id -> content digest of the unsigned changes among `entries` that this
        database already holds unsigned (older rows: accepted only as an exact copy)."""
        held: dict[str, bytes] = {}
        ids = [e[2] for e in entries]
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for row in self.reg.conn.execute(
                    "SELECT change_id, device_id, seq, record_type, record_id, fields, base, at, "
                    "by, note, coalesce(hlc, at), prev FROM change WHERE sig IS NULL AND "
                    f"change_id IN ({', '.join('?' for _ in chunk)})", chunk):
                held[row[0]] = sha256(message(self.project_id, *row)).digest()
        return held

    def _known(self, ids: list[str]) -> set[str]:
        known: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            known.update(r[0] for r in self.reg.conn.execute(
                f"SELECT change_id FROM change WHERE change_id IN "
                f"({', '.join('?' for _ in chunk)})", chunk))
        return known

    def _forks(self, changes: list[Change], spans: dict[str, list[int]]) -> None:
        """A change whose (device, seq) already holds another change here is a fork (`spans`:
        each device's lowest and highest seq among `changes`)."""
        stored: dict[tuple[str, int], str] = {}
        for device_id, (low, high) in spans.items():
            for seq, cid in self.reg.conn.execute(
                    "SELECT seq, change_id FROM change WHERE device_id = ? AND seq BETWEEN ? "
                    "AND ?", (device_id, low, high)):
                stored[(device_id, seq)] = cid
        if not stored:
            return
        for c in changes:
            here = stored.get((c.device_id, c.seq))
            if here is not None and here != c.change_id:
                d = self.device(c.device_id)
                if not self._signed(d, c):  # a forgery, not the device's own second change
                    raise TrustError(f"{_label(c)}: signature of device {d['name']} does not "
                                     "verify (altered, or not made by it)")
                raise TrustError(self._fork(d, c.seq, here, c.change_id))

    @staticmethod
    def _fork(d: dict, seq: int, first: str, second: str) -> str:
        return (f"fork: device {d['name']} has two different changes with seq {seq}: "
                f"{first} and {second}; refused (restore that laptop properly, then re-export)")

    def _signed(self, d: dict, c: Change) -> bool:
        for entry in self.seen:
            if entry[2] == c.change_id:
                return _verify(d["key"], entry[5], entry[3])
        return False

    def finish(self) -> None:
        """Verify every change seen: one signature per unbroken run of a device's changes."""
        first: dict[str, tuple] = {}
        for entry in self.seen:  # a change twice in one pack: the first copy is the one kept
            first.setdefault(entry[2], entry)
        entries = sorted(first.values(), key=lambda e: (e[0], e[1]))
        held = self._held_unsigned([e for e in entries if not e[5]])
        for i, entry in enumerate(entries):
            nxt = entries[i + 1] if i + 1 < len(entries) else None
            if (nxt is not None and nxt[0] == entry[0] and nxt[1] == entry[1] + 1
                    and nxt[4] == link(entry[3], entry[5])):
                continue  # the next change's signature covers this one
            if held.get(entry[2]) == entry[3]:
                continue  # unsigned (made before signing), and exactly the copy held here
            d = self.device(entry[0])
            if not _verify(d["key"], entry[5], entry[3]):
                record_type, record_id = entry[6]
                raise TrustError(f"change {entry[2][:8]} of {record_type} {record_id[:8]}: "
                                 f"signature of device {d['name']} does not verify (altered, "
                                 "or not made by it)")
        if self.attested:
            stamp = now()
            self.reg.conn.executemany(
                "INSERT OR IGNORE INTO attestation (change_id, device_id, attested_by, "
                "attested_at, source) VALUES (?, ?, ?, ?, ?)",
                [(c.change_id, c.device_id, self.attest, stamp, self.source)
                 for c in self.attested])


def _verify(key: Ed25519PublicKey, sig: str | None, digest: bytes) -> bool:
    if not sig:
        return False
    try:
        key.verify(base64.b64decode(sig, validate=True), digest)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def revoked_attested(reg: Registry) -> int:
    """How many changes of revoked devices an admin attested (for the devices page)."""
    try:
        return reg.conn.execute("SELECT count(*) FROM attestation").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
