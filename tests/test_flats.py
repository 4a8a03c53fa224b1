"""The flat inventory, the selection order, the session's choices and the swap settlement.

Oracles are the test's own: the lottery is recomputed here with hashlib from the published seed
and house numbers; the settlement is recomputed by hand from the plan's prices."""

import contextlib
import datetime as dt
import hashlib
import io
import json
import threading
from decimal import ROUND_HALF_UP, Decimal

import openpyxl
import pytest
from anju.registry.completion import flats as fl
from anju.registry.completion import selection as sel
from anju.registry.core.store import Registry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_completion import signed_household

HEAD = ["楼栋", "单元", "楼层", "房号", "建筑面积", "户型", "单价"]


def xlsx(rows, head=HEAD) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(head)
    for r in rows:
        sheet.append(list(r))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def inventory(registry, n=6, flat_type="F90", area=91.5, price=6500):
    rows = [("3", "2", 1 + i // 2, f"{1 + i // 2}0{1 + i % 2}", area, flat_type, price)
            for i in range(n)]
    return fl.import_xlsx(registry, xlsx(rows), by="admin")


def change_count(registry):
    return registry.conn.execute("SELECT count(*) FROM change").fetchone()[0]


def test_a_builders_list_is_imported_and_a_corrected_one_updates_the_same_flats(registry):
    assert inventory(registry, 4) == {"added": 4, "updated": 0, "unchanged": 0}
    flats = fl.all_flats(registry)
    assert [f["label"] for f in flats] == ["3号楼2单元101", "3号楼2单元102", "3号楼2单元201",
                                           "3号楼2单元202"]
    assert flats[0]["price"] == Decimal("594750.00")  # 91.5 × 6500
    counts = fl.import_xlsx(registry, xlsx([("3", "2", 1, "101", 91.5, "F90", 6600),
                                            ("3", "2", 1, "102", 91.5, "F90", 6500)]), by="a")
    assert counts == {"added": 0, "updated": 1, "unchanged": 1}
    assert len(fl.all_flats(registry)) == 4


@pytest.mark.parametrize("rows, head, words", [
    ([("3", "2", 1, "101", "九十", "F90", 6500)], HEAD, "第 5 行 E 列:建筑面积应为数字"),
    ([("3", "2", 1, "101", 90.123, "F90", 6500)], HEAD, "第 5 行 E 列:建筑面积最多两位小数"),
    ([("3", "2", 1, "101", -5, "F90", 6500)], HEAD, "第 5 行 E 列:建筑面积应在"),
    ([("3", "2", "顶层", "101", 90, "F90", 6500)], HEAD, "第 5 行 C 列:楼层应为整数"),
    ([("3", "2", 1, "101", 90, "F999", 6500)], HEAD, "第 5 行 F 列:户型“F999”不在补偿方案"),
    ([("3", "2", 1, "101", 90, "F90", 6500), ("3", "2", 1, "101", 90, "F90", 6500)], HEAD,
     "第 6 行 D 列:房源 3号楼2单元101 与第 5 行重复"),
    ([("3", "2", 1, "101", 90, "F90")], HEAD[:6], "缺少列“单价”"),
    ([("3", "2", 1, "101", 90, "F90", 6500, "x")], HEAD + ["朝向"],
     "第 1 行 H 列:不认识的列“朝向”"),
    ([("3", "2", 1, "", 90, "F90", 6500)], HEAD, "第 5 行 D 列:请填写房号"),
    ([("3", "2", 1, "101", 90, "F90", 6500, 1)], HEAD + ["总价"], "总价 1.00 与 面积×单价"),
])
def test_a_hostile_list_is_refused_naming_row_and_column_and_nothing_is_written(
        registry, rows, head, words):
    before = change_count(registry)
    # Good rows before the bad one: nothing half-imported.
    good = [("1", "1", 1, f"10{i}", 60, "F60", 6200) for i in range(3)]
    with pytest.raises(fl.ImportRefused) as info:
        fl.import_xlsx(registry, xlsx(good + rows, head), by="admin")
    text = str(info.value)
    assert words in text
    assert change_count(registry) == before and fl.all_flats(registry) == []


@pytest.mark.parametrize("data", [b"", b"not a workbook", b"PK\x03\x04garbage" * 10,
                                  b"\xd0\xcf\x11\xe0" + b"\0" * 600])
def test_a_file_that_is_not_an_xlsx_is_refused_in_chinese(registry, data):
    with pytest.raises(fl.ImportRefused, match="XLSX"):
        fl.import_xlsx(registry, data, by="admin")


def test_a_zip_bomb_and_a_sheet_claiming_every_column_are_refused_or_read_cheaply(registry):
    import zipfile
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/sharedStrings.xml", b"<a>" + b"0" * (fl.MAX_UNPACKED + 10) + b"</a>")
    with pytest.raises(fl.ImportRefused, match="解压后过大"):
        fl.import_xlsx(registry, bomb.getvalue(), by="admin")
    # A sheet whose dimension claims A1:XFD1048576 is read to MAX_COLS columns only.
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEAD)
    sheet.append(["3", "2", 1, "101", 90, "F90", 6500])
    sheet.cell(row=3, column=16000, value="x")
    out = io.BytesIO()
    book.save(out)
    assert fl.import_xlsx(registry, out.getvalue(), by="admin")["added"] == 1


def swap_households(registry, n, flat="F90"):
    return [signed_household(registry, f"S-{i:04d}", mode="swap", flat=flat) for i in range(n)]


def test_the_signing_order_breaks_ties_by_agreement_number_the_same_every_run(registry):
    candidates = [
        {"household_id": "a", "house_no": "9", "number": "XY-2", "signed_on": "2026-01-02",
         "hardship": False},
        {"household_id": "b", "house_no": "1", "number": "XY-3", "signed_on": "2026-01-01",
         "hardship": False},
        {"household_id": "c", "house_no": "5", "number": "XY-1", "signed_on": "2026-01-02",
         "hardship": True},
    ]
    for _ in range(3):
        import random
        random.shuffle(candidates)
        order = sel.compute_order(candidates, "signing")
        assert [c["household_id"] for c in order] == ["b", "c", "a"]
    prioritised = sel.compute_order(candidates, "signing", priority="hardship")
    assert [c["household_id"] for c in prioritised] == ["c", "b", "a"]


@settings(max_examples=30, deadline=None)
@given(seed=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"),
                                           blacklist_characters="|"), min_size=6, max_size=30),
       houses=st.lists(st.text(alphabet="ABC-0123456789", min_size=1, max_size=8),
                       min_size=1, max_size=30, unique=True))
def test_the_lottery_is_reproducible_from_its_seed(seed, houses):
    if len(seed.strip()) < 6:
        return
    seed = seed.strip()
    candidates = [{"household_id": h, "house_no": h, "hardship": False} for h in houses]
    order = [c["house_no"] for c in sel.compute_order(candidates, "lottery", seed)]
    # The published algorithm, recomputed independently.
    expected = sorted(houses, key=lambda h: (hashlib.sha256(
        (seed + "|" + h).encode("utf-8")).hexdigest(), h))
    assert order == expected
    assert order == [c["house_no"] for c in sel.compute_order(candidates[::-1], "lottery", seed)]


def test_an_order_is_recorded_with_seed_time_and_who_and_batches_do_not_overlap(registry):
    hids = swap_households(registry, 3)
    oid = sel.fix_order(registry, rule="lottery", seed="07 12 33 41 05", by="boss",
                        witness="市公证处 王**")
    [order] = sel.orders(registry)
    assert order["id"] == oid and order["seed"] == "07 12 33 41 05"
    assert order["created_by"] == "boss" and order["drawn_at"] and order["batch"] == 1
    assert sorted(order["households"]) == sorted(hids)
    with pytest.raises(sel.SelectionError, match="没有待排序"):
        sel.fix_order(registry, rule="signing", by="boss")
    later = signed_household(registry, "S-0099", mode="swap", flat="F90")
    sel.fix_order(registry, rule="signing", by="boss")
    assert sel.orders(registry)[1]["households"] == [later]
    with pytest.raises(sel.SelectionError, match="种子"):
        sel.compute_order([], "lottery", "12")


def test_the_session_takes_households_in_order_and_offers_only_fitting_free_flats(registry):
    inventory(registry, 3)
    fl.import_xlsx(registry, xlsx([("5", "1", 1, "101", 60, "F60", 6200)]), by="admin")
    hids = swap_households(registry, 3)
    sel.fix_order(registry, rule="signing", by="boss")
    order = sel.orders(registry)[0]
    first, second, third = order["households"]
    offered = sel.fitting(registry, first)
    assert len(offered) == 3 and {f["flat_type"] for f in offered} == {"F90"}
    with pytest.raises(sel.SelectionError, match="现在轮到第 1 号"):
        sel.choose(registry, second, offered[0]["id"], by="clerk")
    small = next(f for f in fl.all_flats(registry) if f["flat_type"] == "F60")
    with pytest.raises(sel.SelectionError, match="不符合"):
        sel.choose(registry, first, small["id"], by="clerk")
    sel.choose(registry, first, offered[0]["id"], by="clerk")
    with pytest.raises(sel.SelectionError, match="已被选定"):
        sel.choose(registry, second, offered[0]["id"], by="clerk")
    assert offered[0]["id"] not in {f["id"] for f in sel.fitting(registry, second)}
    # Out of turn only with a reason, which is kept.
    sel.choose(registry, third, offered[1]["id"], by="clerk", out_of_turn="第2号缺席")
    assert sel.choices(registry)[third]["out_of_turn"] == "第2号缺席"
    # A mistaken choice is released with a reason and the flat is free again.
    with pytest.raises(sel.SelectionError, match="理由"):
        sel.release(registry, first, reason=" ", by="boss")
    sel.release(registry, first, reason="录错房号", by="boss")
    assert offered[0]["id"] in {f["id"] for f in sel.fitting(registry, second)}
    sel.choose(registry, first, offered[0]["id"], by="clerk")
    assert len(sel.choices(registry)) == 2 and set(hids) >= set(sel.choices(registry))
    # The 日报 counts the choices per zone, today's and in all.
    from anju.registry.review import daily
    _, total = daily.zone_rows(registry, dt.datetime.now(dt.UTC).date())
    assert (total["chosen"], total["chosen_day"]) == (2, 2)
    with pytest.raises(fl.FlatError, match="已被选定"):
        fl.remove_flat(registry, offered[0]["id"], reason="x", by="admin")


def test_the_settlement_is_recomputed_from_the_chosen_flat(registry):
    fl.import_xlsx(registry, xlsx([("3", "2", 1, "101", 92.37, "F90", 6550)]), by="admin")
    [hid] = swap_households(registry, 1)
    sel.fix_order(registry, rule="signing", by="boss")
    [flat] = fl.all_flats(registry)
    sel.choose(registry, hid, flat["id"], by="clerk")
    choice = sel.choices(registry)[hid]
    settled = json.loads(choice["settlement"])
    agreed = next(a for a in __import__("anju.registry.compensation.agreements",
                                        fromlist=["x"]).agreements_of(registry, hid)
                  if a["in_force"])["breakdown"]
    # By hand: the flat's value is its real area × its real price (the example plan has no
    # area tiers); the house value is the agreement's; so the difference moves by exactly the
    # change of the flat's value against the plan's nominal 90 m² × 6500.
    flat_value = (Decimal("92.37") * 6550).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    nominal = Decimal(90 * 6500)
    assert Decimal(settled["flat"]["value"]) == flat_value
    assert choice["difference"] == agreed.difference + flat_value - nominal
    assert Decimal(settled["total"]) == agreed.total - (flat_value - nominal)


def test_no_flat_is_chosen_twice_by_two_sessions_at_once(registry, tmp_path):
    inventory(registry, 1)
    hids = swap_households(registry, 2)
    sel.fix_order(registry, rule="signing", by="boss")
    [flat] = fl.all_flats(registry)
    barrier = threading.Barrier(2)
    results = {}

    def session(hid):
        reg = Registry.open(registry.path)  # its own connection, as a second browser's request
        try:
            barrier.wait()
            sel.choose(reg, hid, flat["id"], by=f"clerk-{hid[:4]}", out_of_turn="同时选房")
            results[hid] = "ok"
        except sel.SelectionError as exc:
            results[hid] = str(exc)
        finally:
            reg.close()

    threads = [threading.Thread(target=session, args=(h,)) for h in hids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(v == "ok" for v in results.values()) == [False, True]
    assert any("已被选定" in v for v in results.values())
    assert registry.conn.execute("SELECT count(*) FROM flat_choice").fetchone()[0] == 1
    # The constraint itself, below every check: a second row for the flat cannot exist.
    with pytest.raises(Exception, match="UNIQUE"):
        registry.conn.execute("INSERT INTO flat_taken VALUES (?, 'other', 'c', 'now')",
                              (flat["id"],))


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=12))
def test_whatever_is_tried_each_flat_has_at_most_one_household(tmp_path_factory, picks):
    registry = Registry.create(tmp_path_factory.mktemp("sel") / "r.db", project="p",
                               role="central", device_name="central")
    try:
        inventory(registry, 4)
        hids = swap_households(registry, 4)
        sel.fix_order(registry, rule="lottery", seed="seed-123456", by="boss")
        ids = [f["id"] for f in fl.all_flats(registry)]
        for h, f in picks:
            with contextlib.suppress(sel.SelectionError):
                sel.choose(registry, hids[h], ids[f], by="c", out_of_turn="测试")
        rows = registry.conn.execute("SELECT flat, household_id FROM flat_choice "
                                     "WHERE deleted IS NULL").fetchall()
        assert len({f for f, _ in rows}) == len(rows) == len({h for _, h in rows})
    finally:
        registry.close()


def test_a_chosen_flat_cannot_be_changed_by_import_or_edit_and_a_withheld_one_is_not_offered(
        registry):
    inventory(registry, 2)
    [hid] = swap_households(registry, 1)
    sel.fix_order(registry, rule="signing", by="boss")
    first, second = fl.all_flats(registry)
    sel.choose(registry, hid, first["id"], by="clerk")
    before = change_count(registry)
    with pytest.raises(fl.ImportRefused, match="已被选定"):
        fl.import_xlsx(registry, xlsx([("3", "2", 1, "101", 95, "F90", 6500)]), by="admin")
    with pytest.raises(fl.FlatError, match="已被选定"):
        fl.save_flat(registry, {**{k: first[k] for k in ("building", "unit", "floor",
                                                            "number", "flat_type")},
                                "area": "95", "unit_price": "6500"}, by="admin",
                     fid=first["id"])
    assert change_count(registry) == before
    fl.save_flat(registry, {**{k: second[k] for k in ("building", "unit", "floor", "number",
                                                        "flat_type", "area", "unit_price")},
                            "withheld": "1"}, by="admin", fid=second["id"])
    assert fl.get_flat(registry, second["id"])["withheld"]
    other = signed_household(registry, "S-0100", mode="swap", flat="F90")
    sel.fix_order(registry, rule="signing", by="boss")
    assert sel.fitting(registry, other) == []
    with pytest.raises(sel.SelectionError, match="暂不供选"):
        sel.choose(registry, other, second["id"], by="clerk")
