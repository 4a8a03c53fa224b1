"""Survey changes mid-project: a new definition travels in the central pack to the laptops."""

import subprocess
import sys

import pytest
import yaml
from anju.registry.core.definition import DEFAULT_PATH
from anju.registry.core.digest import digest
from anju.registry.core.store import Registry, StoreError
from anju.registry.sync.enrollment import enroll_device, init_laptop
from anju.registry.sync.merge import adopt_definition, merge_pack
from anju.registry.sync.packs import export_pack

from tests.conftest import HOUSEHOLD

HEAD = {"name": "张伟", "id_no": "11010519491231002X", "relation": "head"}


def anju(*args):
    return subprocess.run([sys.executable, "-m", "anju.registry.cli", *args], capture_output=True,
                          text=True, timeout=120)


def definition(version=2, add=True, drop=None, retype=None):
    """The default survey with a higher version and an added household and member field."""
    raw = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    raw["version"] = version
    household = raw["records"]["household"]["fields"]
    if add:
        household.append({"name": "well_count", "type": "integer", "section": "house",
                          "label": {"zh": "水井数", "en": "Wells"}, "constraint": {"min": 0}})
        raw["records"]["member"]["fields"].append(
            {"name": "occupation", "type": "text", "label": {"zh": "职业", "en": "Occupation"}})
    if drop:
        raw["records"]["household"]["fields"] = [f for f in household if f["name"] != drop]
    if retype:
        for f in household:
            if f["name"] == retype:
                f["type"] = "integer"
                f.pop("constraint", None)
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)


@pytest.fixture
def project(tmp_path):
    """A central registry and two enrolled laptops, all on survey version 1."""
    central = Registry.create(tmp_path / "central.db", project="东关棚改", role="central",
                              device_name="central")
    laptops = []
    for name in ("laptop-1", "laptop-2"):
        enroll_device(central, name, tmp_path / f"{name}.enrol")
        init_laptop(tmp_path / f"{name}.db", tmp_path / f"{name}.enrol")
        laptops.append(Registry.open(tmp_path / f"{name}.db"))
    yield central, laptops, tmp_path
    for reg in (central, *laptops):
        reg.close()


def survey_household(reg, house_no, **extra):
    hid = reg.save("household", None, {**HOUSEHOLD, "house_no": house_no, **extra}, by="li",
                   full=True)
    reg.save("member", None, {"household_id": hid, **HEAD}, by="li", full=True)
    return hid


def send(source, target, path):
    """Export from one database and merge into another, as a USB stick carries it."""
    export_pack(source, path)
    result = merge_pack(target, path)
    assert result.ok, result.reason
    return result


def test_definition_change_carried_by_a_pack(project):
    central, (laptop, _), tmp = project
    hid = survey_household(laptop, "A-0001")
    send(laptop, central, tmp / "l1-a.pack")
    before = {k: v for k, v in laptop.get("household", hid).items() if v is not None}

    adopt_definition(central, definition())
    central.save("household", hid, {"well_count": 2}, by="office")
    result = send(central, laptop, tmp / "central-a.pack")

    assert any("adopted survey definition version 2" in n for n in result.notes)
    assert laptop.definition.version == 2
    with Registry.open(laptop.path) as again:  # and it stays so when the laptop reopens
        assert again.definition.version == 2
        row = again.get("household", hid)
    assert row["well_count"] == 2  # the added field appears, with the office's value
    for key in ("house_no", "owner_name", "address", "structure", "zone"):
        assert row[key] == before[key]  # the laptop's data is kept
    cols = {r[1] for r in laptop.conn.execute("PRAGMA table_info(member)")}
    assert "occupation" in cols
    # The surveyor can now fill the new fields, and they go back to the centre.
    (member,) = laptop.children("member", hid)
    laptop.save("member", member["id"], {"occupation": "个体"}, by="li")
    new_hid = survey_household(laptop, "A-0002", well_count=1)
    send(laptop, central, tmp / "l1-b.pack")
    assert central.get("household", new_hid)["well_count"] == 1
    assert central.get("member", member["id"])["occupation"] == "个体"
    assert digest(central) == digest(laptop)


def test_added_fields_appear_in_the_laptop_form(project):
    from tests.collector_helpers import csrf, login, make_app

    central, (laptop, _), tmp = project
    adopt_definition(central, definition())
    send(central, laptop, tmp / "central.pack")
    client = make_app(laptop, BACKUP_SCHEDULER=False).test_client()
    login(client)
    form = client.get("/households/new").text
    assert 'name="well_count"' in form and "水井数" in form
    assert csrf(client, "/households/new")


def test_older_laptops_pack_merges_into_a_newer_registry(project):
    central, (laptop1, laptop2), tmp = project
    adopt_definition(central, definition())
    send(central, laptop1, tmp / "central-1.pack")
    # laptop-2 has not been to the office since: it still surveys with version 1.
    assert laptop2.definition.version == 1
    old_hid = survey_household(laptop2, "B-0001")
    result = send(laptop2, central, tmp / "l2.pack")
    assert result.new == 2
    assert central.get("household", old_hid)["owner_name"] == HOUSEHOLD["owner_name"]
    assert central.get("household", old_hid)["well_count"] is None
    assert central.definition.version == 2
    # On its next visit laptop-2 receives the new definition and everyone's work.
    send(central, laptop2, tmp / "central-2.pack")
    assert laptop2.definition.version == 2
    assert digest(laptop2) == digest(central)


def test_a_definition_dropping_or_retyping_a_field_with_data_is_refused(project):
    central, (laptop, _), tmp = project
    hid = survey_household(central, "C-0001", property_cert_no="鲁(2020)第0001号")
    before = digest(central)
    with pytest.raises(StoreError, match=r"drops household\.property_cert_no, which holds data"):
        adopt_definition(central, definition(drop="property_cert_no"))
    with pytest.raises(StoreError,
                       match=r"retypes \(text -> integer\) household\.property_cert_no"):
        adopt_definition(central, definition(retype="property_cert_no"))
    assert central.definition.version == 1 and digest(central) == before
    assert central.get("household", hid)["property_cert_no"] == "鲁(2020)第0001号"
    # A field the code reads (the core contract) cannot be dropped at all, data or not.
    with pytest.raises(StoreError, match=r"household\.address: anju needs this field"):
        adopt_definition(central, definition(drop="address"))
    # An empty field may go: nobody loses anything.
    assert central.conn.execute("SELECT count(*) FROM household WHERE owner_phone IS NOT NULL"
                                ).fetchone()[0] == 0
    adopt_definition(central, definition(add=False, drop="owner_phone"))
    assert "owner_phone" not in {f.name for f in central.definition.record("household").columns}


def test_a_laptop_refuses_a_central_definition_that_drops_its_data(project):
    """The office dropped a field it never filled; a laptop holding data in it keeps its data."""
    central, (laptop, _), tmp = project
    survey_household(laptop, "D-0001", owner_phone="13812345678")
    before = digest(laptop)
    adopt_definition(central, definition(add=False, drop="owner_phone"))
    export_pack(central, tmp / "central.pack")
    result = merge_pack(laptop, tmp / "central.pack")
    assert not result.ok
    assert "survey definition refused" in result.reason
    assert "household.owner_phone" in result.reason
    assert laptop.definition.version == 1 and digest(laptop) == before


def test_cli_survey_adopt(project):
    central, _, tmp = project
    central.close()
    db = str(tmp / "central.db")
    (tmp / "v2.yaml").write_text(definition(), encoding="utf-8")
    (tmp / "v1.yaml").write_text(definition(version=1), encoding="utf-8")
    same = anju("survey", "adopt", db, str(tmp / "v1.yaml"))
    assert same.returncode == 2 and "not above the current 1" in same.stderr
    ok = anju("survey", "adopt", db, str(tmp / "v2.yaml"))
    assert ok.returncode == 0, ok.stderr
    assert "household.well_count" in ok.stdout and "member.occupation" in ok.stdout
    assert "version 2" in anju("survey", "show", db).stdout
    refused = anju("survey", "adopt", str(tmp / "laptop-1.db"), str(tmp / "v2.yaml"))
    assert refused.returncode == 2 and "central pack" in refused.stderr
