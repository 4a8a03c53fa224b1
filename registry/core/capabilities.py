"""What a device may write: the capability names and the rule saying what a change needs.

The central office grants capabilities to each device at enrolment (registry/sync/enrollment.py,
`anju device enroll --capability`); the merge refuses a change outside its origin's capabilities
(registry/sync/authority.py), and a database refuses to make one itself (registry/core/store.py),
so a laptop never writes work that the central registry would refuse.
"""

from __future__ import annotations

import json

import yaml
from anju.registry.core import contract
from anju.registry.core.changes import DELETED, Change
from anju.registry.core.i18n import N_
from anju.registry.core.origin import device_of

# Capability -> (Chinese, English) description. The order is the order pages show them in.
CAPABILITIES = {
    "survey": (N_("登记调查：住户、成员、走访、附件，状态至已登记"),
               "Survey: households, members, visits, attachments, status up to surveyed"),
    "status": (N_("推进已登记之后的状态"), "Status moves beyond surveyed"),
    "agreements": (N_("签订与变更补偿协议"), "Compensation agreements and amendments"),
    "decisions": (N_("审核决定"), "Review decisions"),
    "resolutions": (N_("裁决冲突"), "Conflict resolutions"),
    "tombstones": (N_("注销住户"), "Household tombstones"),
    "completion": (N_("付款、交房与拆除"), "Payments, handover and demolition"),
    "legal": (N_("征收法定程序：公示、异议、评估、补偿决定"),
              "Lawful path: publication rounds, objections, valuations, compensation decisions"),
}
# anju's own records (schema/system_records.yaml) and the capability each needs. The rule is
# deny by default: a system record not listed here needs CENTRAL, which only the central
# registry holds and no enrolment can grant. Every other record type is the project's survey
# (households, members, visits, attachments, ...).
SYSTEM_RECORDS = {"agreement": "agreements", "decision": "decisions", "payment": "completion",
                  "handover": "completion", "publication_round": "legal", "objection": "legal",
                  "valuation": "legal", "compensation_decision": "legal", "fixture": "legal"}
CENTRAL = "central"  # held by the central registry alone; not in CAPABILITIES, never granted
ALL = frozenset(CAPABILITIES)
FIELD_DEFAULT = frozenset({"survey"})
FIELD_STATUSES = frozenset({None, "unsurveyed", "surveyed"})  # a field laptop's moves: to 已登记
# Status moves that only the holder of a record's capability makes (registry/core/workflow.py
# RECORDED): 已签约 with an agreement, 已交房 and 已拆除 with completion. Every other move beyond
# 已登记 needs `status`.
STATUS_NEEDS = {"signed": "agreements", "handed_over": "completion", "demolished": "completion"}
_SYSTEM: dict[str, str] | None = None


def system_records() -> dict[str, str]:
    """Every system record type -> the capability it needs (CENTRAL where none is named)."""
    global _SYSTEM
    if _SYSTEM is None:
        names = set(contract.SYSTEM_RECORDS)
        names |= set(yaml.safe_load(contract.system_records_text())["records"])
        _SYSTEM = {n: SYSTEM_RECORDS.get(n, CENTRAL) for n in names}
    return _SYSTEM


def status_needs(value) -> str | None:
    """The capability a household status move to `value` needs (None: a field laptop's)."""
    if value in FIELD_STATUSES:
        return None
    return STATUS_NEEDS.get(value, "status") if isinstance(value, str) else "status"


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
        return ALL | {CENTRAL}
    text = device.get("capabilities")
    return FIELD_DEFAULT if text is None else from_text(text)


def needed(change: Change) -> list[str]:
    """The capabilities a change needs, in CAPABILITIES order (CENTRAL last)."""
    need = {system_records().get(change.record_type, "survey")}
    fields = change.fields
    if change.record_type == "household":
        if DELETED in fields:
            need.add("tombstones")
        if "status" in fields:
            status = status_needs(fields["status"])
            if status:
                need.add(status)
    if any(isinstance(b, list) and len(b) > 1 for b in change.base.values()):
        need.add("resolutions")
    return [c for c in (*CAPABILITIES, CENTRAL) if c in need]


def permits(caps: frozenset[str], change: Change) -> bool:
    """Whether `caps` cover `change`: `needed(change)` without building it (the merge asks for
    every change)."""
    rt = change.record_type
    system = (_SYSTEM if _SYSTEM is not None else system_records()).get(rt)
    if system is not None:
        ok = system in caps
    else:
        ok = "survey" in caps
        if ok and rt == "household":
            f = change.fields
            if DELETED in f and "tombstones" not in caps:
                return False
            if "status" in f and f["status"] not in FIELD_STATUSES \
                    and status_needs(f["status"]) not in caps:
                return False
    if ok and "resolutions" not in caps:
        for b in change.base.values():
            if b.__class__ is list and len(b) > 1:
                return False
    return ok


def device_capabilities(conn, device_id: str) -> frozenset[str] | None:
    """The capabilities of device `device_id` (an origin's generation counts as its device),
    or None when this database does not know it."""
    row = conn.execute("SELECT role, capabilities FROM device WHERE device_id = ?",
                       (device_of(device_id),)).fetchone()
    if row is None:
        return None
    return capabilities_of({"role": row[0], "capabilities": row[1]})


def may_resolve(conn, device_id: str) -> bool:
    """Whether this database's device may supersede every head of a conflicted field."""
    caps = device_capabilities(conn, device_id)
    return caps is None or "resolutions" in caps


def missing_here(conn, device_id: str, change: Change) -> list[str]:
    """The capabilities this database's own device lacks to make `change`."""
    caps = device_capabilities(conn, device_id)
    if caps is None:
        return []
    return [n for n in needed(change) if n not in caps]
