"""After the signature: payments against the agreement in force, handover and demolition, and
the statuses that follow them. Figures are checked against sums the test keeps itself."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from anju.registry.compensation import agreements as ag
from anju.registry.completion import handover as ho
from anju.registry.completion import payments as pay
from anju.registry.core.store import StoreError
from anju.registry.core.workflow import WorkflowError, move
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def today() -> dt.date:
    """Today, read when a test runs (a run may cross midnight)."""
    return dt.date.today()
def signed_on() -> dt.date:
    return today() - dt.timedelta(days=20)


def signed_household(registry, house_no="C-0001", mode="money", flat="F90", **house):
    registry.set_meta("settings", json.dumps({
        "signing_start": str(today() - dt.timedelta(days=60)), "freeze_date": "2020-01-01"}))
    hid = registry.save("household", None, {
        "house_no": house_no, "zone": "东关片区A地块", "address": f"东关街{house_no}号",
        "structure": "brick_concrete", "owner_name": "张伟", "decoration": "medium",
        "cert_area": 80.5, "surveyed_area": 81, **house}, by="tester", full=True)
    for status in ("surveyed", "published", "valued"):
        move(registry, hid, status, by="tester")
    ag.record_agreement(registry, hid, number=f"XY-{house_no}", signed_on=str(signed_on()),
                        mode=mode, by="boss", flat=flat if mode == "swap" else None)
    return hid


def in_force(registry, hid):
    return next(a for a in ag.agreements_of(registry, hid) if a["in_force"])


def pay_once(registry, hid, amount, voucher, **kw):
    return pay.record_payment(registry, hid, amount=amount, paid_on=str(today()),
                              method="bank_transfer", voucher_no=voucher, by="clerk", **kw)


def test_partial_payments_sum_to_what_is_due(registry):
    hid = signed_household(registry)
    total = in_force(registry, hid)["total"]
    first = (total / 3).quantize(Decimal("0.01"))
    pay_once(registry, hid, first, "V-1")
    acct = pay.account(registry, hid)
    assert (acct.due, acct.paid, acct.outstanding) == (total, first, total - first)
    pay_once(registry, hid, total - first, "V-2")
    assert pay.account(registry, hid).outstanding == 0
    # One fen more is an overpayment: refused without a reason, recorded with one.
    with pytest.raises(pay.PaymentError, match="超出应付金额"):
        pay_once(registry, hid, "0.01", "V-3")
    pay_once(registry, hid, "0.01", "V-3", reason="银行手续费由指挥部承担")
    assert pay.account(registry, hid).outstanding == Decimal("-0.01")


def test_refusals_write_nothing(registry, household):
    hid = signed_household(registry)
    count = registry.conn.execute("SELECT count(*) FROM change").fetchone()[0]
    cases = [
        (dict(amount="abc"), "金额"), (dict(amount="10.001"), "两位小数"),
        (dict(amount="0"), "大于 0"), (dict(amount="-5"), "大于 0"),
        (dict(amount="NaN"), "金额"), (dict(method="gold"), "支付方式"),
        (dict(voucher_no=" "), "凭证号"), (dict(paid_on="2026-02-30"), "日期"),
        (dict(paid_on=str(signed_on() - dt.timedelta(days=1))), "早于签约"),
    ]
    for override, words in cases:
        args = dict(amount="100", paid_on=str(today()), method="cash", voucher_no="V-9",
                    by="clerk") | override
        with pytest.raises(pay.PaymentError, match=words):
            pay.record_payment(registry, hid, **args)
    with pytest.raises(pay.PaymentError, match="没有现行协议"):
        pay_once(registry, household, "100", "V-8")
    assert registry.conn.execute("SELECT count(*) FROM change").fetchone()[0] == count


def test_a_voucher_is_used_once_and_a_wrong_entry_is_reversed_not_edited(registry):
    hid = signed_household(registry)
    wrong = pay_once(registry, hid, "1000", "V-1")
    with pytest.raises(pay.PaymentError, match="凭证号 V-1"):
        pay_once(registry, hid, "5", "V-1")
    with pytest.raises(StoreError, match="cannot be changed"):
        registry.save("payment", wrong, {"amount": "10"}, by="clerk")
    with pytest.raises(pay.PaymentError, match="冲正金额应为 -1000.00"):
        pay_once(registry, hid, "-999", "V-1R", reverses=wrong, reason="录错金额")
    with pytest.raises(pay.PaymentError, match="理由"):
        pay_once(registry, hid, "-1000", "V-1R", reverses=wrong)
    pay_once(registry, hid, "-1000", "V-1R", reverses=wrong, reason="录错金额")
    assert pay.account(registry, hid).paid == 0
    with pytest.raises(pay.PaymentError, match="已经冲正过"):
        pay_once(registry, hid, "-1000", "V-1S", reverses=wrong, reason="再冲一次")
    assert len(pay.payments_of(registry, hid)) == 2  # both entries stay for the audit


def test_a_swap_household_that_owes_the_difference_is_paid_nothing(registry):
    # A small simple house swapped for the largest flat: the household pays the difference.
    hid = signed_household(registry, mode="swap", flat="F110", structure="simple",
                           cert_area=15, surveyed_area=15)
    assert in_force(registry, hid)["total"] < 0
    assert pay.account(registry, hid).due == 0
    with pytest.raises(pay.PaymentError, match="应补缴差价"):
        pay_once(registry, hid, "100", "V-1")


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.integers(min_value=-5_000_00, max_value=400_000_00),
                                st.booleans()), min_size=1, max_size=8))
def test_the_ledger_matches_a_reference_sum(tmp_path_factory, steps):
    from anju.registry.core.store import Registry
    registry = Registry.create(tmp_path_factory.mktemp("ledger") / "r.db", project="p",
                               role="central", device_name="central")
    try:
        hid = signed_household(registry)
        due = max(in_force(registry, hid)["total"], Decimal(0))
        paid = Decimal(0)  # the test's own ledger
        for i, (fen, with_reason) in enumerate(steps):
            amount = Decimal(fen) / 100
            reason = "说明" if with_reason else None
            allowed = amount > 0 and due > 0 and (paid + amount <= due or with_reason)
            try:
                pay_once(registry, hid, str(amount), f"V-{i}", reason=reason)
            except pay.PaymentError:
                assert not allowed
            else:
                assert allowed
                paid += amount
        acct = pay.account(registry, hid)
        assert (acct.due, acct.paid, acct.outstanding) == (due, paid, due - paid)
    finally:
        registry.close()


def test_zone_totals_agree_with_the_households(registry):
    a = signed_household(registry, "C-0001")
    b = signed_household(registry, "C-0002")
    pay_once(registry, a, "1000.50", "V-1")
    pay_once(registry, b, "99.50", "V-2")
    [zone] = pay.zone_totals(registry)
    due = in_force(registry, a)["total"] + in_force(registry, b)["total"]
    assert zone == {"zone": "东关片区A地块", "households": 2, "due": due,
                    "paid": Decimal("1100.00"), "outstanding": due - Decimal("1100.00")}


def test_handover_then_demolition_move_the_status(registry):
    hid = signed_household(registry)
    with pytest.raises(ho.HandoverError, match="尚未登记交房"):
        ho.record_demolition(registry, hid, demolished_on=str(today()), by="clerk")
    with pytest.raises(ho.HandoverError, match="钥匙"):
        ho.record_handover(registry, hid, handed_over_on=str(today()), utilities_cut="yes",
                           keys_received="no", by="clerk")
    with pytest.raises(ho.HandoverError, match="早于签约"):
        ho.record_handover(registry, hid, handed_over_on=str(signed_on() - dt.timedelta(days=1)),
                           utilities_cut="yes", keys_received="yes", by="clerk")
    assert registry.get("household", hid)["status"] == "signed"
    ho.record_handover(registry, hid, handed_over_on=str(today() - dt.timedelta(days=5)),
                       utilities_cut="yes", keys_received="yes", by="clerk",
                       inspection_note="门窗完好")
    assert registry.get("household", hid)["status"] == "handed_over"
    with pytest.raises(ho.HandoverError, match="已登记交房"):
        ho.record_handover(registry, hid, handed_over_on=str(today()), utilities_cut="yes",
                           keys_received="yes", by="clerk")
    with pytest.raises(ho.HandoverError, match="早于交房"):
        ho.record_demolition(registry, hid, demolished_on=str(today() - dt.timedelta(days=6)),
                             by="clerk")
    ho.record_demolition(registry, hid, demolished_on=str(today()), by="clerk")
    assert registry.get("household", hid)["status"] == "demolished"
    assert ho.handover_of(registry, hid)["demolished_on"] == str(today())


def test_an_unsigned_household_cannot_be_handed_over_and_no_button_skips_the_records(
        registry, household):
    with pytest.raises(ho.HandoverError, match="没有现行协议"):
        ho.record_handover(registry, household, handed_over_on=str(today()), utilities_cut="yes",
                           keys_received="yes", by="clerk")
    hid = signed_household(registry, "C-0003")
    for status in ("handed_over", "demolished"):
        with pytest.raises(WorkflowError):
            move(registry, hid, status, by="boss")
    assert registry.get("household", hid)["status"] == "signed"


def test_the_handover_of_one_household_has_one_id_everywhere():
    assert ho.handover_id("h1") == ho.handover_id("h1") != ho.handover_id("h2")
