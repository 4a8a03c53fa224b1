"""`anju flats` and `anju selection`: a bad list or a bad seed is one plain line and exit 2,
nothing written; a good one is imported and the order printed with its lottery keys."""

import hashlib

from anju.registry.cli import main
from anju.registry.completion import flats as fl
from anju.registry.core.store import Registry
from click.testing import CliRunner

from tests.test_flats import swap_households, xlsx


def test_import_order_and_show_from_the_command_line(registry, tmp_path):
    swap_households(registry, 2)
    path = str(registry.path)
    good, bad = tmp_path / "good.xlsx", tmp_path / "bad.xlsx"
    good.write_bytes(xlsx([("3", "2", 1, "101", 91.5, "F90", 6500),
                           ("3", "2", 1, "102", 91.5, "F90", 6500)]))
    bad.write_bytes(xlsx([("3", "2", 1, "101", 91.5, "F90", "六千")]))
    runner = CliRunner()
    r = runner.invoke(main, ["flats", path, "import", str(bad)])
    assert r.exit_code == 2 and "第 2 行 G 列:单价应为数字" in r.output
    assert r.output.count("\n") == 1 and "Traceback" not in r.output
    assert fl.all_flats(registry) == []
    r = runner.invoke(main, ["flats", path, "import", str(tmp_path / "none.xlsx")])
    assert r.exit_code == 2 and "no such file" in r.output
    r = runner.invoke(main, ["flats", path, "import", str(good)])
    assert r.exit_code == 0 and "2 added" in r.output
    r = runner.invoke(main, ["selection", path, "order", "--rule", "lottery", "--seed", "1"])
    assert r.exit_code == 2 and "种子" in r.output and r.output.count("\n") == 1
    r = runner.invoke(main, ["selection", path, "order", "--rule", "lottery",
                             "--seed", "公证摇号 0713"])
    assert r.exit_code == 0 and "batch 1: 2 households" in r.output
    r = runner.invoke(main, ["selection", path, "show"])
    lines = [line.split("\t") for line in r.output.splitlines() if not line.startswith("#")]
    for _, house_no, key, _ in lines:
        assert key == hashlib.sha256(f"公证摇号 0713|{house_no}".encode()).hexdigest()
    assert [k for _, _, k, _ in lines] == sorted(k for _, _, k, _ in lines)


def test_a_laptop_refuses_in_one_line(tmp_path):
    laptop = Registry.create(tmp_path / "l.db", project="p", role="field", device_name="lap")
    laptop.close()
    r = CliRunner().invoke(main, ["selection", str(tmp_path / "l.db"), "order",
                                  "--rule", "signing"])
    assert r.exit_code == 2 and "central registry only" in r.output
