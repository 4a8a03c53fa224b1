"""Disclosure control across publications: sensitive totals released on change, checked
against the ledger of everything the project ever published.

A resident sees every household's status on the public site, so he can enumerate who entered or
left any group between two nights. Any total over a group that changed by a few known households
gives their values away by subtraction, and a group whose members all share an attribute gives
it away without subtraction. So a sensitive total (a field the survey marks sensitive: hardship,
health, the members' data) is:

1. Computed at project level only, over the surveyed households: never per zone or status.
2. Released only if, against EVERY earlier release of that cell in the ledger
   (disclosure_release), the households whose contribution differs number at least K_CHANGED,
   and the difference is at least SLACK away from the smallest and the largest difference that
   those households could explain; once with all of them, and once with only the households an
   observer can see changing (entering or leaving the surveyed set), as an observer who ignores
   invisible edits would reason. A difference at an extreme would say "all of these have it" or
   "none of these has it".
3. A count is released only while at least K_CHANGED households have the attribute and at least
   K_CHANGED do not (homogeneity: "5 of 5 are 低保" names five households).
4. Rounded (counts to ROUND_COUNT, sums to ROUND_SUM), so that what remains is a coarse figure.

When a candidate fails, the publication repeats the cell's last release (or shows nothing if
there was none): a repeated value tells nothing new. The ledger is written in one transaction
before the publication file is put in place; a release that never went public only makes later
checks stricter.
"""

from __future__ import annotations

import json
import struct
import uuid
import zlib
from array import array
from dataclasses import dataclass
from itertools import accumulate

from anju.registry.core.changes import now
from anju.registry.core.definition import Field
from anju.registry.core.store import Registry

K_CHANGED = 10
SLACK = 3
ROUND_COUNT = 5
ROUND_SUM = 10
# The largest per-household value of a summed field an observer may assume, without a max.
DEFAULT_MAX = 50


@dataclass(frozen=True)
class Cell:
    """One sensitive total: a choice's count (choice set) or a numeric field's sum."""

    key: str
    field: Field
    choice: str | None

    @property
    def label(self) -> str:
        if self.choice is None:
            return f"{self.field.label['zh']}合计"
        return self.field.choice_label(self.choice)

    @property
    def high(self) -> float:
        """The most one household can add to this cell (what an observer may assume)."""
        if self.choice is not None:
            return 1
        return float(self.field.constraint.get("max", DEFAULT_MAX))

    @property
    def step(self) -> int:
        return ROUND_COUNT if self.choice is not None else ROUND_SUM


def sensitive_cells(totalled: list[Field]) -> list[Cell]:
    """The cells of the sensitive `total` fields, in definition order."""
    cells = []
    for f in totalled:
        if not f.sensitive:
            continue
        if f.type in ("select_one", "select_multiple"):
            cells += [Cell(f"{f.name}:{c.value}", f, c.value) for c in f.choices]
        elif f.type in ("integer", "decimal"):
            cells.append(Cell(f.name, f, None))
    return cells


def contributions(cells: list[Cell], rows: list[dict], population: frozenset) -> dict:
    """What this publication's totals are made of: the counted (surveyed) households and, per
    cell, each one's non-zero contribution: {"counted": {ids}, cell key: {id: value}}."""
    counted = [r for r in rows if r["status"] in population]
    out: dict = {"counted": {r["id"] for r in counted}}
    for cell in cells:
        name = cell.field.name
        values = {}
        for r in counted:
            v = r.get(name)
            if cell.choice is None:
                if isinstance(v, int | float) and v:
                    values[r["id"]] = v
            else:
                items = json.loads(v) if cell.field.type == "select_multiple" and v else [v]
                if cell.choice in (items or []):
                    values[r["id"]] = 1
        out[cell.key] = values
    return out


def _rounded(value: float, step: int) -> float:
    return float(int((value + step / 2) // step) * step)


@dataclass(frozen=True)
class Basis:
    """What one release was made of, by household number: who was counted, who contributed."""

    counted: frozenset
    values: dict

    def encode(self) -> bytes:
        """Sorted numbers as deltas in uint32 arrays, values as doubles, all zlib-compressed."""
        keys = sorted(self.values)
        parts = [array("I", _deltas(sorted(self.counted))).tobytes(),
                 array("I", _deltas(keys)).tobytes(),
                 array("d", [self.values[k] for k in keys]).tobytes()]
        header = struct.pack("<3I", *(len(p) for p in parts))
        return zlib.compress(header + b"".join(parts))

    @classmethod
    def decode(cls, blob: bytes, shared: dict | None = None) -> Basis:
        """The basis in `blob`; `shared` (bytes → set) lets the cells released by one
        publication, which counted the same households, share one decoded set."""
        raw = zlib.decompress(blob)
        sizes = struct.unpack_from("<3I", raw)
        pos, parts = 12, []
        for size, code in zip(sizes, "IId"):
            parts.append(array(code, raw[pos:pos + size]))
            pos += size
        counted, keys, values = parts
        key = raw[12:12 + sizes[0]]
        households = shared.get(key) if shared is not None else None
        if households is None:
            households = frozenset(accumulate(counted))
            if shared is not None:
                shared[key] = households
        return cls(households, dict(zip(accumulate(keys), values)))


def _deltas(numbers: list[int]) -> list[int]:
    return [b - a for a, b in zip([0] + numbers, numbers)]


def check(cell: Cell, current: Basis, earlier: list[Basis],
          moves: dict | None = None) -> str | None:
    """Why `current` may not be released after the `earlier` bases of this cell, or None.

    `moves` caches who entered and left the counted set between `current` and an earlier
    counted set (the same for every cell of one publication)."""
    total = sum(current.values.values())
    if cell.choice is not None and (len(current.values) < K_CHANGED
                                    or len(current.counted) - len(current.values) < K_CHANGED):
        return "homogeneous"
    if cell.choice is None and len(current.counted) < K_CHANGED:
        return "too few households"
    hi = cell.high
    for basis in earlier:
        key = (id(current.counted), id(basis.counted))
        if moves is not None and key in moves:
            entered, left = moves[key]
        else:
            entered = current.counted - basis.counted
            left = basis.counted - current.counted
            if moves is not None:
                moves[key] = (entered, left)
        # Set operations in C: who gained or lost a contribution while counted in both, then
        # (sums only: a count's contributions are all 1) who changed its value.
        edited = {h for h in current.values.keys() ^ basis.values.keys()
                  if h in current.counted and h in basis.counted}
        if cell.choice is None:
            edited |= {h for h in current.values.keys() & basis.values.keys()
                       if current.values[h] != basis.values[h]}
        changed = len(entered) + len(left) + len(edited)
        if not changed:
            continue
        if changed < K_CHANGED:
            return "differs from an earlier release by too few households"
        d = total - sum(basis.values.values())
        # What an observer could explain: entering adds 0..hi, leaving takes 0..hi, an
        # invisible edit moves -hi..hi; once with every change, once with the visible ones.
        models = [(-hi * (len(left) + len(edited)), hi * (len(entered) + len(edited)))]
        if entered or left:
            models.append((-hi * len(left), hi * len(entered)))
        for low, high in models:
            if d - low < SLACK or high - d < SLACK:
                return "difference at an extreme"
    return None


def _numbers(reg: Registry, ids: set[str]) -> dict[str, int]:
    """Each household's number in the ledger (assigned on first sight, never reused)."""
    known = dict(reg.conn.execute("SELECT household_id, n FROM disclosure_household"))
    new = sorted(ids - known.keys())
    start = max(known.values(), default=0) + 1
    reg.conn.executemany("INSERT INTO disclosure_household (household_id, n) VALUES (?, ?)",
                         [(h, start + i) for i, h in enumerate(new)])
    known.update({h: start + i for i, h in enumerate(new)})
    return known


def release(reg: Registry, cells: list[Cell], current: dict) -> list[dict]:
    """Decide, record in the ledger and return what this publication shows for each cell:
    [{cell, field, field_label, choice, choice_label, value (or None), released_at}]."""
    publication_id = str(uuid.uuid4())
    at = now()
    shown, out = {}, []
    own = not reg.conn.in_transaction
    if own:
        reg.conn.execute("BEGIN IMMEDIATE")  # one publication at a time decides
    try:
        number = _numbers(reg, set(current["counted"])) if cells else {}
        counted = frozenset(number[h] for h in current["counted"])
        shared: dict = {}
        moves: dict = {}
        for cell in cells:
            history = reg.conn.execute(
                "SELECT release_id, published, basis, released_at FROM disclosure_release "
                "WHERE cell = ? ORDER BY release_id", (cell.key,)).fetchall()
            bases = [Basis.decode(b, shared) for _, _, b, _ in history]
            basis = Basis(counted, {number[h]: v for h, v in current[cell.key].items()})
            reason = check(cell, basis, bases, moves)
            last = history[-1] if history else None
            if reason is None and not (bases and bases[-1] == basis):
                total = sum(basis.values.values())
                published = _rounded(total, cell.step)
                cur = reg.conn.execute(
                    "INSERT INTO disclosure_release (cell, value, published, basis, "
                    "publication_id, released_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (cell.key, total, published, basis.encode(), publication_id, at))
                last = (cur.lastrowid, published, None, at)
            shown[cell.key] = last[0] if last else None
            out.append({"cell": cell.key, "field": cell.field.name,
                        "field_label": cell.field.label["zh"], "choice": cell.choice,
                        "choice_label": cell.label,
                        "value": int(last[1]) if last else None,
                        "released_at": last[3] if last else None})
        reg.conn.execute("INSERT INTO disclosure_publication (publication_id, at, shown) "
                         "VALUES (?, ?, ?)", (publication_id, at, json.dumps(shown)))
        if own:
            reg.conn.execute("COMMIT")
    except BaseException:
        if own:
            reg.conn.execute("ROLLBACK")
        raise
    return out


def write_table(conn, released: list[dict]) -> None:
    """The public table of the sensitive totals (project level, rounded, released on change)."""
    conn.execute("CREATE TABLE sensitive_total (field TEXT, field_label TEXT, choice TEXT, "
                 "choice_label TEXT, total INTEGER, released_at TEXT)")
    conn.executemany("INSERT INTO sensitive_total VALUES (?, ?, ?, ?, ?, ?)", [
        (r["field"], r["field_label"], r["choice"], r["choice_label"], r["value"],
         r["released_at"]) for r in released])
