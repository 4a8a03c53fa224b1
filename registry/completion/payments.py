"""Payments of compensation (补偿款支付): an append-only ledger against the agreement in force.

Each payment is a `payment` record (schema/system_records.yaml) that is never edited. What is
due is the total of the household's agreement in force when it is positive (a swap household
whose new flat is worth more owes the difference instead: nothing is paid to it). A payment that
would take the paid sum past what is due needs a reason; a wrong entry is undone by a reversing
entry of the opposite amount that names it, with a reason. Amounts are exact (Decimal, fen).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from anju.registry.compensation.agreements import agreements_in_force, agreements_of
from anju.registry.completion import rewards
from anju.registry.core.changes import new_id
from anju.registry.core.store import Registry, StoreError, transaction

FEN = Decimal("0.01")
METHODS = {"bank_transfer": "银行转账", "cheque": "支票", "cash": "现金"}


class PaymentError(StoreError):
    """A payment that cannot be recorded as asked; the message is for people (Chinese)."""


@dataclass(frozen=True)
class Account:
    """What one household's agreement in force is owed and what has been paid against it."""

    household_id: str
    agreement_id: str | None
    due: Decimal
    paid: Decimal

    @property
    def outstanding(self) -> Decimal:
        return self.due - self.paid


def _amount(text) -> Decimal:
    try:
        value = Decimal(str(text).strip().replace(",", "").replace("，", ""))
    except (InvalidOperation, ValueError):
        raise PaymentError("金额应为数字,最多两位小数") from None
    if not value.is_finite() or value != value.quantize(FEN):
        raise PaymentError("金额应为数字,最多两位小数")
    return value


def due_of(agreement: dict, extra: Decimal = Decimal(0)) -> Decimal:
    """What the office pays a household under an agreement: its total with what the handover
    settled (`extra`: the on-time reward, the recounted temporary fee; completion/rewards.py),
    or 0 when negative."""
    return max(agreement["total"] + extra, Decimal(0)).quantize(FEN)


def payments_of(reg: Registry, household_id: str) -> list[dict]:
    """A household's payment entries, oldest first, each with a Decimal amount."""
    rows = reg.children("payment", household_id)
    for row in rows:
        row["amount"] = Decimal(str(row["amount"])).quantize(FEN)
    return sorted(rows, key=lambda r: (r["paid_on"], r["created_at"], r["id"]))


def account(reg: Registry, household_id: str) -> Account:
    """Due, paid and outstanding for a household's agreement in force (zero without one)."""
    in_force = next((a for a in agreements_of(reg, household_id) if a["in_force"]), None)
    if in_force is None:
        return Account(household_id, None, Decimal(0), Decimal(0))
    paid = sum((p["amount"] for p in payments_of(reg, household_id)
                if p["agreement"] == in_force["id"]), Decimal(0))
    extra = rewards.after_handover(reg, in_force).total
    return Account(household_id, in_force["id"], due_of(in_force, extra), paid)


def record_payment(reg: Registry, household_id: str, *, amount, paid_on: str, method: str,
                   voucher_no: str, by: str, reason: str | None = None,
                   reverses: str | None = None) -> str:
    """Record one payment (or, with `reverses`, the reversal of one) and return its id."""
    reason = (reason or "").strip() or None
    voucher_no = (voucher_no or "").strip()
    value = _amount(amount)
    if method not in METHODS:
        raise PaymentError("支付方式应为银行转账、支票或现金")
    if not voucher_no:
        raise PaymentError("请填写凭证号")
    try:
        day = dt.date.fromisoformat(str(paid_on).strip())
    except ValueError:
        raise PaymentError("支付日期格式应为 年-月-日") from None
    with transaction(reg.conn):  # checked and written together: two clerks cannot both overpay
        acct = account(reg, household_id)
        if acct.agreement_id is None:
            raise PaymentError("这户没有现行协议,不能支付")
        agreement = next(a for a in agreements_of(reg, household_id)
                         if a["id"] == acct.agreement_id)
        if day < dt.date.fromisoformat(agreement["signed_on"]):
            raise PaymentError(f"支付日期不能早于签约日期({agreement['signed_on']})")
        entries = payments_of(reg, household_id)
        if reverses:
            target = next((p for p in entries if p["id"] == reverses), None)
            if target is None or target["reverses"]:
                raise PaymentError("要冲正的支付不属于这户,或本身是冲正记录")
            if any(p["reverses"] == reverses for p in entries):
                raise PaymentError("这笔支付已经冲正过")
            if value != -target["amount"]:
                raise PaymentError(f"冲正金额应为 {-target['amount']} 元")
            if not reason:
                raise PaymentError("冲正须写明理由")
        else:
            if value <= 0:
                raise PaymentError("金额应大于 0")
            if acct.due <= 0:
                raise PaymentError("按现行协议这户应补缴差价,无需向其支付")
            if acct.paid + value > acct.due and not reason:
                raise PaymentError(f"支付后将超出应付金额 {acct.due} 元(已付 {acct.paid} 元);"
                                   "如确需超付,请写明理由")
        if any(p["voucher_no"] == voucher_no for p in entries) and not reverses:
            raise PaymentError(f"凭证号 {voucher_no} 已登记过")
        payment_id = new_id()
        values = {"household_id": household_id, "agreement": acct.agreement_id,
                  "amount": str(value), "paid_on": day.isoformat(), "method": method,
                  "voucher_no": voucher_no, "reverses": reverses, "reason": reason}
        change = reg.make_change("payment", payment_id, values, by=by, full=True,
                                 note=f"reverses {reverses}: {reason}" if reverses else None)
        reg.apply([change])
    return payment_id


def zone_totals(reg: Registry) -> list[dict]:
    """Per zone: households with an agreement in force, agreed (due), paid, outstanding."""
    zones: dict[str, dict] = {}
    in_force = agreements_in_force(reg)
    paid: dict[tuple[str, str], Decimal] = {}
    for hid, agreement_id, amount in reg.conn.execute(
            "SELECT household_id, agreement, amount FROM payment WHERE deleted IS NULL"):
        key = (hid, agreement_id)
        paid[key] = paid.get(key, Decimal(0)) + Decimal(str(amount)).quantize(FEN)
    zone_of = dict(reg.conn.execute("SELECT id, zone FROM household WHERE deleted IS NULL"))
    handovers = rewards.handovers(reg)
    for hid, agreement in in_force.items():
        if hid not in zone_of:
            continue
        z = zones.setdefault(zone_of[hid] or "", {"zone": zone_of[hid] or "", "households": 0,
                                                   "due": Decimal(0), "paid": Decimal(0)})
        z["households"] += 1
        extra = rewards.after_handover(reg, agreement, handovers.get(hid)).total
        z["due"] += due_of(agreement, extra)
        z["paid"] += paid.get((hid, agreement["id"]), Decimal(0))
    out = sorted(zones.values(), key=lambda z: z["zone"])
    for z in out:
        z["outstanding"] = z["due"] - z["paid"]
    return out
