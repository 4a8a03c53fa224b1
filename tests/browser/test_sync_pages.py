"""The sync pages in a real browser: export download, many packs uploaded at once, and a
supervisor resolving a conflict, on a demo project (laptops with overlapping edits)."""

import pytest
from anju.registry.core.store import Registry
from anju.registry.sync.conflicts import open_conflicts

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def test_export_upload_and_resolve(live_collector, demo_registry, _demo_template, page,
                                   tmp_path):
    with Registry.open(demo_registry) as reg:
        before = len(open_conflicts(reg))
    assert before >= 1  # the demo's laptops edited one phone number differently
    base = live_collector(demo_registry)
    log_in(page, base, "supervisor")

    page.goto(base + "/conflicts")
    page.click("text=解决 →")
    assert "解决冲突" in page.inner_text("h1")
    page.check("input[value=other]")
    page.fill("input[name=other]", "13700000009")
    page.fill("input[name=reason]", "电话回访确认")
    page.click("button.primary")
    page.wait_for_load_state()
    assert "冲突已解决" in page.inner_text("main")
    with Registry.open(demo_registry) as reg:
        assert len(open_conflicts(reg)) == before - 1
        assert reg.conn.execute("SELECT count(*) FROM household WHERE owner_phone = "
                                "'13700000009'").fetchone()[0] == 1

    page.goto(base + "/sync")
    with page.expect_download() as download:
        page.click("text=导出并下载")
    saved = tmp_path / "central.pack"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"ANJUPACK")

    packs = sorted(str(p) for p in (_demo_template.parent / "packs").glob("*.pack"))
    (tmp_path / "junk.pack").write_bytes(b"not a pack")
    page.set_input_files("input[name=packs]", packs + [str(tmp_path / "junk.pack")])
    page.click("text=上传并合并")
    page.wait_for_load_state()
    lines = page.inner_text("ul.pack-results")
    assert "“laptop1.pack”已合并（来自 laptop1）：新增 0 条修改" in lines
    assert "“junk.pack”被拒收：这不是安居数据包" in lines
    assert all(u.startswith(base) for u in page.seen_urls)
