"""What a device may write: the capability names and the rule saying what a change needs.

The central office grants capabilities to each device at enrolment (registry/sync/enrollment.py,
`anju device enroll --capability`); the merge refuses a change outside its origin's capabilities
(registry/sync/authority.py), and a database refuses to make one itself (registry/core/store.py),
so a laptop never writes work that the central registry would refuse.
"""

from __future__ import annotations

import json

from anju.registry.core.changes import DELETED, Change

# Capability -> (Chinese, English) description. The order is the order pages show them in.
CAPABILITIES = {
    "survey": ("登记调查：住户、成员、走访、附件，状态至已登记",
               "Survey: households, members, visits, attachments, status up to surveyed"),
    "status": ("推进已登记之后的状态", "Status moves beyond surveyed"),
    "agreements": ("签订与变更补偿协议", "Compensation agreements and amendments"),
    "decisions": ("审核决定", "Review decisions"),
    "resolutions": ("裁决冲突", "Conflict resolutions"),
    "tombstones": ("注销住户", "Household tombstones"),
    "completion": ("付款、交房与拆除", "Payments, handover and demolition"),
}
# anju's own records (schema/system_records.yaml) and the capability each needs; every other
# record type is the project's survey (households, members, visits, attachments, ...).
SYSTEM_RECORDS = {"agreement": "agreements", "decision": "decisions", "payment": "completion",
                  "handover": "completion"}
ALL = frozenset(CAPABILITIES)
FIELD_DEFAULT = frozenset({"survey"})
FIELD_STATUSES = frozenset({None, "unsurveyed", "surveyed"})  # a field laptop's moves: to 已登记


def from_text(text: str) -> frozenset[str]:
    """Capabilities from the device table's JSON list (unknown names ignored)."""
    try:
        value = json.loads(text)
    except ValueError:
        return frozenset()
    return frozenset(v for v in value if v in ALL) if isinstance(value, list) else frozenset()


def capabilities_of(device: dict) -> frozenset[str]:
    """What a device (a row of the device table: role, capabilities) may write."""
    if device.get("role") == "central":
        return ALL
    text = device.get("capabilities")
    return FIELD_DEFAULT if text is None else from_text(text)


def needed(change: Change) -> list[str]:
    """The capabilities a change needs, in CAPABILITIES order."""
    need = {SYSTEM_RECORDS.get(change.record_type, "survey")}
    fields = change.fields
    if change.record_type == "household":
        if DELETED in fields:
            need.add("tombstones")
        if "status" in fields and fields["status"] not in FIELD_STATUSES:
            need.add("status")
    if any(isinstance(b, list) and len(b) > 1 for b in change.base.values()):
        need.add("resolutions")
    return [c for c in CAPABILITIES if c in need]


def permits(caps: frozenset[str], change: Change) -> bool:
    """Whether `caps` cover `change`: `needed(change)` without building it (the merge asks for
    every change)."""
    rt = change.record_type
    system = SYSTEM_RECORDS.get(rt)
    if system is not None:
        ok = system in caps
    else:
        ok = "survey" in caps
        if ok and rt == "household":
            f = change.fields
            if DELETED in f and "tombstones" not in caps:
                return False
            if "status" in f and "status" not in caps and f["status"] not in FIELD_STATUSES:
                return False
    if ok and "resolutions" not in caps:
        for b in change.base.values():
            if b.__class__ is list and len(b) > 1:
                return False
    return ok


def missing_here(conn, device_id: str, change: Change) -> list[str]:
    """The capabilities this database's own device lacks to make `change`."""
    row = conn.execute("SELECT role, capabilities FROM device WHERE device_id = ?",
                       (device_id,)).fetchone()
    if row is None:
        return []
    caps = capabilities_of({"role": row[0], "capabilities": row[1]})
    return [n for n in needed(change) if n not in caps]
