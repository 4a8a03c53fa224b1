"""Merge and import results people can read: one Chinese sentence per pack with its counts, a
refusal reason a clerk can act on, and links to the conflicts the pack raised."""

from __future__ import annotations

import io
import re

import pytest
from anju.registry.sync.enrollment import enroll_device, init_laptop, revoke_device
from anju.registry.sync.merge import merge_pack
from anju.registry.sync.wording import REASONS, sentence
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.collector_helpers import csrf, login, make_app
from tests.syncing import Project, fingerprint

ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")


@pytest.fixture
def project(tmp_path):
    p = Project(tmp_path / "p", laptops=2, households=1)
    hid = p.households[0]
    p.lap(1).save("household", hid, {"structure": "simple"}, by="li")
    p.lap(2).save("household", hid, {"structure": "brick_wood"}, by="wang")
    yield p
    p.close()


def _upload(client, files, page="/sync"):
    data = {"csrf_token": csrf(client, page),
            "packs": [(io.BytesIO(content), name) for name, content in files]}
    return client.post("/sync/merge", data=data, content_type="multipart/form-data")


def _prose(text: str, *names: str) -> str:
    """The sentence without the file and device names it quotes (those may be Latin)."""
    for name in names:
        text = text.replace(name, "")
    return re.sub(r"[0-9a-f]{8}|\.pack", "", text)  # a device id, the file ending


def test_central_results_are_chinese_sentences_with_links_to_the_conflicts(project):
    hid = project.households[0]
    client = make_app(project.central).test_client()
    login(client, "boss")
    response = _upload(client, [("lap1.pack", project.pack(project.lap(1)).read_bytes()),
                                ("lap2.pack", project.pack(project.lap(2)).read_bytes()),
                                ("fake.jpg", b"\xff\xd8\xff\xe0 a photo")])
    html = response.text
    assert response.status_code == 200
    assert "<code>" not in html and "merged from" not in html and "not an anju pack" not in html
    assert ("“lap2.pack”已合并（来自 lap2）：新增 1 条修改，0 条本机已有，"
            "产生 1 个待解决冲突。") in html
    assert "“fake.jpg”被拒收：这不是安居数据包（可能选错了文件）" in html
    link = f'href="/conflicts/household/{hid}/structure"'
    assert link in html and "A-0000 · 房屋结构" in html
    page = client.get(f"/conflicts/household/{hid}/structure")
    assert page.status_code == 200 and "简易" in page.text and "砖木" in page.text


def test_surveyor_importing_the_central_pack_sees_conflicts_linked_to_the_house(project):
    hid = project.households[0]
    project.send(project.lap(2))  # the central registry now holds lap2's edit
    client = make_app(project.lap(1)).test_client()
    login(client, "li")
    html = _upload(client, [("central.pack", project.pack(project.central).read_bytes())]).text
    assert "“central.pack”已合并（来自 central）" in html and "产生 1 个待解决冲突" in html
    assert f'href="/households/{hid}#conflicts"' in html
    assert client.get(f"/households/{hid}").status_code == 200


def test_refusals_name_what_to_do(project, tmp_path):
    central = project.central
    # A device the laptop has not heard of yet (enrolled after the last central pack).
    enroll_device(central, "lap3", tmp_path / "lap3.enrol")
    lap3 = init_laptop(tmp_path / "lap3.db", tmp_path / "lap3.enrol")
    from anju.registry.core.store import Registry
    lap3 = Registry.open(tmp_path / "lap3.db") if not isinstance(lap3, Registry) else lap3
    unknown = merge_pack(project.lap(1), project.pack(lap3))
    assert unknown.code == "unknown_device"
    assert "未登记的设备" in sentence(unknown) and "设备”页登记" in sentence(unknown)
    # A revoked laptop.
    good = project.pack(project.lap(1))
    revoke_device(central, "lap1")
    revoked = merge_pack(central, good)
    assert revoked.code == "revoked" and "已吊销的设备“lap1”" in sentence(revoked)
    assert "T" not in sentence(revoked).split("吊销于")[1][:20]  # local time, not a raw stamp
    # Another project's pack.
    other = Project(tmp_path / "other", laptops=1)
    try:
        foreign = merge_pack(central, other.pack(other.lap(1)))
    finally:
        other.close()
    assert foreign.code == "other_project" and "属于另一个项目" in sentence(foreign)
    assert "测试项目" in sentence(foreign)
    for result in (unknown, revoked, foreign):
        assert not ENGLISH_WORD.search(_prose(sentence(result), result.path, "lap1")), \
            sentence(result)
    lap3.close()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_damaged_pack_is_refused_in_chinese_and_changes_nothing(project, tmp_path, data):
    good = project.pack(project.lap(1)).read_bytes()
    cut = data.draw(st.integers(0, 1 << 20), label="cut at") % len(good)
    flip = data.draw(st.one_of(st.none(), st.integers(0, 1 << 20)), label="flip")
    flip = None if flip is None else flip % len(good)
    damaged = bytearray(good[:cut] if flip is None else good)
    if flip is not None:
        damaged[flip] ^= 0x41
    path = tmp_path / "damaged.pack"
    path.write_bytes(bytes(damaged))
    before = fingerprint(project.central)
    result = merge_pack(project.central, path)
    assert not result.ok
    assert result.code in REASONS
    text = sentence(result)
    assert text.startswith(f"“{path}”被拒收：")
    assert not ENGLISH_WORD.search(_prose(text, str(path))), text
    assert fingerprint(project.central) == before


def test_reasons_are_all_chinese_sentences():
    for code, text in REASONS.items():
        assert not ENGLISH_WORD.search(re.sub(r"\{\w+\}|\.pack", "", text)), code
        assert text.endswith("。"), code
