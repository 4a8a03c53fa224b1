"""The survey on the settings page: an admin downloads it as an XLSForm and adopts one edited
in Excel; a form with refused rows is listed row by row and changes nothing."""

import io
from pathlib import Path

import pytest
from anju.registry.core.changes import now
from anju.registry.core.xlsform import import_xlsform
from openpyxl import load_workbook
from werkzeug.security import generate_password_hash

from tests.collector_helpers import PASSWORD, csrf, login, make_app

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def app(registry):
    app = make_app(registry)
    registry.conn.execute("INSERT INTO user (name, password_hash, role, created_at) VALUES "
                          "(?, ?, ?, ?)", ("root", generate_password_hash(
                              PASSWORD, method="pbkdf2:sha256:1000"), "admin", now()))
    return app


@pytest.fixture
def admin(app):
    client = app.test_client()
    login(client, "root")
    return client


def upload(client, data: bytes, name: str = "form.xlsx"):
    return client.post("/settings/survey", data={
        "csrf_token": csrf(client, "/settings"), "xlsform": (io.BytesIO(data), name)},
        content_type="multipart/form-data")


def test_download_gives_the_registry_survey(admin, registry):
    response = admin.get("/settings/survey.xlsx")
    assert response.status_code == 200
    assert "household_survey-v1.xlsx" in response.headers["Content-Disposition"]
    back = import_xlsform(response.data).definition
    assert [f for f in back.record("household").fields] == list(
        registry.definition.record("household").fields)


def test_a_survey_edited_in_excel_is_adopted(admin, registry):
    wb = load_workbook(io.BytesIO(admin.get("/settings/survey.xlsx").data))
    wb["settings"]["D2"] = "2"
    wb["survey"].append(["integer", "rooms", "间数", "Rooms"])
    out = io.BytesIO()
    wb.save(out)
    response = upload(admin, out.getvalue())
    assert response.status_code == 302, response.text
    from anju.registry.core.store import Registry
    with Registry.open(registry.path) as reg:
        assert reg.definition.version == 2
        assert reg.definition.record("household").has("rooms")
    page = admin.get("/settings").text
    assert "已采用调查表 household_survey 版本 2" in page


def test_refused_rows_are_listed_and_nothing_changes(admin, registry):
    before = registry.definition.hash
    response = upload(admin, (DATA / "household_unsupported.xlsx").read_bytes())
    assert response.status_code == 422
    assert "有的行安居不能接受，调查表没有改变。" in response.text
    assert "repeat_count" in response.text and "<td>25</td>" in response.text
    assert "安居不支持固定次数的重复" in response.text and ">拒绝</td>" in response.text
    assert registry.definition.hash == before


@pytest.mark.parametrize(("data", "name", "status"), [
    (b"not a workbook", "form.xlsx", 400), (b"x", "form.txt", 400)])
def test_bad_uploads_get_a_chinese_message(admin, data, name, status):
    response = upload(admin, data, name)
    assert response.status_code == status
    assert "Traceback" not in response.text
    assert "无法读取这个文件" in response.text or "不是 Excel 文件" in response.text


def test_same_version_is_refused(admin):
    response = upload(admin, (DATA / "household_kobo.xlsx").read_bytes())
    assert response.status_code == 422
    assert "版本号 1 不高于当前的 1" in response.text


def test_only_admins(app):
    client = app.test_client()
    login(client, "li")
    assert client.get("/settings/survey.xlsx").status_code == 403
