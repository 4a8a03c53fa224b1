"""Photos and scans: type sniffed from the bytes, size limits, blob + record in one transaction,
thumbnails made from the database."""

import hashlib
import io

import pytest
from anju.collector.attachments import clean_filename, sniff
from PIL import Image

from tests.collector_helpers import csrf, login, make_app


def image_bytes(fmt="JPEG", size=(1200, 900), color=(200, 80, 40)):
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def app(registry):
    return make_app(registry, ATTACHMENT_MAX_BYTES=200_000, MAX_CONTENT_LENGTH=1_000_000)


@pytest.fixture
def client(app):
    c = app.test_client()
    login(c)
    return c


def upload(client, hid, files, field="photos"):
    token = csrf(client, f"/households/{hid}/attachments")
    data = {"csrf_token": token, "field": field,
            "file": [(io.BytesIO(body), name) for name, body in files]}
    return client.post(f"/households/{hid}/attachments", data=data,
                       content_type="multipart/form-data")


def blobs(reg):
    return reg.conn.execute("SELECT sha256, mime, size FROM blob").fetchall()


def test_photo_stored_by_sha256_with_a_record_and_a_thumbnail(registry, household, client):
    jpeg = image_bytes()
    r = upload(client, household, [("门头.jpg", jpeg)])
    assert r.status_code == 302
    digest = hashlib.sha256(jpeg).hexdigest()
    assert blobs(registry) == [(digest, "image/jpeg", len(jpeg))]
    (a,) = registry.children("attachment", household)
    assert (a["field"], a["filename"], a["mime"], a["size"], a["sha256"]) == \
        ("photos", "门头.jpg", "image/jpeg", len(jpeg), digest)
    assert client.get(f"/attachments/{a['id']}/file").data == jpeg
    thumb = client.get(f"/attachments/{a['id']}/thumb")
    assert thumb.mimetype == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.data)).size) == 320
    page = client.get(f"/households/{household}").text
    assert f'src="/attachments/{a["id"]}/thumb"' in page and "门头.jpg" in page


def test_png_webp_and_pdf_accepted_same_bytes_stored_once(registry, household, client):
    png, webp = image_bytes("PNG", (40, 30)), image_bytes("WEBP", (40, 30))
    r = upload(client, household, [("a.png", png), ("b.webp", webp), ("deed.pdf", PDF),
                                   ("again.png", png)], field="documents")
    assert r.status_code == 302
    assert sorted(m for _, m, _ in blobs(registry)) == ["application/pdf", "image/png",
                                                        "image/webp"]
    assert len(registry.children("attachment", household)) == 4
    pdf = [a for a in registry.children("attachment", household) if a["mime"].endswith("pdf")]
    assert client.get(f"/attachments/{pdf[0]['id']}/thumb").mimetype == "image/svg+xml"


def test_type_is_sniffed_not_taken_from_the_name(registry, household, client):
    r = upload(client, household, [("photo.jpg", b"MZ\x90\x00 not really a jpeg"),
                                   ("ok.jpg", image_bytes())])
    assert r.status_code == 422
    assert "文件「photo.jpg」不是 JPEG、PNG、WebP 图片或 PDF 文件" in r.text
    # all or nothing: the good file of the same upload was not stored either
    assert blobs(registry) == [] and registry.children("attachment", household) == []
    r = upload(client, household, [("x.svg", b"<svg onload=alert(1)></svg>")])
    assert r.status_code == 422 and "<svg onload" not in r.text


def test_size_limits(registry, household, client):
    big = image_bytes("PNG", (600, 600)) + b"\0" * 200_000
    r = upload(client, household, [("big.png", big)])
    assert r.status_code == 422 and "超过" in r.text and "上限" in r.text
    r = upload(client, household, [("huge.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 1_200_000)])
    assert r.status_code == 413 and "文件太大" in r.text
    r = upload(client, household, [("empty.jpg", b"")])
    assert r.status_code == 422
    assert blobs(registry) == []


def test_upload_needs_a_known_field_and_a_file(registry, household, client):
    r = upload(client, household, [("a.jpg", image_bytes())], field="owner_name")
    assert r.status_code == 422 and "请选择附件栏目" in r.text
    r = upload(client, household, [])
    assert r.status_code == 422 and "请选择要上传的文件" in r.text
    assert client.get("/attachments/not-a-uuid/file").status_code == 404


def test_camera_and_file_picker_inputs(household, client):
    page = client.get(f"/households/{household}/attachments").text
    assert 'accept="image/*" capture="environment"' in page
    assert 'multiple' in page and 'enctype="multipart/form-data"' in page


def test_file_names_and_sniffing():
    assert clean_filename("C:\\照片\\门头.jpg") == "门头.jpg"
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("a\x00b\n.png") == "ab.png"
    assert clean_filename("") == "file" and len(clean_filename("x" * 500)) == 200
    assert sniff(image_bytes("PNG", (2, 2))) == "image/png"
    assert sniff(b"RIFF\0\0\0\0WAVEfmt ") is None
