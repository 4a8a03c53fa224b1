"""Words where people read words: status moves and attachment boxes by their labels in the
history, visit outcomes as the survey names them, whole English labels, and a compensation-rules
editor that explains itself (Chinese comments) and previews its effect before saving."""

from __future__ import annotations

import html as htmllib
import re
from pathlib import Path

import pytest
import yaml
from anju.registry.compensation import calculation as comp
from anju.registry.core.changes import now
from anju.registry.core.files import save_files
from anju.registry.core.workflow import move
from anju.registry.sync.merge import adopt_definition
from werkzeug.security import generate_password_hash

from tests.collector_helpers import CSRF_RE, PASSWORD, csrf, login, make_app

SCHEMA = Path(__file__).resolve().parents[1] / "schema"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7"
       b"\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")


def add(reg, house_no="A-0001", **extra):
    return reg.save("household", None, {"house_no": house_no, "zone": "东关片区A地块",
                                         "address": "东关街1号", "structure": "brick_concrete",
                                         "owner_name": "张伟", **extra}, by="admin", full=True)


@pytest.fixture
def app(registry):
    app = make_app(registry)
    cheap = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    registry.conn.execute("INSERT INTO user (name, password_hash, role, created_at) VALUES "
                          "(?, ?, 'admin', ?)", ("root", cheap, now()))
    return app


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_history_names_status_moves_and_attachment_boxes(registry, app):
    hid = add(registry)
    move(registry, hid, "surveyed", by="li")
    save_files(registry, hid, "photos", [("门头.png", "image/png", PNG)], by="li")
    client = app.test_client()
    login(client)
    page = _text(client.get(f"/households/{hid}").text)
    assert "unsurveyed -> surveyed" not in page and "状态：未调查 → 已登记" in page
    photos = registry.definition.record("household").field("photos").label["zh"]
    history = page.split("修改记录")[-1] if "修改记录" in page else page
    assert f"栏目 {photos}" in history or f"{photos}" in history
    assert not re.search(r"\bphotos\b", history)


def test_visit_outcomes_come_from_the_survey(registry, app):
    hid = add(registry)
    text = (SCHEMA / "survey.yaml").read_text(encoding="utf-8")
    changed = text.replace("{zh: 不在家, en: Not at home}", "{zh: 家中无人, en: Nobody home}")
    changed = re.sub(r"^version: (\d+)", lambda m: f"version: {int(m[1]) + 1}", changed,
                     count=1, flags=re.M)
    assert changed != text
    adopt_definition(registry, changed)
    client = app.test_client()
    login(client)
    for path in (f"/households/{hid}", f"/households/{hid}/visits/new"):
        html = client.get(path).text
        assert "家中无人" in html and "不在家" not in html, path


def test_labels_are_whole():
    """Every label of the shipped survey has just zh and en: an unquoted comma in a YAML flow
    mapping would split one label into stray keys (how "Attachments (walls" was cut)."""
    raw = yaml.safe_load((SCHEMA / "survey.yaml").read_text(encoding="utf-8"))

    def labels(node):
        if isinstance(node, dict):
            if "zh" in node:
                yield node
            for value in node.values():
                yield from labels(value)
        elif isinstance(node, list):
            for value in node:
                yield from labels(value)

    found = list(labels(raw))
    assert len(found) > 50
    assert all(set(x) <= {"zh", "en"} for x in found), [x for x in found if set(x) - {"zh", "en"}]
    walls = [x for x in found if x["zh"].startswith("附属物")]
    assert walls == [{"zh": "附属物(围墙、水井、树木等)",
                      "en": "Attachments (walls, wells, trees)"}]


def test_compensation_rules_are_explained_in_chinese():
    text = (SCHEMA / "compensation.yaml").read_text(encoding="utf-8")
    comments = [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]
    assert len(comments) > 20
    assert all(re.search(r"[\u4e00-\u9fff]", c) for c in comments), \
        [c for c in comments if not re.search(r"[\u4e00-\u9fff]", c)]


def _money_row(html: str, name: str = "房屋价值") -> list[str]:
    return re.findall(name + r".*?<td class=\"num[^\"]*\">([\d,.\-]+)</td>", html, re.S)


def test_rules_editor_previews_the_effect_on_a_household_without_saving(registry, app):
    add(registry, cert_area=80, decoration="none")
    client = app.test_client()
    login(client, "root")
    page = client.get("/compensation/rules").text
    text = re.search(r'<textarea name="rules"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    text = htmllib.unescape(text)
    token = CSRF_RE.search(page).group(1)
    before = client.post("/compensation/rules", data={"csrf_token": token, "rules": text,
                                                      "action": "preview"})
    assert before.status_code == 200 and "预览：按编辑中的方案测算（尚未保存）" in before.text
    assert "A-0001" in before.text
    assert not comp.rules_are_stored(registry)
    # 80 m² brick-concrete in 东关片区A地块: the example price 9200, then 9300 (oracle: 80 × p)
    assert "736,000.00" in before.text
    dearer = text.replace("brick_concrete: 9200", "brick_concrete: 9300", 1)
    after = client.post("/compensation/rules", data={"csrf_token": token, "rules": dearer,
                                                     "action": "preview"})
    assert "744,000.00" in after.text and "736,000.00" not in after.text
    assert not comp.rules_are_stored(registry)
    broken = client.post("/compensation/rules", data={
        "csrf_token": token, "rules": dearer.replace("rate: 12", "rate: -12"),
        "action": "preview"})
    assert broken.status_code == 400 and "预览" not in _text(broken.text).split("方案有误")[0][-5:]
    assert not comp.rules_are_stored(registry)
    saved = client.post("/compensation/rules", data={"csrf_token": csrf(
        client, "/compensation/rules"), "rules": dearer, "action": "save"})
    assert saved.status_code == 302 and comp.rules_are_stored(registry)
