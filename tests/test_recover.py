"""A lost laptop: revoked, its packs refused, its unexported work recovered from its backup."""

import subprocess
import sys

import pytest
from anju.registry.core.digest import digest
from anju.registry.core.store import Registry
from anju.registry.field.backup import BackupError, backup_now
from anju.registry.sync.enrollment import enroll_device, init_laptop, revoke_device
from anju.registry.sync.merge import merge_pack
from anju.registry.sync.packs import export_pack
from anju.registry.sync.recover import recover_backup

from tests.conftest import HOUSEHOLD

HEAD = {"name": "张伟", "id_no": "11010519491231002X", "relation": "head"}


@pytest.fixture
def central_and_laptop(tmp_path):
    central = Registry.create(tmp_path / "central.db", project="东关棚改", role="central",
                              device_name="central")
    enroll_device(central, "laptop-1", tmp_path / "laptop-1.json")
    init_laptop(tmp_path / "laptop-1.db", tmp_path / "laptop-1.json")
    laptop = Registry.open(tmp_path / "laptop-1.db")
    yield central, laptop, tmp_path
    central.close()
    laptop.close()


def survey(reg, house_no):
    hid = reg.save("household", None, {**HOUSEHOLD, "house_no": house_no}, by="li", full=True)
    reg.save("member", None, {"household_id": hid, **HEAD}, by="li", full=True)
    return hid


def test_lost_laptop_work_comes_back_from_its_backup(central_and_laptop):
    central, laptop, tmp = central_and_laptop
    exported = survey(laptop, "A-0001")
    export_pack(laptop, tmp / "monday.pack")
    assert merge_pack(central, tmp / "monday.pack").ok
    unexported = survey(laptop, "A-0002")  # Tuesday: saved, backed up, never exported
    usb = tmp / "usb"
    usb.mkdir()
    backup = backup_now(laptop, usb)
    laptop_digest = digest(laptop)
    export_pack(laptop, tmp / "thief.pack")  # whoever finds the laptop can still make packs

    revoke_device(central, "laptop-1")
    refused = merge_pack(central, tmp / "thief.pack")
    assert not refused.ok and "revoked" in refused.reason
    assert central.get("household", unexported) is None

    result = recover_backup(central, backup)
    assert result.new == 2 and result.devices == {"laptop-1": 2}
    assert central.get("household", unexported)["house_no"] == "A-0002"
    assert central.get("household", exported)["house_no"] == "A-0001"
    assert digest(central) == laptop_digest
    again = recover_backup(central, backup)  # idempotent, like every merge
    assert again.new == 0 and digest(central) == laptop_digest


def test_recover_refuses_another_projects_backup_and_laptops(central_and_laptop, tmp_path):
    central, laptop, tmp = central_and_laptop
    other = Registry.create(tmp / "other.db", project="别的项目", role="laptop",
                            device_name="x")
    survey(other, "Z-0001")
    stranger = backup_now(other, tmp)
    other.close()
    before = digest(central)
    with pytest.raises(BackupError, match="another project"):
        recover_backup(central, stranger)
    assert digest(central) == before
    own = backup_now(laptop, tmp)
    with pytest.raises(BackupError, match="only the central registry"):
        recover_backup(laptop, own)


def test_cli_recover(central_and_laptop):
    central, laptop, tmp = central_and_laptop
    survey(laptop, "B-0001")
    backup = backup_now(laptop, tmp)
    central.close()
    out = subprocess.run([sys.executable, "-m", "anju.registry.cli", "recover",
                          str(tmp / "central.db"), str(backup)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "2 new (2 from laptop-1)" in out.stdout
