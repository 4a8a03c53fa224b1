"""Changes and the fold: how a record's current values follow from its change set.

A change sets some fields of one record. For each field, a change supersedes every change in its
base chain (what its editor had seen); among the changes left (the heads) the winner is the
greatest (hlc, device_id, change_id), `hlc` being the hybrid logical clock of registry/clock.py
(the wall-clock `at` of changes made before it existed). Heads with different values are a
conflict; equal text in NFC and NFD is one value, and two deletions never conflict, whatever
their reasons. The fold is a pure function of the set of changes, so any order or grouping of
merges gives the same records.
"""

from __future__ import annotations

import json
import operator
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from anju.registry.core import clock
from anju.registry.core.normalise import canonical

DELETED = "_deleted"  # the field a tombstone sets: its value is the reason, null restores


def now() -> str:
    """The current UTC time in the change log's format (this computer's wall clock)."""
    return clock.wall()


def new_id() -> str:
    """A fresh record or change id."""
    return str(uuid.uuid4())


def dumps(value: Any) -> str:
    """Canonical JSON: the one way values are written to the log and hashed."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Change:
    """One row of the change log."""

    change_id: str
    device_id: str
    seq: int
    record_type: str
    record_id: str
    fields: dict[str, Any]
    base: dict[str, Any] = field(default_factory=dict)
    at: str = ""
    by: str = ""
    note: str | None = None
    hlc: str = ""  # the hybrid logical clock; "" for changes made before it: `at` stands in
    prev: str | None = None   # link to the origin's previous change (registry/core/signing.py)
    sig: str | None = None    # the origin's signature (covers hlc too)

    @property
    def clock(self) -> str:
        """The time that orders this change among concurrent ones."""
        return self.hlc or self.at

    @property
    def order(self) -> tuple:
        return (self.clock, self.device_id, self.change_id)

    def bases(self, name: str) -> list[str]:
        """The change ids this change had seen for field `name`."""
        b = self.base.get(name)
        if b is None:
            return []
        return [b] if isinstance(b, str) else list(b)

    def row(self) -> tuple:
        return (self.change_id, self.device_id, self.seq, self.record_type, self.record_id,
                dumps(self.fields), dumps(self.base), self.at, self.by, self.note,
                self.clock)

    def as_dict(self) -> dict:
        return {"change_id": self.change_id, "device_id": self.device_id, "seq": self.seq,
                "record_type": self.record_type, "record_id": self.record_id,
                "fields": self.fields, "base": self.base, "at": self.at, "by": self.by,
                "note": self.note, "hlc": self.clock}

    @classmethod
    def from_row(cls, row) -> Change:
        return cls(change_id=row[0], device_id=row[1], seq=row[2], record_type=row[3],
                   record_id=row[4], fields=json.loads(row[5]), base=json.loads(row[6]),
                   at=row[7], by=row[8], note=row[9],
                   hlc=(row[10] or "") if len(row) > 10 else "")

    @classmethod
    def from_dict(cls, d: dict) -> Change:
        return cls(**{k: d.get(k) for k in ("change_id", "device_id", "seq", "record_type",
                                             "record_id", "fields", "base", "at", "by", "note")},
                   hlc=d.get("hlc") or "")


@dataclass
class State:
    """A record's current state as the fold of its changes."""

    values: dict[str, Any]
    heads: dict[str, list[Change]]      # field -> its head changes, winner first
    created: Change | None = None
    updated: Change | None = None

    def winner(self, name: str) -> Change | None:
        heads = self.heads.get(name)
        return heads[0] if heads else None

    @property
    def deleted(self) -> str | None:
        return self.values.get(DELETED)

    def conflicts(self) -> dict[str, list[Change]]:
        """Fields whose heads disagree on the value, with those heads (winner first)."""
        out = {}
        for name, heads in self.heads.items():
            if len(heads) < 2 or (name == DELETED and all(h.fields[name] for h in heads)):
                continue  # deleted is deleted, whatever reasons two people gave
            if len({dumps(canonical(h.fields[name])) for h in heads}) > 1:
                out[name] = heads
        return out


def fold(changes: Iterable[Change]) -> State:
    """Fold one record's changes into its current state (order of input does not matter)."""
    changes = sorted(changes, key=_ORDER)
    by_id = {c.change_id: c for c in changes}
    touching: dict[str, list[Change]] = {}
    for c in changes:
        for name in c.fields:
            touching.setdefault(name, []).append(c)
    values, heads = {}, {}
    for name, cands in touching.items():
        if len(cands) == 1:  # a field set once: its only change is the head
            heads[name] = cands
            values[name] = cands[0].fields[name]
            continue
        superseded: set[str] = set()
        for c in cands:
            stack = c.bases(name)
            while stack:
                cid = stack.pop()
                if cid in superseded:
                    continue
                superseded.add(cid)
                prior = by_id.get(cid)
                if prior is not None and name in prior.fields:
                    stack.extend(prior.bases(name))
        live = [c for c in cands if c.change_id not in superseded] or cands  # a forged cycle
        live = live[::-1]  # cands are in (hlc, device_id, change_id) order: greatest first
        heads[name] = live
        values[name] = live[0].fields[name]
    return State(values=values, heads=heads, created=changes[0] if changes else None,
                 updated=changes[-1] if changes else None)


_ORDER = operator.attrgetter("order")
