"""Disclosure control across publications: an adversary who keeps every nightly public.db and
solves for households' sensitive values by differencing recovers nothing; homogeneous groups
give nothing away; the survey definition refuses to publish sensitive fields per household.

The attacker below reads only the public files. Its oracle is the registry's own truth, recorded
night by night by the simulation, never the code under test.
"""

import json
import random
import sqlite3
from collections import defaultdict

import pytest
from anju.registry.cli import main
from anju.registry.core.definition import DEFAULT_PATH, DefinitionError, parse
from anju.registry.core.store import Registry
from anju.registry.publication import disclosure
from anju.registry.publication.publish import publish
from click.testing import CliRunner

ZONES = ("东关片区A地块", "西门片区", "北街片区")
HARDSHIP = ("dibao", "tekun", "disability", "elderly_alone", "serious_illness")
RATES = {"dibao": 0.15, "tekun": 0.05, "disability": 0.1, "elderly_alone": 0.1,
         "serious_illness": 0.08}
FLOW = ("unsurveyed", "surveyed", "published", "valued", "signed", "handed_over")
COUNTED = set(FLOW[1:]) | {"disputed", "decision", "demolished"}


def _hardship(rng):
    out = [h for h in HARDSHIP if rng.random() < RATES[h]]
    return out, (1 if "disability" in out else None)


def simulate(tmp_path, nights=22, households=260, seed=7):
    """Nights of ordinary work (new surveys, status moves, hardship and member edits), each
    followed by a publication; returns the public files and the truth per night."""
    rng = random.Random(seed)
    reg = Registry.create(tmp_path / "registry.db", project="测试项目", role="central",
                          device_name="central")
    ids = {}
    state = {}
    for n in range(households):
        hno = f"H-{n:04d}"
        ids[hno] = reg.save("household", None, {
            "house_no": hno, "zone": ZONES[n % 3], "address": f"测试街{n}号",
            "structure": "brick_wood", "owner_name": "王小明", "status": "unsurveyed"},
            by="tester", full=True)
        state[hno] = {"status": "unsurveyed", "hardship": [], "registered_count": None}
    files, truths = [], []
    for night in range(nights):
        unsurveyed = [h for h, s in state.items() if s["status"] == "unsurveyed"]
        for hno in rng.sample(unsurveyed, min(len(unsurveyed), rng.randint(8, 22))):
            hard, grade = _hardship(rng)
            values = {"status": "surveyed", "hardship": hard,
                      "registered_count": rng.randint(1, 6)}
            if grade:
                values["disability_grade"] = "2"
            reg.save("household", ids[hno], values, by="tester")
            state[hno].update(status="surveyed", hardship=hard,
                              registered_count=values["registered_count"])
        moving = [h for h, s in state.items() if s["status"] in FLOW[1:-1]]
        for hno in rng.sample(moving, min(len(moving), rng.randint(3, 12))):
            nxt = FLOW[FLOW.index(state[hno]["status"]) + 1]
            reg.save("household", ids[hno], {"status": nxt}, by="tester")
            state[hno]["status"] = nxt
        done = [h for h, s in state.items() if s["status"] != "unsurveyed"]
        for hno in rng.sample(done, min(len(done), rng.randint(0, 3))):
            hard, grade = _hardship(rng)
            values = {"hardship": hard}
            if grade:
                values["disability_grade"] = "3"
            reg.save("household", ids[hno], values, by="tester")
            state[hno]["hardship"] = hard
        for hno in rng.sample(done, min(len(done), rng.randint(0, 2))):
            value = rng.randint(1, 6)
            reg.save("household", ids[hno], {"registered_count": value}, by="tester")
            state[hno]["registered_count"] = value
        out = tmp_path / f"night{night:02d}.db"
        publish(reg, out)
        files.append(out)
        truths.append({h: dict(s, hardship=list(s["hardship"])) for h, s in state.items()})
    reg.close()
    return files, truths


def _read(path):
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        data = {t: [dict(r) for r in conn.execute(f"SELECT * FROM [{t}]")] for t in tables}
    finally:
        conn.close()
    return data


def attack(files):
    """Everything the public files let one deduce with certainty about a household's hardship
    (has / has not each kind) or member count: a set of (house_no, attribute, value)."""
    nights = [_read(f) for f in files]
    step = {"count": 1, "sum": 1}
    prov = {r["key"]: r["value"] for r in nights[-1]["provenance"]}
    if "sensitive_rounding" in prov:
        count_step, sum_step = prov["sensitive_rounding"].split("/")
        step = {"count": int(count_step), "sum": int(sum_step)}
    # cells: (table, key) -> list of (night, value, group members, kind, attribute)
    observations = defaultdict(list)
    for i, pub in enumerate(nights):
        status = {r["house_no"]: (r["zone"], r["status_code"]) for r in pub["household"]}
        counted = {h for h, (_, s) in status.items() if s in COUNTED}
        for row in pub.get("progress", []):
            group = {h for h, zs in status.items() if zs == (row["zone"], row["status_code"])}
            for attr in ("registered_count", "resident_count"):
                if row.get(attr) is not None:
                    observations[("progress", row["zone"], row["status_code"], attr)].append(
                        (i, row[attr], group, "sum", attr, 1))
        for row in pub.get("choice_total", []):
            if row["field"] == "hardship" and row["households"] is not None:
                group = {h for h, (z, _) in status.items() if z == row["zone"]}
                observations[("choice", row["zone"], row["choice"])].append(
                    (i, row["households"], group, "count", row["choice"], 1))
        for row in pub.get("sensitive_total", []):
            if row["total"] is None:
                continue
            kind = "count" if row["choice"] else "sum"
            attr = row["choice"] or row["field"]
            observations[("sensitive", attr, row["released_at"])].append(
                (i, row["total"], counted, kind, attr, step[kind]))
    # A release shown again later is the same figure: keep the night it first appeared.
    series = defaultdict(list)
    for key, obs in observations.items():
        if key[0] == "sensitive":
            series[("sensitive", key[1])].append(min(obs, key=lambda o: o[0]))
        else:
            series[key] += obs
    facts = set()
    for obs in series.values():
        for _, value, group, kind, attr, st in obs:   # one publication: homogeneity
            if kind == "count":
                if value - st + 1 >= len(group) and group:
                    facts |= {(h, attr, True) for h in group}
                if value + st - 1 <= 0:
                    facts |= {(h, attr, False) for h in group}
        for a in obs:
            for b in obs:
                if a[0] >= b[0] or a[2] == b[2]:
                    continue
                entered, left = b[2] - a[2], a[2] - b[2]
                st = a[5]
                hi = 1 if a[3] == "count" else 50
                low = max(-hi * len(left), b[1] - a[1] - st + 1)
                high = min(hi * len(entered), b[1] - a[1] + st - 1)
                attr = a[4]
                if a[3] == "count":
                    if low >= len(entered):
                        facts |= {(h, attr, True) for h in entered}
                        facts |= {(h, attr, False) for h in left}
                    if high <= -len(left):
                        facts |= {(h, attr, False) for h in entered}
                        facts |= {(h, attr, True) for h in left}
                elif len(entered) == 1 and not left and low == high:
                    facts.add((next(iter(entered)), attr, low))
    return facts


def correct(facts, truths):
    """The facts that are true of some night (an attacker's claim is right if it ever held)."""
    right = set()
    for h, attr, value in facts:
        for truth in truths:
            s = truth[h]
            actual = s["registered_count"] if attr == "registered_count" else \
                (attr in s["hardship"]) if attr in HARDSHIP else None
            if actual == value:
                right.add((h, attr, value))
                break
    return right


def test_the_attacker_is_real_without_disclosure_control(tmp_path, monkeypatch):
    """With the controls turned off, the same attacker recovers many true facts: so the next
    test's zero means something."""
    monkeypatch.setattr(disclosure, "K_CHANGED", 0)
    monkeypatch.setattr(disclosure, "SLACK", 0)
    monkeypatch.setattr(disclosure, "ROUND_COUNT", 1)
    monkeypatch.setattr(disclosure, "ROUND_SUM", 1)
    files, truths = simulate(tmp_path, nights=8)
    facts = attack(files)
    assert len(correct(facts, truths)) >= 20


def test_twenty_nights_of_publications_give_no_household_away(tmp_path):
    files, truths = simulate(tmp_path, nights=22)
    facts = attack(files)
    assert correct(facts, truths) == set()
    # the totals are not simply withheld for ever: some were released
    last = _read(files[-1])["sensitive_total"]
    assert any(r["total"] is not None for r in last)
    # the ledger recorded every publication
    conn = sqlite3.connect(tmp_path / "registry.db")
    assert conn.execute("SELECT count(*) FROM disclosure_publication").fetchone()[0] == 22
    for (value, published) in conn.execute("SELECT value, published FROM disclosure_release"):
        assert abs(value - published) <= 5 and published % 5 == 0
    conn.close()


def test_a_homogeneous_group_publishes_nothing_about_its_attribute(registry, tmp_path):
    for n in range(5):  # a plot of five, all 低保 and 特困
        registry.save("household", None, {
            "house_no": f"P-{n}", "zone": "小地块", "address": f"小巷{n}号",
            "structure": "simple", "owner_name": "李四", "status": "surveyed",
            "hardship": ["dibao", "tekun"], "registered_count": 3}, by="t", full=True)
    for n in range(40):
        registry.save("household", None, {
            "house_no": f"Q-{n}", "zone": "大片区", "address": f"大街{n}号",
            "structure": "simple", "owner_name": "赵六", "status": "surveyed",
            "hardship": ["dibao"] if n < 3 else [], "registered_count": 2}, by="t", full=True)
    out = tmp_path / "public.db"
    publish(registry, out)
    data = _read(out)
    for table, rows in data.items():
        for row in rows:
            text = json.dumps(row, ensure_ascii=False, default=str)
            if "小地块" in text:
                assert not {"低保", "特困", "dibao", "tekun", "hardship"} & set(
                    str(v) for v in row.values()), (table, row)
                assert "registered_count" not in row or row["registered_count"] is None
    sensitive = {r["choice"]: r["total"] for r in data["sensitive_total"] if r["choice"]}
    # 8 of 45 are 低保 and 5 特困: fewer than K either way, so nothing at all
    assert sensitive["dibao"] is None and sensitive["tekun"] is None
    assert facts_none(attack([out]))


def facts_none(facts):
    return not facts


@pytest.mark.parametrize("policy", ["plain", "masked"])
def test_the_definition_refuses_to_publish_a_sensitive_field_per_household(policy):
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    for name in ("hardship", "registered_count"):
        start = text.index(f"      - name: {name}\n")
        end = text.index("publish: total", start)
        changed = text[:end] + f"publish: {policy}" + text[end + len("publish: total"):]
        with pytest.raises(DefinitionError, match="敏感字段.*sensitive"):
            parse(changed)
    # a definition stored before `sensitive` existed: member counts are still sensitive
    old = text.replace("        sensitive: true\n", "")
    assert parse(old).record("household").field("resident_count").sensitive
    # a member's field too, even with `sensitive: false`
    member = text.replace("        label: {zh: 与户主关系, en: Relation to head}\n",
                          "        label: {zh: 与户主关系, en: Relation to head}\n"
                          "        sensitive: false\n        publish: plain\n")
    with pytest.raises(DefinitionError, match="member.relation"):
        parse(member)


def test_survey_adopt_refuses_a_sensitive_field_made_plain(registry, tmp_path):
    path = registry.path
    registry.close()
    text = DEFAULT_PATH.read_text(encoding="utf-8").replace("version: 1\n", "version: 2\n", 1)
    start = text.index("      - name: hardship\n")
    end = text.index("publish: total", start)
    new = tmp_path / "survey.yaml"
    new.write_text(text[:end] + "publish: plain" + text[end + len("publish: total"):],
                   encoding="utf-8")
    result = CliRunner().invoke(main, ["survey", "adopt", str(path), str(new)])
    assert result.exit_code == 2
    assert "敏感字段" in result.output and "Traceback" not in result.output
    with Registry.open(path) as reg:
        assert reg.definition.record("household").field("hardship").publish == "total"
