"""The backup page, the scheduled backup thread and the export reminders of the web app."""

import time

import pytest
from anju.collector import create_app
from anju.registry.core.changes import now
from anju.registry.core.store import Registry
from anju.registry.core.users import add_user
from anju.registry.field import backup
from anju.registry.sync.export_status import export_status

from tests.collector_helpers import csrf
from tests.conftest import HOUSEHOLD


@pytest.fixture
def laptop(tmp_path):
    reg = Registry.create(tmp_path / "laptop.db", project="测试项目", role="laptop",
                          device_name="笔记本 1")
    add_user(reg, "li", "surveyor-pass", "surveyor")
    yield reg
    reg.close()


def app_for(reg, **config):
    return create_app(reg.path, {"TESTING": True, "SECRET_KEY": "test", **config})


def logged_in(app):
    client = app.test_client()
    client.post("/login", data={"name": "li", "password": "surveyor-pass",
                                "csrf_token": csrf(client)})
    return client


def age_changes(reg, hours):
    """Pretend this laptop's changes were saved `hours` ago."""
    reg.conn.execute("UPDATE change SET received_at = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now', "
                     f"'-{int(hours * 60)} minutes')")


def test_choose_folder_back_up_now_and_list(laptop, tmp_path):
    usb = tmp_path / "usb"
    usb.mkdir()
    laptop.save("household", None, dict(HOUSEHOLD), by="li", full=True)
    client = logged_in(app_for(laptop, BACKUP_SCHEDULER=False))
    page = client.get("/backup")
    assert page.status_code == 200 and "备份文件夹" in page.text
    missing = client.post("/backup/settings", data={
        "folder": str(tmp_path / "nodrive" / "x"), "every": "30", "keep": "5",
        "csrf_token": csrf(client, "/backup")}, follow_redirects=True)
    assert "找不到这个文件夹" in missing.text and laptop.meta("backup_dir") is None
    target = usb / "安居备份"  # created inside an existing drive
    saved = client.post("/backup/settings", data={
        "folder": str(target), "every": "30", "keep": "5",
        "csrf_token": csrf(client, "/backup")}, follow_redirects=True)
    assert "已保存" in saved.text and laptop.meta("backup_dir") == str(target.resolve())
    done = client.post("/backup/now", data={"csrf_token": csrf(client, "/backup")},
                       follow_redirects=True)
    assert "已备份" in done.text
    (made,) = target.iterdir()
    assert made.name in done.text and "手动" in done.text


def test_banner_when_exports_are_overdue_and_reminder_on_logout(laptop):
    laptop.save("household", None, dict(HOUSEHOLD), by="li", full=True)
    app = app_for(laptop, BACKUP_SCHEDULER=False)
    client = logged_in(app)
    assert "请尽快导出" not in client.get("/backup").text  # saved just now
    age_changes(laptop, 9)
    assert export_status(laptop).overdue
    assert "请尽快导出" in client.get("/backup").text
    laptop.set_meta("export_warn_hours", "12")
    assert "请尽快导出" not in client.get("/backup").text
    laptop.set_meta("export_warn_hours", "8")
    laptop.set_meta("last_export_at", now())  # an export took everything
    assert export_status(laptop).count == 0
    assert "请尽快导出" not in client.get("/backup").text
    laptop.save("household", None, {**HOUSEHOLD, "house_no": "A-0002"}, by="li", full=True)
    out = client.post("/logout", data={"csrf_token": csrf(client, "/backup")},
                      follow_redirects=True)
    assert "1 条修改没有导出" in out.text and "已退出登录" in out.text


def test_no_reminder_when_everything_is_exported(laptop):
    client = logged_in(app_for(laptop, BACKUP_SCHEDULER=False))
    out = client.post("/logout", data={"csrf_token": csrf(client, "/backup")},
                      follow_redirects=True)
    assert "没有导出" not in out.text


def test_banner_shows_a_failed_backup(laptop, tmp_path):
    client = logged_in(app_for(laptop, BACKUP_SCHEDULER=False))
    with pytest.raises(backup.BackupError):
        backup.backup_now(laptop, tmp_path / "gone")
    assert "自动备份失败" in client.get("/backup").text


def test_scheduler_thread_backs_up_when_a_folder_is_set(laptop, tmp_path):
    usb = tmp_path / "usb"
    usb.mkdir()
    laptop.save("household", None, dict(HOUSEHOLD), by="li", full=True)
    laptop.set_meta("backup_dir", str(usb))
    app = app_for(laptop, BACKUP_TICK_SECONDS=0.05)
    scheduler = app.extensions["anju_backup"]
    try:
        deadline = time.monotonic() + 10
        while not backup.list_backups(usb) and time.monotonic() < deadline:
            time.sleep(0.05)
        (first,) = backup.list_backups(usb)
        assert first.reason == "scheduled"
        time.sleep(0.3)
        assert len(backup.list_backups(usb)) == 1  # nothing new: no second backup
    finally:
        scheduler.stop()


def test_no_scheduler_without_a_folder(laptop):
    assert app_for(laptop).extensions["anju_backup"] is None
