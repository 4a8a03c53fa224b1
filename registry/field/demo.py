"""A realistic synthetic project: zones, households, members, visits and planted abuses.

Built with Faker's zh_CN locale from one seed, so the same seed gives the same registry digest.
Change times are simulated over the past weeks so that progress figures have a history.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import random
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from anju.registry.compensation.calculation import calculate, default_rules_text, parse_rules
from anju.registry.compensation.rules import set_rules
from anju.registry.completion.handover import handover_id
from anju.registry.core.changes import Change
from anju.registry.core.store import InvalidChange, Registry, transaction
from anju.registry.core.validation import id_check_char, validate
from anju.registry.core.workflow import allowed_moves
from anju.registry.field.demo_flats import play_care, play_selection
from faker import Faker

AREA_CODES = ("110105", "110108", "440524", "370102", "420106", "510104", "330106", "610113")
ZONES = ("东关片区A地块", "东关片区B地块", "西门片区", "北街片区", "南岸片区C地块", "老城片区")
STRUCTURES = (("brick_concrete", 45), ("brick_wood", 30), ("simple", 15), ("steel_concrete", 10))
# The workflow path and the share of households that reached each stage.
PATH = ("unsurveyed", "surveyed", "published", "valued", "signed", "handed_over", "demolished")
STAGE_WEIGHTS = (6, 14, 12, 18, 24, 16, 10)
HARDSHIP = ("dibao", "tekun", "disability", "elderly_alone", "serious_illness")
DAY = dt.timedelta(days=1)


def resident_id(rng: random.Random, born: dt.date, male: bool | None = None) -> str:
    """A valid 18-character resident ID for a birth date."""
    seq = rng.randrange(0, 500) * 2 + (rng.randrange(2) if male is None else int(male))
    body = f"{rng.choice(AREA_CODES)}{born:%Y%m%d}{seq:03d}"
    return body + id_check_char(body)


class DemoBuilder:
    """Writes a synthetic project's changes straight into a registry, in one transaction."""

    def __init__(self, reg: Registry, seed: int, devices: int, today: dt.date):
        self.reg = reg
        self.rng = random.Random(seed)
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.today = today
        # Simulated work ends yesterday, so no change time lies in the future of a run.
        self.yesterday = today - DAY
        self.devices = [str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
                        for _ in range(max(devices, 1))]
        self.seq = dict.fromkeys(self.devices, 0)
        self.last: dict[tuple[str, str], str] = {}
        self.rules = parse_rules(default_rules_text(), reg.definition)
        # Attachments and the several-flat swap draw from a stream of their own, so that adding
        # them left every other figure of a seed's demo as it was.
        self.rng_items = random.Random(f"items-{seed}")
        self.fixtures: dict[str, list[dict]] = {}
        self.two_flats = 0
        self.agreements = 0
        self.pending: list[Change] = []
        # What each laptop holds besides its own work: records it edited after receiving them.
        self.by_record: dict[str, list[Change]] = {}
        self.home: dict[str, str] = {}
        self.copied: set[tuple[str, str]] = set()
        self.extra: dict[str, list[Change]] = {d: [] for d in self.devices}
        self.surveyors = [f"surveyor{i + 1}" for i in range(max(devices, 1) * 2)]
        self.cadres = [self.fake.name() for _ in range(12)]

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def at(self, day: dt.date) -> str:
        """A simulated time of day on a given date."""
        secs = self.rng.randrange(8 * 3600, 18 * 3600)
        moment = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=secs,
                                                                      microseconds=self.rng
                                                                      .randrange(10**6))
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def emit(self, record_type: str, record_id: str, values: dict, day: dt.date, by: str,
             device: str, full: bool = False, base: dict | None = None) -> None:
        """Validate values like any write path and queue them as one change.

        `base` overrides what the editor had seen (a concurrent edit on another laptop).
        """
        clean, errors = validate(self.reg.definition, record_type, values, partial=not full)
        if errors:
            raise InvalidChange(record_type, errors)
        self.seq[device] += 1
        cid = self.uid()
        if base is None:
            base = {k: self.last.get((record_id, k)) for k in clean}
        for k in clean:
            self.last[(record_id, k)] = cid
        home = self.home.setdefault(record_id, device)
        if home != device and (device, record_id) not in self.copied:
            # This laptop edits a record made elsewhere: it received it from the central pack.
            self.copied.add((device, record_id))
            self.extra[device].extend(self.by_record[record_id])
        change = Change(change_id=cid, device_id=device, seq=self.seq[device],
                        record_type=record_type, record_id=record_id, fields=clean,
                        base=base, at=self.at(day), by=by)
        self.pending.append(change)
        self.by_record.setdefault(record_id, []).append(change)

    def settings(self, households: int) -> dict:
        """Zones with targets and deadlines, the freeze date, signing period, teams and cadres."""
        zones = []
        per_zone = max(households // len(ZONES), 1)
        for i, name in enumerate(ZONES):
            zones.append({"name": name, "code": chr(ord("A") + i),
                          "target": per_zone, "deadline": str(self.today + (20 + 10 * i) * DAY)})
        teams = [{"name": f"第{n}工作组", "cadres": self.cadres[i * 4:(i + 1) * 4]}
                 for i, n in enumerate("一二三")]
        return {"zones": zones, "freeze_date": str(self.today - 120 * DAY),
                "signing_start": str(self.today - 40 * DAY),
                "survey_start": str(self.today - 60 * DAY), "teams": teams}

    def household(self, zone: dict, number: int) -> tuple[str, list[tuple]]:
        """Queue one household with members and visits; return its id and (member id, id_no)."""
        rng, fake = self.rng, self.fake
        hid = self.uid()
        device = rng.choice(self.devices)
        surveyor = rng.choice(self.surveyors)
        stage = rng.choices(range(len(PATH)), STAGE_WEIGHTS)[0]
        start = self.today - 56 * DAY
        survey_day = start + rng.randrange(0, 40) * DAY
        structure = rng.choices([s for s, _ in STRUCTURES], [w for _, w in STRUCTURES])[0]
        cert = round(rng.uniform(18, 140), 2)
        owner_born = dt.date(rng.randrange(1935, 1995), rng.randrange(1, 13), rng.randrange(1, 29))
        owner_name = fake.name()
        base = {"house_no": f"{zone['code']}-{number:04d}", "zone": zone["name"],
                "address": f"{zone['name'][:2]}{fake.street_name()}{rng.randrange(1, 300)}号",
                "structure": structure, "owner_name": owner_name, "status": "unsurveyed",
                "cadre": rng.choice(self.cadres)}
        self.emit("household", hid, base, survey_day - rng.randrange(1, 10) * DAY, "admin",
                  device)
        ids = []
        if stage == 0:
            return hid, ids
        use = rng.choices(["residential", "mixed", "non_residential"], [85, 10, 5])[0]
        hardship = (rng.sample(HARDSHIP, rng.randrange(1, 3)) if rng.random() < 0.08 else [])
        survey = {
            "property_cert_no": f"鲁(2019)第{rng.randrange(10**6, 10**7)}号"
            if rng.random() < 0.8 else None,
            "land_type": rng.choices(["state", "collective"], [90, 10])[0],
            "year_built": rng.randrange(1958, 2012), "floors": rng.choice([1, 1, 1, 2, 2, 3]),
            "registered_use": "residential" if use != "non_residential" else use,
            "actual_use": use, "cert_area": cert,
            "surveyed_area": round(cert * rng.uniform(0.97, 1.06), 2),
            "unregistered_area": round(rng.uniform(3, 25), 2) if rng.random() < 0.3 else None,
            "decoration": rng.choice(["none", "simple", "simple", "medium", "fine"]),
            "location": f"{36.65 + rng.uniform(-0.02, 0.02):.6f},"
                        f"{117.0 + rng.uniform(-0.02, 0.02):.6f}",
            "owner_id_no": resident_id(rng, owner_born),
            "owner_phone": f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}",
            "hardship": hardship,
            "disability_grade": str(rng.randrange(1, 5)) if "disability" in hardship else None,
            "compensation_mode": rng.choice(["money", "swap"]),
            "survey_date": str(survey_day), "status": "surveyed",
        }
        if survey["compensation_mode"] == "swap":
            survey["preferred_flat_size"] = rng.choice([60, 75, 90, 110])
        members = [("head", owner_name, owner_born)]
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4])):
            rel = rng.choice(["spouse", "child", "child", "parent", "grandchild"])
            members.append((rel, fake.name(), self.born_as(rel, owner_born)))
        survey["registered_count"] = len(members)
        survey["resident_count"] = max(1, len(members) - rng.randrange(0, 2))
        self.emit("household", hid, survey, survey_day, surveyor, device)
        self.count_fixtures(hid, survey_day, device)
        freeze = dt.date.fromisoformat(self.reg_settings["freeze_date"])
        for rel, name, born in members:
            mid = self.uid()
            id_no = resident_id(rng, born)
            on = max(born, freeze - rng.randrange(200, 9000) * DAY)
            self.emit("member", mid, {"household_id": hid, "name": name, "id_no": id_no,
                                      "relation": rel, "registered_on": str(on)},
                      survey_day, surveyor, device, full=True)
            ids.append((mid, id_no))
        for k in range(rng.randrange(1, 4)):
            day = survey_day - (k * rng.randrange(1, 6)) * DAY
            outcome = "surveyed" if k == 0 else rng.choice(["not_home", "refused", "not_home"])
            self.emit("visit", self.uid(), {"household_id": hid, "visit_date": str(day),
                                            "surveyor": surveyor, "outcome": outcome,
                                            "note": fake.sentence()[:60]},
                      day, surveyor, device, full=True)
        day = survey_day
        signed = None
        reached = "surveyed"
        signing_start = dt.date.fromisoformat(self.reg_settings["signing_start"])
        for status in PATH[2:stage + 1]:
            day = min(day + rng.randrange(1, 6) * DAY, self.yesterday)
            extra = {"status": status}
            if status == "valued":
                extra["valuation_commissioned"] = str(day - 7 * DAY)
                extra["valuation_date"] = str(day)
            if status == "signed":
                # Within the signing period and after the valuation; no agreement, no signing.
                day = min(max(day, signing_start + rng.randrange(0, 4) * DAY), self.yesterday)
                signed = self.agreement(hid, {**base, **survey}, day, device)
                if not signed:
                    break
            if status == "handed_over":
                self.emit("handover", handover_id(hid), {
                    "household_id": hid, "handed_over_on": str(day), "utilities_cut": "yes",
                    "keys_received": "yes"}, day, "supervisor", device, full=True)
            if status == "demolished":
                self.emit("handover", handover_id(hid), {"demolished_on": str(day)}, day,
                          "supervisor", device)
            self.emit("household", hid, extra, day, "supervisor", device)
            reached = status
            if status == "signed" and rng.random() < 0.6:
                self.payment(hid, signed, min(day + rng.randrange(1, 15) * DAY, self.yesterday),
                             device)
        # Some objections: only from a status the workflow lets into 异议中.
        if "disputed" in allowed_moves(reached) and rng.random() < 0.03:
            self.emit("household", hid, {"status": "disputed"},
                      min(day + DAY, self.yesterday), "supervisor", device)
        return hid, ids

    def born_as(self, relation: str, head: dt.date) -> dt.date:
        """A birth date that fits the relation to the head: children and grandchildren younger,
        parents older, by a generation; never in the future."""
        rng = self.rng
        years = {"child": rng.randrange(20, 40), "grandchild": rng.randrange(42, 70),
                 "parent": -rng.randrange(20, 40), "spouse": rng.randrange(-6, 7)}[relation]
        year = min(max(head.year + years, 1900), self.today.year - 1)
        return dt.date(year, rng.randrange(1, 13), rng.randrange(1, 29))

    def count_fixtures(self, hid: str, day: dt.date, device: str) -> None:
        """A quarter of the houses have counted attachments (walls, a well, trees) from the
        rules' item list, entered by the valuation team."""
        rng = self.rng_items
        if rng.random() >= 0.25 or not self.rules.data.get("attachments"):
            return
        main, self.rng = self.rng, rng  # ids and times from the items' stream
        try:
            for entry in rng.sample(self.rules.data["attachments"], rng.randrange(1, 4)):
                qty = (Decimal(rng.randrange(1, 4)) if entry["unit"] in ("well", "each")
                       else Decimal(rng.randrange(100, 4000)) / 100)
                values = {"household_id": hid, "item_code": entry["code"], "quantity": str(qty)}
                self.emit("fixture", self.uid(), values, day, "valuer", device, full=True)
                self.fixtures.setdefault(hid, []).append(values)
        finally:
            self.rng = main

    def agreement(self, hid: str, household: dict, day: dt.date,
                  device: str) -> tuple[str, Decimal] | None:
        """Queue the agreement a household signs, its breakdown frozen by the project's rules;
        the first few large swap houses take two smaller flats."""
        mode = household.get("compensation_mode") or "money"
        flats = None
        if mode == "swap" and self.two_flats < 3 and (household.get("cert_area") or 0) >= 120:
            flats = ["F60", "F75"]
        breakdown = calculate(self.rules, household, mode, day, settings=self.reg_settings,
                              fixtures=self.fixtures.get(hid), flats=flats)
        if flats and breakdown.complete:
            self.two_flats += 1
        if not breakdown.complete:
            return None
        self.agreements += 1
        agreement_id = self.uid()
        self.emit("agreement", agreement_id, {
            "household_id": hid, "number": f"{day:%Y}-{self.agreements:05d}",
            "signed_on": str(day), "mode": mode, "breakdown": breakdown.to_json(),
            "total": str(breakdown.total)}, day, "supervisor", device, full=True)
        return agreement_id, breakdown.total

    def payment(self, hid: str, signed: tuple[str, Decimal], day: dt.date, device: str) -> None:
        """A first payment of part of what an agreement owes (most pay in two instalments)."""
        agreement_id, total = signed
        if total <= 0:
            return  # a swap household that owes the difference is paid nothing
        share = Decimal(self.rng.choice(("0.5", "0.6", "0.7", "1")))
        self.emit("payment", self.uid(), {
            "household_id": hid, "agreement": agreement_id,
            "amount": str((total * share).quantize(Decimal("0.01"))), "paid_on": str(day),
            "method": "bank_transfer", "voucher_no": f"ZF-{day:%Y%m%d}-{self.uid()[:8]}"},
            day, "supervisor", device, full=True)

    def plant_abuses(self, households: list[tuple[str, list]]) -> None:
        """One person in two households, a member registered after the freeze, one title twice."""
        surveyed = [(h, m) for h, m in households if m]
        if len(surveyed) < 3:
            return
        (h1, m1), (h2, m2), (h3, m3) = surveyed[:3]
        dev, day = self.devices[0], self.today - 3 * DAY
        # One person in two households: h2 lists h1's head again.
        self.emit("member", self.uid(), {"household_id": h2, "name": self.fake.name(),
                                         "id_no": m1[0][1], "relation": "other",
                                         "registered_on": str(self.today - 400 * DAY)},
                  day, "surveyor1", dev, full=True)
        # A member registered at the address after the freeze date (突击落户).
        freeze = dt.date.fromisoformat(self.reg_settings["freeze_date"])
        self.emit("member", self.uid(), {
            "household_id": h3, "name": self.fake.name(),
            "id_no": resident_id(self.rng, dt.date(1990, 5, 17)), "relation": "other",
            "registered_on": str(freeze + 30 * DAY)}, day, "surveyor1", dev, full=True)
        # One title certificate in two households.
        cert = f"鲁(2019)第{9000000 + self.rng.randrange(10**5)}号"
        for hid in (h1, h3):
            self.emit("household", hid, {"property_cert_no": cert}, day, "surveyor1", dev)

    def overlap(self, households: list[tuple[str, list]]) -> None:
        """Concurrent edits of the same households on two laptops: some of different fields
        (both survive), some of the same field with different values (conflicts), and members
        added on the second laptop."""
        if len(self.devices) < 2:
            return
        day = self.today - DAY
        for n, (hid, _members) in enumerate([h for h in households if h[1]][3::37]):
            first = self.home[hid]
            second = self.rng.choice([d for d in self.devices if d != first])
            if n % 3 == 0:
                name, values = "owner_phone", [
                    f"1{self.rng.choice('3456789')}{self.rng.randrange(10**9):09d}"
                    for _ in range(2)]
                fields = (name, name)
            else:
                fields = ("comments", "resident_count")
                values = [self.fake.sentence()[:60], self.rng.randrange(1, 6)]
            seen = {f: self.last.get((hid, f)) for f in fields}
            for device, name, value in zip((first, second), fields, values):
                self.emit("household", hid, {name: value}, day, "surveyor1", device,
                          base={name: seen[name]})
            if n % 4 == 1:
                born = dt.date(self.rng.randrange(1950, 2015), self.rng.randrange(1, 13), 11)
                self.emit("member", self.uid(), {
                    "household_id": hid, "name": self.fake.name(),
                    "id_no": resident_id(self.rng, born), "relation": "other",
                    "registered_on": str(self.today - 900 * DAY)}, day, "surveyor1", second,
                    full=True)

    def per_device(self) -> dict[str, list[Change]]:
        """Each laptop's changes: its own work and the records it received and edited."""
        out = {d: list(self.extra[d]) for d in self.devices}
        for c in self.pending:
            out[c.device_id].append(c)
        return out

    def sign(self, laptops: dict[str, Path]) -> None:
        """Sign each laptop's changes with its own key, as its web app would have."""
        from anju.registry.core.signing import own_key, sign_run
        signed: dict[str, Change] = {}
        for device_id, path in laptops.items():
            with Registry.open(path) as laptop:
                key = own_key(laptop.conn, device_id, "laptop")
            mine = sorted((c for c in self.pending if c.device_id == device_id),
                          key=lambda c: c.seq)
            signed.update((c.change_id, c) for c in sign_run(key, self.reg.project_id, mine))
        self.pending = [signed[c.change_id] for c in self.pending]
        self.extra = {d: [signed[c.change_id] for c in cs] for d, cs in self.extra.items()}

    def build(self, households: int, progress: Callable[[int], None] | None = None) -> None:
        """Generate and write the whole project in one transaction."""
        self.reg_settings = self.settings(households)
        self.generate(households, progress)
        with transaction(self.reg.conn):
            self.reg.set_meta("settings", json.dumps(self.reg_settings, ensure_ascii=False))
            self.reg.apply(self.pending)

    def generate(self, households: int, progress: Callable[[int], None] | None = None) -> None:
        """Queue the whole project's changes (settings first, from `self.settings`)."""
        made = []
        zones = self.reg_settings["zones"]
        for i in range(households):
            zone = zones[i % len(zones)]
            made.append(self.household(zone, i // len(zones) + 1))
            if progress and i % 500 == 499:
                progress(500)
        self.plant_abuses(made)
        self.overlap(made)


def build_demo(directory: str | Path, *, households: int = 2000, devices: int = 3,
               seed: int = 1, today: dt.date | None = None,
               progress: Callable[[int], None] | None = None) -> Path:
    """Lay out a synthetic project the way a real one runs; return DIR/registry.db's path.

    The central office enrols K laptops (DIR/devices/laptopN.db, from enrolment files it makes
    and deletes after use); each laptop surveys its share, some households on two laptops at
    once; each exports its pack (DIR/packs/laptopN.pack); the central registry merges them.
    """
    from anju.registry.core.users import add_user
    from anju.registry.sync.enrollment import enroll_device, init_laptop
    from anju.registry.sync.merge import merge_packs
    from anju.registry.sync.packs import export_pack

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "registry.db"
    # The project id derives from the seed so that the same seed gives the same project.
    rng = random.Random(f"project-{seed}")
    reg = Registry.create(path, project="安居示范项目", role="central", device_name="central",
                          project_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
    logins = (("admin", "admin"), ("supervisor", "supervisor"), ("surveyor1", "surveyor"))
    collecting = gc.isenabled()
    gc.disable()  # hundreds of thousands of small acyclic objects: cycle scans only cost time
    try:
        builder = DemoBuilder(reg, seed, devices, today or dt.date.today())
        builder.reg_settings = builder.settings(households)
        reg.set_meta("settings", json.dumps(builder.reg_settings, ensure_ascii=False))
        set_rules(reg, default_rules_text(), by="admin")  # the current rules and their version
        for sub in ("devices", "packs", "enrolment"):
            (directory / sub).mkdir(exist_ok=True)
        names = {}
        for i, device_id in enumerate(builder.devices):
            names[device_id] = name = f"laptop{i + 1}"
            enrolment = directory / "enrolment" / f"{name}.json"
            # The demo's laptops do the whole project (signing too): every capability, granted
            # explicitly as a real project would grant it to a laptop at its signing office.
            enroll_device(reg, name, enrolment, device_id=device_id, capabilities=("all",))
            init_laptop(directory / "devices" / f"{name}.db", enrolment)
            enrolment.unlink()  # a secret: gone once the laptop is set up
        (directory / "enrolment").rmdir()
        for login, role in logins:
            add_user(reg, login, "anju-demo", role, policy=False)
        accounts = reg.conn.execute("SELECT name, password_hash, role, created_at FROM user "
                                    "ORDER BY name").fetchall()
        builder.generate(households, progress)
        builder.sign({d: directory / "devices" / f"{n}.db" for d, n in names.items()})
        packs = []
        for device_id, changes in builder.per_device().items():
            name = names[device_id]
            with Registry.open(directory / "devices" / f"{name}.db") as laptop:
                with transaction(laptop.conn):
                    laptop.apply(changes)
                    # The same demo accounts (password hashing is slow: hash once, copy).
                    laptop.conn.executemany("INSERT INTO user (name, password_hash, role, "
                                            "created_at) VALUES (?, ?, ?, ?)", accounts)
                packs.append(directory / "packs" / f"{name}.pack")
                export_pack(laptop, packs[-1])
        for result in merge_packs(reg, packs):
            if not result.ok:
                raise InvalidChange("pack", {result.path: [result.reason]})
        play_lawful_path(reg, builder.today, seed)
        play_selection(reg, builder.today, seed)  # flats, a lottery, choices in order
        play_care(reg, builder.today, seed)  # help planned and given to hardship households
    finally:
        reg.close()
        if collecting:
            gc.enable()
    return path


FIRMS = ("鲁信房地产评估有限公司", "齐鲁恒信土地房地产评估有限公司")


def play_lawful_path(reg: Registry, today: dt.date, seed: int) -> None:
    """The central office's lawful path on the merged demo (registry/legal), as a newcomer sees
    it: survey, valuation, compensation and decision rounds; a valuation report for every valued
    household; some review requests and objections, most answered, a few late or overdue; a few
    compensation decisions for holdouts past the signing period (settings `signing_deadline`)."""
    if "compensation_decision" not in reg.definition.records:
        return
    from anju.registry.compensation.calculation import rules_of
    from anju.registry.legal import decisions, objections, rounds, valuations
    rng = random.Random(f"lawful-{seed}")

    def uid() -> str:  # record ids from the seed: the same seed gives the same digest
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    settings = dict(reg.settings)
    settings["signing_deadline"] = str(today - 5 * DAY)
    reg.set_meta("settings", json.dumps(settings, ensure_ascii=False))
    prices = rules_of(reg).data["unit_prices"]
    appraisers = [fake.name() for _ in range(4)]
    survey_start = dt.date.fromisoformat(settings["survey_start"])
    rows = reg.conn.execute("SELECT id, zone, status, structure, cert_area, valuation_date "
                            "FROM household WHERE deleted IS NULL ORDER BY house_no").fetchall()
    reg.conn.execute("PRAGMA synchronous=OFF")  # a demo: thousands of small transactions
    try:
        published = [r[0] for r in rows if r[2] not in ("unsurveyed", "surveyed")]
        if published:
            rounds.open_round(reg, "plan", days=30, by="admin", households=[r[0] for r in rows],
                              start_on=str(survey_start), today=today, record_id=uid())
            rounds.open_round(reg, "survey", days=7, by="admin", households=published,
                              start_on=str(survey_start + 20 * DAY), today=today,
                              record_id=uid())
        first_zone = [r[0] for r in rows if r[2] == "surveyed" and r[1] == rows[0][1]]
        if first_zone:  # a round still running: its households became 已公示 by it
            rounds.open_round(reg, "survey", days=7, by="admin", households=first_zone,
                              start_on=str(today - 2 * DAY), today=today, record_id=uid())
        reviewable = []
        for hid, zone, status, structure, area, valued_on in rows:
            if not valued_on or area is None or status in ("unsurveyed", "surveyed", "published"):
                continue
            delivered = dt.date.fromisoformat(valued_on)
            base = prices.get(zone, {}).get(structure)
            if base is None:
                continue
            price = (Decimal(str(base)) * Decimal(rng.randrange(97, 106)) / 100).quantize(
                Decimal("1"))
            vid = valuations.record_valuation(
                reg, hid, firm=FIRMS[rng.randrange(len(FIRMS))],
                report_no=f"PG{delivered:%Y}-{len(reviewable) + 1:05d}",
                value_date=str(survey_start), unit_price=str(price),
                total=str((price * Decimal(str(area))).quantize(Decimal("0.01"))),
                appraiser=rng.choice(appraisers), reported_on=str(delivered - 2 * DAY),
                delivered_on=str(delivered), by="admin", today=today, record_id=uid())
            reviewable.append((hid, status, vid, delivered, price, area))
        valued = [v for v in reviewable if v[1] == "valued"]
        for n, (hid, _, vid, delivered, price, area) in enumerate(
                rng.sample(valued, min(len(valued), max(2, len(valued) // 8)))):
            received = min(delivered + rng.choice((3, 6, 9, 10, 13)) * DAY, today)
            oid = objections.record_objection(
                reg, hid, kind="valuation_review", against=vid, received_on=str(received),
                disputed=rng.choice(("评估单价低于周边成交价", "装修未计入评估", "面积认定有误")),
                received_by=rng.choice(("cadre", "office")), by="supervisor", today=today,
                record_id=uid())
            if n % 3 == 0:
                continue  # still open (the first of every three, so any demo has one)
            replied = min(received + rng.randrange(3, 12) * DAY, today)
            if n % 3 == 1:
                new_price = price + 150
                valuations.record_valuation(
                    reg, hid, firm=FIRMS[0], report_no=f"PG-FH-{n + 1:04d}",
                    value_date=str(survey_start), unit_price=str(new_price),
                    total=str((new_price * Decimal(str(area))).quantize(Decimal("0.01"))),
                    appraiser=rng.choice(appraisers), reported_on=str(replied),
                    delivered_on=str(replied), basis="review", supersedes=vid, result_of=oid,
                    by="admin", today=today, record_id=uid())
                objections.answer(reg, oid, reply=f"经复核,评估单价调整为 {new_price} 元/㎡",
                                  outcome="upheld", replied_on=str(replied), by="supervisor",
                                  today=today)
            else:
                objections.answer(reg, oid, reply="经复核,原评估结果无误,维持原评估",
                                  outcome="rejected", replied_on=str(replied), by="supervisor",
                                  today=today)
        if reviewable:
            rounds.open_round(reg, "valuation", days=10, by="admin", start_on=str(
                today - 20 * DAY), today=today, record_id=uid())
        signed = rounds.scope(reg, "compensation")
        if signed:
            rounds.open_round(reg, "compensation", days=10, by="admin",
                              start_on=str(today - 10 * DAY), today=today, record_id=uid())
        holdouts = decisions.eligible(reg, today)
        for n, h in enumerate(holdouts[:max(1, len(holdouts) // 40)]):
            did = decisions.draft(reg, h["id"], number=f"征补决字〔{today:%Y}〕第{n + 1:03d}号",
                                  mode=h.get("compensation_mode") or "money",
                                  drafted_on=str(today - 4 * DAY), by="admin", today=today,
                                  record_id=uid())
            if n % 4 != 3:
                decisions.issue(reg, did, str(today - 3 * DAY), by="admin", today=today)
                if n % 4 != 2:
                    decisions.serve(reg, did, str(today - 2 * DAY), by="admin", today=today)
        if rounds.scope(reg, "decision"):
            rounds.open_round(reg, "decision", days=10, by="admin", start_on=str(
                today - 2 * DAY), today=today, record_id=uid())
    finally:
        reg.conn.execute("PRAGMA synchronous=FULL")
