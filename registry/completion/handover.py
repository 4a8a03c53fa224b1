"""The handover of a house (交房) and its demolition (拆除), with the statuses that follow.

A household has at most one `handover` record (its id derives from the household's, so two
devices recording one handover meet in one record). Recording the handover moves a signed
household to 已交房 in the same transaction; recording the demolition date moves it on to
已拆除. The statuses follow the records: no button moves a household there without them.
"""

from __future__ import annotations

import datetime as dt
import uuid

from anju.registry.compensation.agreements import agreements_of
from anju.registry.core.store import Registry, StoreError, transaction
from anju.registry.core.workflow import WorkflowError, move_values

YES_NO = ("yes", "no")


class HandoverError(StoreError):
    """A handover or demolition that cannot be recorded as asked (message for people)."""


def handover_id(household_id: str) -> str:
    """The one handover record of a household, the same on every device."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"anju:handover:{household_id}"))


def handover_of(reg: Registry, household_id: str) -> dict | None:
    row = reg.get("handover", handover_id(household_id))
    return None if row is None or row.get("deleted") else row


def _day(text, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise HandoverError(f"{what}格式应为 年-月-日") from None


def record_handover(reg: Registry, household_id: str, *, handed_over_on: str,
                    utilities_cut: str, keys_received: str, by: str,
                    inspection_note: str | None = None) -> str:
    """Record the handover of a signed household's house; it moves to 已交房."""
    day = _day(handed_over_on, "交房日期")
    if utilities_cut not in YES_NO or keys_received not in YES_NO:
        raise HandoverError("请填写水电是否已停、钥匙是否已收")
    if keys_received != "yes":
        raise HandoverError("未收到钥匙,不能登记交房")
    with transaction(reg.conn):
        household = reg.get("household", household_id)
        if household is None or household.get("deleted"):
            raise HandoverError("没有这户住户")
        in_force = next((a for a in agreements_of(reg, household_id) if a["in_force"]), None)
        if in_force is None:
            raise HandoverError("这户没有现行协议,不能登记交房")
        if day < dt.date.fromisoformat(in_force["signed_on"]):
            raise HandoverError(f"交房日期不能早于签约日期({in_force['signed_on']})")
        if handover_of(reg, household_id):
            raise HandoverError("这户已登记交房")
        status = None
        if household.get("status") != "handed_over":
            try:
                status = move_values(reg, household_id, "handed_over")
            except WorkflowError:
                raise HandoverError("当前状态不能登记交房(须为已签约)") from None
        hid = handover_id(household_id)
        reg.apply([reg.make_change("handover", hid, {
            "household_id": household_id, "handed_over_on": day.isoformat(),
            "utilities_cut": utilities_cut, "keys_received": keys_received,
            "inspection_note": (inspection_note or "").strip() or None}, by=by, full=True)])
        if status:
            reg.apply([reg.make_change("household", household_id, status, by=by,
                                       note=f"{household.get('status')} -> handed_over")])
    return hid


def record_demolition(reg: Registry, household_id: str, *, demolished_on: str, by: str) -> None:
    """Record the demolition of a handed-over house; it moves to 已拆除."""
    day = _day(demolished_on, "拆除日期")
    with transaction(reg.conn):
        household = reg.get("household", household_id)
        handover = handover_of(reg, household_id)
        if household is None or household.get("deleted") or handover is None:
            raise HandoverError("这户尚未登记交房,不能登记拆除")
        if handover.get("demolished_on"):
            raise HandoverError("这户已登记拆除")
        if day < dt.date.fromisoformat(handover["handed_over_on"]):
            raise HandoverError(f"拆除日期不能早于交房日期({handover['handed_over_on']})")
        try:
            status = move_values(reg, household_id, "demolished")
        except WorkflowError:
            raise HandoverError("当前状态不能登记拆除(须为已交房)") from None
        reg.apply([reg.make_change("handover", handover["id"], {"demolished_on": day.isoformat()},
                                   by=by)])
        reg.apply([reg.make_change("household", household_id, status, by=by,
                                   note=f"{household.get('status')} -> demolished")])


def zone_counts(reg: Registry) -> dict[str, dict]:
    """Per zone: households handed over and demolished, by the records (not the status)."""
    out: dict[str, dict] = {}
    for zone, handed, demolished in reg.conn.execute(
            "SELECT h.zone, count(*), count(o.demolished_on) FROM handover o "
            "JOIN household h ON h.id = o.household_id "
            "WHERE o.deleted IS NULL AND h.deleted IS NULL GROUP BY h.zone"):
        out[zone or ""] = {"handed_over": handed, "demolished": demolished}
    return out
