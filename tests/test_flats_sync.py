"""Flats, orders, choices and care records sync to laptops, and only the central writes them."""

import pytest
from anju.registry.completion import flats as fl
from anju.registry.completion import selection as sel
from anju.registry.core import capabilities as caps
from anju.registry.core.changes import Change, new_id
from anju.registry.core.digest import digest
from anju.registry.core.store import StoreError

from tests.syncing import Project
from tests.test_completion import signed_household
from tests.test_flats import inventory


@pytest.mark.parametrize("record_type", ["flat", "selection_order", "flat_choice", "care_help"])
def test_selection_and_care_records_need_the_central(record_type):
    c = Change(change_id=new_id(), device_id="d", seq=1, record_type=record_type,
               record_id=new_id(), fields={"x": 1})
    assert caps.needed(c) == [caps.CENTRAL]
    assert not caps.permits(caps.ALL, c)  # whatever a laptop was granted


def test_the_centres_selection_reaches_the_laptops_and_a_laptop_cannot_write_one(tmp_path):
    project = Project(tmp_path, laptops=1, capabilities=tuple(caps.ALL))
    try:
        central = project.central
        inventory(central, 2)
        hid = signed_household(central, "S-0001", mode="swap", flat="F90")
        sel.fix_order(central, rule="lottery", seed="seed-2026-12", by="boss")
        flat = fl.all_flats(central)[0]
        sel.choose(central, hid, flat["id"], by="clerk")
        project.sync_back()
        lap = project.lap(1)
        assert [f["label"] for f in fl.all_flats(lap)] == [f["label"]
                                                           for f in fl.all_flats(central)]
        assert sel.orders(lap)[0]["seed"] == "seed-2026-12"
        assert sel.choices(lap)[hid]["flat"] == flat["id"]
        assert digest(lap) == digest(central)
        # A laptop granted every capability still writes no flat, order or choice.
        with pytest.raises(StoreError, match="中心库专属"):
            fl.save_flat(lap, {"building": "9", "floor": 1, "number": "101", "area": 90,
                               "flat_type": "F90", "unit_price": 6500}, by="admin")
        assert len(fl.all_flats(lap)) == 2
    finally:
        project.close()
