"""Scopes (issue 14, item 3): a laptop receives only the households of its zones or teams, plus
what it made itself; the merge laws hold per scope; moving a laptop's scope works both ways.

The oracles are independent of the code under test: the decrypted pack and the laptop's
database file are searched for the house numbers and resident ID numbers of households outside
the scope; the expected set of households is computed from the test's own assignment.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from anju.registry.core.digest import digest
from anju.registry.core.settings import set_team
from anju.registry.core.store import Registry, StoreError
from anju.registry.sync import scope as scopes
from anju.registry.sync.enrollment import enroll_device, init_laptop
from anju.registry.sync.merge import merge_pack
from anju.registry.sync.packs import export_pack, open_pack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import HOUSEHOLD

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
_serial = itertools.count(1)


def id_number(n: int) -> str:
    """A valid resident ID number (GB 11643 check character), distinct for each n."""
    body = f"110105{19500101 + n % 28:08d}{n % 1000:03d}"
    return body + CHECK[sum(int(d) * w for d, w in zip(body, WEIGHTS)) % 11]


def anju(*args):
    return subprocess.run([sys.executable, "-m", "anju.registry.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


class Zoned:
    """A central registry with households in zones 东区, 西区, 南区 (each with a member), laptop
    `east` scoped to 东区, `west` to 西区, `all` with the whole project."""

    ZONES = ("东区", "西区", "南区")

    def __init__(self, root: Path, per_zone: int = 2):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.central = Registry.create(root / "central.db", project="测试", role="central",
                                       device_name="central")
        self.house: dict[str, str] = {}   # house_no -> household id
        self.ids: dict[str, str] = {}     # house_no -> the member's ID number
        n = 0
        for zone in self.ZONES:
            for _ in range(per_zone):
                n += 1
                self.add(f"H{n:03d}", zone, n)
        self.laptops: dict[str, Registry] = {}
        for name, scope in (("east", {"zones": ["东区"]}), ("west", {"zones": ["西区"]}),
                            ("all", None)):
            enroll_device(self.central, name, root / f"{name}.enrol", scope=scope,
                          capabilities=("survey", "status"))
            init_laptop(root / f"{name}.db", root / f"{name}.enrol")
            self.laptops[name] = Registry.open(root / f"{name}.db")
        for name in self.laptops:
            self.back(name)

    def add(self, house_no: str, zone: str, n: int, by: Registry | None = None) -> str:
        reg = by or self.central
        hid = reg.save("household", None, {**HOUSEHOLD, "house_no": house_no, "zone": zone,
                                           "owner_id_no": id_number(500 + n)},
                       by="admin", full=True)
        reg.save("member", None, {"household_id": hid, "name": "李娜", "id_no": id_number(n),
                                  "relation": "child"}, by="admin", full=True)
        self.house[house_no] = hid
        self.ids[house_no] = id_number(n)
        return hid

    def pack(self, reg: Registry, recipients=None, full: bool = False) -> Path:
        path = self.root / f"{reg.meta('device_name')}-{next(_serial)}.pack"
        export_pack(reg, path, recipients=recipients, full=full)
        return path

    def back(self, name: str) -> Path:
        """The central's pack for laptop `name`, merged into it."""
        pack = self.pack(self.central, [name])
        result = merge_pack(self.laptops[name], pack)
        assert result.ok, result.reason
        return pack

    def send(self, name: str) -> None:
        result = merge_pack(self.central, self.pack(self.laptops[name]))
        assert result.ok, result.reason

    def zone_of(self, house_no: str) -> str:
        return self.central.get("household", self.house[house_no])["zone"]

    def in_zones(self, zones) -> set[str]:
        return {h for h in self.house if self.zone_of(h) in zones}

    def held(self, name: str) -> set[str]:
        return {r[0] for r in self.laptops[name].conn.execute("SELECT house_no FROM household")}

    def close(self):
        for r in (self.central, *self.laptops.values()):
            r.close()


@pytest.fixture
def zoned(tmp_path):
    z = Zoned(tmp_path / "z")
    yield z
    z.close()


def plain(reg: Registry, path: Path) -> str:
    """Everything a pack carries, decrypted by its recipient `reg`, as text."""
    return "\n".join(json.dumps(f, ensure_ascii=False) for f in open_pack(reg, path).frames())


def test_a_laptops_pack_carries_no_household_outside_its_scope(zoned):
    east = zoned.laptops["east"]
    pack = zoned.pack(zoned.central, ["east"], full=True)
    text = plain(east, pack)
    inside = zoned.in_zones({"东区"})
    assert inside
    for house_no, hid in zoned.house.items():
        words = (house_no, hid, zoned.ids[house_no])
        if house_no in inside:
            assert all(w in text for w in words), house_no
        else:
            assert not any(w in text for w in words), house_no
    assert zoned.held("east") == inside
    assert zoned.held("west") == zoned.in_zones({"西区"})
    assert zoned.held("all") == set(zoned.house)


def test_the_default_central_pack_leaves_scoped_laptops_out(zoned):
    manifest = export_pack(zoned.central, zoned.root / "d.pack")
    assert manifest["recipients"] == ["all"]
    assert {n for n, _ in manifest["left_out"]} == {"east", "west"}
    with pytest.raises(Exception, match="different scopes"):
        export_pack(zoned.central, zoned.root / "e.pack", recipients=["east", "west"])
    assert not (zoned.root / "e.pack").exists()


def test_digests_are_equal_per_scope_after_a_round_trip(zoned):
    east = zoned.laptops["east"]
    hid = zoned.house[sorted(zoned.in_zones({"东区"}))[0]]
    east.save("household", hid, {"address": "东关街99号"}, by="li")
    zoned.add("EAST-NEW", "东区", 90, by=east)
    zoned.send("east")
    zoned.central.save("household", hid, {"owner_phone": "13812345678"}, by="admin")
    zoned.back("east")
    assert scopes.digest(east, {"zones": ["东区"]}) == scopes.digest(zoned.central,
                                                                   {"zones": ["东区"]})
    assert digest(east) == scopes.digest(zoned.central, {"zones": ["东区"]})
    # The command prints the same.
    for r in (zoned.central, east):
        r.close()
    a = anju("digest", zoned.root / "central.db", "--scope", "东区").stdout
    b = anju("digest", zoned.root / "east.db", "--scope", "东区").stdout
    assert a == b and len(a.strip()) == 64
    whole = anju("digest", zoned.root / "central.db").stdout
    assert whole != a
    zoned.central = Registry.open(zoned.root / "central.db")
    zoned.laptops["east"] = Registry.open(zoned.root / "east.db")


def test_a_household_moved_to_another_zone_leaves_the_laptop(zoned):
    east = zoned.laptops["east"]
    house_no = sorted(zoned.in_zones({"东区"}))[0]
    hid = zoned.house[house_no]
    zoned.central.save("household", hid, {"zone": "西区"}, by="admin")
    result = merge_pack(east, zoned.pack(zoned.central, ["east"]))
    assert result.ok and result.pruned == 1, result.reason
    assert house_no not in zoned.held("east")
    assert east.conn.execute("SELECT count(*) FROM member WHERE household_id = ?",
                             (hid,)).fetchone()[0] == 0
    assert east.conn.execute("SELECT count(*) FROM change WHERE record_id = ?",
                             (hid,)).fetchone()[0] == 0
    # Not left in the database file either (its pages are zeroed, the WAL emptied).
    east.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = b"".join(p.read_bytes() for p in zoned.root.glob("east.db*"))
    assert zoned.ids[house_no].encode() not in raw
    # And it comes with the west laptop's next pack, whole.
    zoned.back("west")
    assert house_no in zoned.held("west")
    assert zoned.laptops["west"].conn.execute(
        "SELECT id_no FROM member WHERE household_id = ?", (hid,)).fetchone()[0] == \
        zoned.ids[house_no]
    # Moved back: it returns to the east laptop.
    zoned.central.save("household", hid, {"zone": "东区"}, by="admin")
    zoned.back("east")
    assert house_no in zoned.held("east")
    assert scopes.digest(east, {"zones": ["东区"]}) == scopes.digest(zoned.central,
                                                                   {"zones": ["东区"]})


def test_moving_a_laptops_scope_works_both_ways(zoned):
    east = zoned.laptops["east"]
    scopes.set_scope(zoned.central, "east", {"zones": ["西区"]})
    zoned.back("east")
    assert zoned.held("east") == zoned.in_zones({"西区"})
    assert scopes.scope_of(east, east.device_id) == {"zones": ["西区"], "teams": []}
    assert scopes.digest(east, {"zones": ["西区"]}) == scopes.digest(zoned.central,
                                                                   {"zones": ["西区"]})
    scopes.set_scope(zoned.central, "east", {"zones": ["东区", "南区"]})
    zoned.back("east")
    assert zoned.held("east") == zoned.in_zones({"东区", "南区"})
    scopes.set_scope(zoned.central, "east", None)  # the whole project
    result = merge_pack(east, zoned.pack(zoned.central, ["east"]))
    assert result.ok
    assert zoned.held("east") == set(zoned.house)
    assert digest(east) == digest(zoned.central)


def test_a_replayed_older_pack_does_not_bring_an_old_scope_back(zoned):
    east = zoned.laptops["east"]
    old = zoned.pack(zoned.central, ["east"], full=True)
    scopes.set_scope(zoned.central, "east", {"zones": ["南区"]})
    zoned.back("east")
    assert merge_pack(east, old).ok  # replayed: its households are removed again at once
    assert zoned.held("east") == zoned.in_zones({"南区"})
    assert scopes.scope_of(east, east.device_id)["zones"] == ["南区"]


def test_a_laptop_edit_to_a_household_leaving_its_scope_is_kept_until_exported(zoned):
    east = zoned.laptops["east"]
    house_no = sorted(zoned.in_zones({"东区"}))[0]
    hid = zoned.house[house_no]
    east.save("household", hid, {"address": "东关街7号"}, by="li")  # not exported yet
    zoned.central.save("household", hid, {"zone": "西区"}, by="admin")
    zoned.back("east")
    assert house_no in zoned.held("east")  # its own unexported work stays
    zoned.send("east")
    assert zoned.central.get("household", hid)["address"] == "东关街7号"
    zoned.back("east")
    assert house_no not in zoned.held("east")
    # Its own change stays in its log (its signed chain), and is not sent again.
    assert east.conn.execute("SELECT count(*) FROM change WHERE record_id = ? AND "
                             "device_id = ?", (hid, east.device_id)).fetchone()[0] == 1
    zoned.send("east")
    assert zoned.central.get("household", hid)["address"] == "东关街7号"


def test_a_household_the_laptop_surveys_in_another_zone_goes_to_the_central(zoned):
    east = zoned.laptops["east"]
    hid = zoned.add("WRONG-1", "西区", 77, by=east)
    zoned.send("east")
    assert zoned.central.get("household", hid)["zone"] == "西区"
    zoned.back("east")
    assert "WRONG-1" not in zoned.held("east")  # at the central now: out of east's scope
    zoned.back("west")
    assert "WRONG-1" in zoned.held("west")


def test_a_team_scope_follows_the_cadres(zoned):
    set_team(zoned.central, "一组", ["王干部"])
    south = sorted(zoned.in_zones({"南区"}))[0]
    zoned.central.save("household", zoned.house[south], {"cadre": "王干部"}, by="admin")
    scopes.set_scope(zoned.central, "west", {"teams": ["一组"]})
    zoned.back("west")
    assert zoned.held("west") == {south}
    with pytest.raises(StoreError, match="unknown team"):
        scopes.set_scope(zoned.central, "west", {"teams": ["九组"]})


def test_cli_scope_at_enrolment_and_later(zoned, tmp_path):
    zoned.central.close()
    db = zoned.root / "central.db"
    out = anju("device", "enroll", db, "north", "--out", tmp_path / "n.enrol",
               "--scope", "zone=东区,南区")
    assert out.returncode == 0 and "receives: zones 东区, 南区" in out.stdout, out.stderr
    bad = anju("device", "scope", db, "north", "--scope", "zone")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "not a scope" in bad.stderr
    out = anju("device", "scope", db, "north", "--scope", "all")
    assert out.returncode == 0 and "receives: all" in out.stdout
    out = anju("export", db, "--out", tmp_path / "e.pack", "--for", "east")
    assert out.returncode == 0 and "sealed to east" in out.stdout
    zoned.central = Registry.open(db)
    assert json.loads(zoned.central.conn.execute(
        "SELECT scope FROM device WHERE name = 'east'").fetchone()[0]) == {"zones": ["东区"],
                                                                             "teams": []}


ZONES = ("东区", "西区", "南区")


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(moves=st.lists(st.tuples(st.integers(0, 5), st.sampled_from(ZONES)), max_size=5),
       scope=st.sets(st.sampled_from(ZONES), min_size=1),
       edits=st.lists(st.integers(0, 5), max_size=3))
def test_the_merge_laws_hold_per_scope(template, tmp_path_factory, moves, scope, edits):
    """Any zone moves at the central, any scope, any edits by the laptop: after a round trip
    the laptop holds exactly its scope's households, with the central's digest over them."""
    root = tmp_path_factory.mktemp("law") / "z"
    shutil.copytree(template, root)
    z = _reopen(root)
    try:
        scopes.set_scope(z.central, "east", {"zones": sorted(scope)})
        houses = sorted(z.house)
        east = z.laptops["east"]
        for i in edits:
            hid = z.house[houses[i]]
            if east.get("household", hid):
                east.save("household", hid, {"address": f"东关街{i}号"}, by="li")
        for i, zone in moves:
            z.central.save("household", z.house[houses[i]], {"zone": zone}, by="admin")
        z.send("east")
        z.back("east")
        assert z.held("east") == z.in_zones(scope)
        assert scopes.digest(east, {"zones": sorted(scope)}) == scopes.digest(
            z.central, {"zones": sorted(scope)})
        assert digest(east) == scopes.digest(z.central, {"zones": sorted(scope)})
    finally:
        z.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoned") / "z"
    Zoned(root).close()
    return root


def _reopen(root: Path) -> Zoned:
    z = Zoned.__new__(Zoned)
    z.root = root
    z.central = Registry.open(root / "central.db")
    z.laptops = {n: Registry.open(root / f"{n}.db") for n in ("east", "west", "all")}
    z.house = {r[0]: r[1] for r in z.central.conn.execute("SELECT house_no, id FROM household")}
    z.ids = {h: z.central.conn.execute("SELECT id_no FROM member WHERE household_id = ?",
                                       (i,)).fetchone()[0] for h, i in z.house.items()}
    return z
