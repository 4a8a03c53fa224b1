"""The public site's selection tables and paid totals: what they show, the privacy scan, and an
attacker comparing publications night after night."""

import json
import sqlite3
from decimal import Decimal

import pytest
from anju.registry.completion import flats as fl
from anju.registry.completion import payments as pay
from anju.registry.completion import selection as sel
from anju.registry.completion.public import PAID_ROUND
from anju.registry.publication.disclosure import K_CHANGED
from anju.registry.publication.publish import publish

from tests.test_completion import in_force, signed_household, today
from tests.test_flats import inventory
from tests.test_privacy import _scan, _secrets

ID = "11010519491231002X"
NAMES = ["欧阳娜娜", "欧阳修", "欧阳明远", "欧阳春"]


def rows(path, sql):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def selection_project(registry, n=4, hardship_first=False):
    inventory(registry, n + 1)
    hids = []
    for i in range(n):
        hid = signed_household(registry, f"S-{i:04d}", mode="swap", flat="F90",
                               owner_name=NAMES[i], owner_id_no=ID,
                               owner_phone=f"1391234{i:04d}",
                               hardship=["dibao"] if i == n - 1 else [])
        hids.append(hid)
    if hardship_first:
        settings = registry.settings
        registry.set_meta("settings", json.dumps({**settings,
                                                  "selection_priority": "hardship"}))
    sel.fix_order(registry, rule="lottery", seed="2026-12-01 公证摇号 17", by="boss",
                  witness="市公证处")
    order = sel.orders(registry)[0]["households"]
    for hid in order[:2]:
        sel.choose(registry, hid, sel.fitting(registry, hid)[0]["id"], by="clerk")
    return hids, order


def test_the_public_site_shows_the_order_masked_results_and_the_flats_left(registry, tmp_path):
    hids, order = selection_project(registry)
    out = tmp_path / "public.db"
    publish(registry, out)
    [batch] = rows(out, "SELECT batch, rule, seed, witness, households FROM selection_batch")
    assert batch == (1, "公开摇号", "2026-12-01 公证摇号 17", "市公证处", 4)
    published = rows(out, "SELECT position, house_no, owner_name, flat, chosen_at "
                          "FROM selection_order ORDER BY position")
    houses = dict(registry.conn.execute("SELECT id, house_no FROM household"))
    assert [r[1] for r in published] == [houses[h] for h in order]
    assert all(r[2].startswith("欧") and set(r[2][1:]) == {"*"} for r in published)
    assert [bool(r[3]) for r in published] == [True, True, False, False]
    # A resident recomputes the lottery from what is published, with his own SHA-256.
    import hashlib
    seed = batch[2]
    again = sorted((r[1] for r in published),
                   key=lambda h: hashlib.sha256(f"{seed}|{h}".encode()).hexdigest())
    assert again == [r[1] for r in published]
    left = rows(out, "SELECT flat FROM flat_left")
    assert len(left) == 5 - 2
    assert {r[0] for r in left}.isdisjoint({r[3] for r in published})


def test_a_priority_batch_gives_no_household_s_hardship_away(registry, tmp_path):
    """With hardship priority the order would say who is a hardship household (its head), and
    so would a swap household missing from it, since every household's mode is public. The
    attacker holds the published batch and the public compensation table: every swap household
    of the batch is listed, in house-number order, with no position and no time."""
    hids, order = selection_project(registry, n=4, hardship_first=True)
    hardship = hids[-1]
    assert order[0] == hardship  # the plan's priority, inside the registry
    out = tmp_path / "public.db"
    publish(registry, out)
    houses = dict(registry.conn.execute("SELECT id, house_no FROM household"))
    published = rows(out, "SELECT position, house_no, chosen_at, flat FROM selection_order")
    assert sorted(r[1] for r in published) == sorted(houses[h] for h in order)  # nobody missing
    assert [r[1] for r in published] == sorted(houses[h] for h in order)  # by house number
    assert all(r[0] is None and r[2] is None for r in published)
    assert sum(bool(r[3]) for r in published) == 2  # the results are still public
    assert rows(out, "SELECT households FROM selection_batch") == [(4,)]


def test_the_selection_tables_pass_the_privacy_scan(registry, tmp_path):
    selection_project(registry)
    out = tmp_path / "public.db"
    publish(registry, out)
    secrets = _secrets(registry)
    assert secrets["id"] and secrets["phone"] and secrets["name"]
    hits = [h for h in _scan(out, secrets) if h[0] != "<file>"]
    assert hits == [], hits[:5]
    assert [h for h in _scan(out, secrets) if h[0] == "<file>"] == []
    # No hardship and no care data at all in the selection tables.
    for table in ("selection_batch", "selection_order", "flat_left", "paid_by_zone"):
        text = json.dumps(rows(out, f"SELECT * FROM {table}"), ensure_ascii=False)
        assert "dibao" not in text and "低保" not in text and "优先" not in text


def test_an_attacker_comparing_publications_never_isolates_one_payment(registry, tmp_path):
    """Night after night some households are paid and the site is published. The attacker
    holds every publication and differences the zone's paid figure between any two: every
    change he sees is made of at least K_CHANGED households' payments (the test's own ledger
    says whose), and figures are multiples of PAID_ROUND. Without the ledger, the same nights'
    plain sums would give one household's payment away."""
    n = 2 * K_CHANGED + 3
    hids = [signed_household(registry, f"P-{i:04d}") for i in range(n)]
    due = {h: in_force(registry, h)["total"] for h in hids}
    truth = {h: Decimal(0) for h in hids}  # the test's own ledger of what each was paid
    # The attacker also knows the start: before any payment the paid total was 0.
    nights = [(0.0, dict(truth))]
    plan = [[0], [1], [2, 3], list(range(4, 12)), [12], list(range(13, 23)), [0]]
    for night, who in enumerate(plan):
        for i in who:
            amount = (due[hids[i]] / 4).quantize(Decimal("0.01"))
            pay.record_payment(registry, hids[i], amount=str(amount), paid_on=str(today()),
                               method="bank_transfer", voucher_no=f"V-{night}-{i}",
                               by="clerk")
            truth[hids[i]] += amount
        out = tmp_path / f"public-{night}.db"
        publish(registry, out)
        [(paid,)] = rows(out, "SELECT paid FROM paid_by_zone")
        nights.append((paid, dict(truth)))
    released = [p for p, _ in nights if p is not None]
    assert released, "the figure is published at all once enough households were paid"
    assert all(p % PAID_ROUND == 0 for p in released)
    for i in range(len(nights)):
        for j in range(i + 1, len(nights)):
            (a, ta), (b, tb) = nights[i], nights[j]
            if a == b or a is None or b is None:
                continue  # a repeated or withheld figure says nothing new
            changed = [h for h in hids if ta[h] != tb[h]]
            assert len(changed) >= K_CHANGED, (i, j, a, b, len(changed))
    # Nights with a single payment never moved the figure from the night before.
    for k, who in enumerate(plan, 1):
        if len(who) == 1 and k > 1:
            assert nights[k][0] == nights[k - 1][0]
    # The control that makes the zero mean something: plain sums isolate one payment.
    plain = [sum(t.values()) for _, t in nights]
    assert plain[2] - plain[1] == (due[hids[1]] / 4).quantize(Decimal("0.01"))


@pytest.mark.parametrize("table", ["selection_batch", "selection_order", "flat_left",
                                   "paid_by_zone"])
def test_every_new_public_table_has_chinese_labels(registry, tmp_path, table):
    out = tmp_path / "public.db"
    publish(registry, out)
    labels = rows(out, f"SELECT [column], label_zh FROM column_info WHERE [table] = '{table}'")
    columns = [r[1] for r in rows(out, f"PRAGMA table_info([{table}])")]
    assert sorted(c for c, _ in labels) == sorted(columns) and all(zh for _, zh in labels)


def test_a_flat_is_labelled_as_people_name_it():
    assert fl.label({"building": "3", "unit": "2", "number": "1502"}) == "3号楼2单元1502"
    assert fl.label({"building": "A座", "unit": None, "number": "101"}) == "A座101"

