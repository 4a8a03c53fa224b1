"""The payments and handover box of the household page, through the real Flask app."""

import datetime as dt
import re
from decimal import Decimal

from anju.registry.completion import payments as pay

from tests.collector_helpers import csrf, login, make_app
from tests.test_completion import signed_household, today


def page(client, hid):
    return client.get(f"/households/{hid}").get_data(as_text=True)


def test_a_clerk_records_payments_and_the_handover_on_the_household_page(registry):
    hid = signed_household(registry)
    client = make_app(registry).test_client()
    login(client, "boss")
    html = page(client, hid)
    assert "付款与交房" in html and "登记支付" in html
    token = csrf(client, f"/households/{hid}")
    due = pay.account(registry, hid).due
    r = client.post(f"/households/{hid}/payments", data={
        "csrf_token": token, "amount": "1000", "paid_on": str(today()),
        "method": "bank_transfer", "voucher_no": "ZF-1"}, follow_redirects=True)
    assert "已登记支付" in r.get_data(as_text=True)
    assert pay.account(registry, hid).paid == 1000
    # A refusal says why, in Chinese, and writes nothing.
    r = client.post(f"/households/{hid}/payments", data={
        "csrf_token": token, "amount": str(due), "paid_on": str(today()), "method": "cash",
        "voucher_no": "ZF-2"}, follow_redirects=True)
    assert "超出应付金额" in r.get_data(as_text=True)
    assert pay.account(registry, hid).paid == 1000
    r = client.post(f"/households/{hid}/handover", data={
        "csrf_token": token, "handed_over_on": str(today() - dt.timedelta(days=1)),
        "utilities_cut": "yes", "keys_received": "yes", "inspection_note": "完好"},
        follow_redirects=True)
    assert "已登记交房" in r.get_data(as_text=True)
    assert registry.get("household", hid)["status"] == "handed_over"
    # The status button cannot skip the record: it leads to the box.
    r = client.post(f"/households/{hid}/status", data={"csrf_token": token,
                                                       "status": "demolished"})
    assert r.status_code == 302 and r.headers["Location"].endswith("#completion")
    assert registry.get("household", hid)["status"] == "handed_over"


def test_a_surveyor_sees_no_box_and_may_not_post(registry):
    hid = signed_household(registry)
    client = make_app(registry).test_client()
    login(client, "li")
    assert "付款与交房" not in page(client, hid)
    token = csrf(client, f"/households/{hid}")
    r = client.post(f"/households/{hid}/payments", data={
        "csrf_token": token, "amount": "1", "paid_on": str(today()), "method": "cash",
        "voucher_no": "x"})
    assert r.status_code == 403
    assert pay.account(registry, hid).paid == 0
    assert not re.search(r"Traceback", r.get_data(as_text=True))


def test_the_overview_adds_up_per_zone(registry):
    a = signed_household(registry, "C-0001")
    b = signed_household(registry, "C-0002")
    pay.record_payment(registry, a, amount="1234.56", paid_on=str(today()), method="cash",
                       voucher_no="V-1", by="boss")
    from anju.registry.completion import handover as ho
    ho.record_handover(registry, b, handed_over_on=str(today()), utilities_cut="yes",
                       keys_received="yes", by="boss")
    client = make_app(registry).test_client()
    login(client, "boss")
    html = client.get("/completion").get_data(as_text=True)
    due = pay.account(registry, a).due + pay.account(registry, b).due
    row = re.search(r"<tr><td>东关片区A地块</td>(.*?)</tr>", html, re.S).group(1)
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    assert cells == ["2", f"{due:,.2f}", "1,234.56", f"{due - Decimal('1234.56'):,.2f}",
                     "1", "0"]
