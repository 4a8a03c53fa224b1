"""Counted attachments of a house (附属物清点): entering and withdrawing `fixture` records.

A counted item names a code of the rules' price list (`attachments`) and a quantity; the
calculation prices it (calculation._attachments). Entering checks the code against the current
rules so that a typo is refused at the desk, not discovered at signing; a count is withdrawn by
a tombstone with a reason (never a physical delete). A signed agreement is frozen: a count
changed afterwards changes the estimates, and the agreement only through an amendment.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from anju.registry.compensation.calculation import ATTACHMENT_UNITS, fixtures_of, q, rules_of
from anju.registry.core.store import Registry, StoreError


class FixtureError(StoreError):
    """A count that cannot be recorded as asked; the message is for people (Chinese)."""


def price_list(reg: Registry) -> list[dict]:
    """The current rules' attachments price list (code, name, unit, unit_price)."""
    return list(rules_of(reg).data.get("attachments") or [])


def record_fixture(reg: Registry, household_id: str, *, item_code: str, quantity, by: str,
                   note: str | None = None) -> str:
    """Record one counted item of a household; return the record's id."""
    if "fixture" not in reg.definition.records:
        raise FixtureError("此登记库不能记录附属物清点,请用新版调查表")
    household = reg.get("household", household_id)
    if household is None or household.get("deleted"):
        raise FixtureError("没有这户住户")
    code = (item_code or "").strip()
    prices = {e["code"]: e for e in price_list(reg)}
    if code not in prices:
        raise FixtureError(f"附属物代码 {code or '(空)'} 不在补偿方案的附属物清单中")
    try:
        number = Decimal(str(quantity).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise FixtureError("数量应为数字") from None
    if not number.is_finite() or number <= 0 or number > 100000:
        raise FixtureError("数量应大于 0,且不超过 100000")
    if number != number.quantize(Decimal("0.01")):
        raise FixtureError("数量最多两位小数")
    values = {"household_id": household_id, "item_code": code, "quantity": str(number),
              "note": (note or "").strip()[:500] or None}
    return reg.save("fixture", None, values, by=by, full=True)


def withdraw_fixture(reg: Registry, household_id: str, fixture_id: str, *, reason: str,
                     by: str) -> None:
    """Withdraw a counted item (a tombstone with its reason)."""
    row = reg.get("fixture", fixture_id)
    if row is None or row.get("deleted") or row.get("household_id") != household_id:
        raise FixtureError("这户没有这条附属物清点记录")
    if not (reason or "").strip():
        raise FixtureError("撤销清点记录须写明理由")
    reg.delete("fixture", fixture_id, reason=reason, by=by)


def priced(reg: Registry, household_id: str) -> list[dict]:
    """The household's counted items with name, unit and amount by the current rules (None
    when the list does not price the code)."""
    prices = {e["code"]: e for e in price_list(reg)}
    out = []
    for f in fixtures_of(reg, household_id):
        entry = prices.get(f["item_code"])
        qty = Decimal(str(f["quantity"]))
        out.append({**f, "quantity": qty, "name": entry["name"] if entry else None,
                    "unit": ATTACHMENT_UNITS.get(entry["unit"], entry["unit"]) if entry else "",
                    "unit_price": entry["unit_price"] if entry else None,
                    "amount": q(qty * entry["unit_price"]) if entry else None})
    return out
