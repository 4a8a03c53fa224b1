"""Uploads and pages (issue 14, point 6): the pixel limit before decoding, thumbnails made once,
a small body limit before login, and a Content-Security-Policy on every page.

The attacks of the issue: a 0.6 MB PNG of 12000x12000 was accepted and one thumbnail took 11 s
and 1.4 GB; an anonymous 800 MB POST was written to disk before the 413.
"""

import hashlib
import io
import re
import struct
import time
import zlib
from pathlib import Path

import pytest
from anju.collector.hardening import ANONYMOUS_MAX_BYTES
from anju.registry.core.changes import new_id
from anju.registry.core.files import image_pixels, make_thumbnail
from PIL import Image

from tests.collector_helpers import csrf, login, make_app

TEMPLATES = Path(__file__).resolve().parent.parent / "collector" / "templates"


def huge_png(width=12000, height=12000) -> bytes:
    """A valid PNG header claiming width x height, with a little compressed data: small file."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\0" * (width * 3 + 1) * 50, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def photo(size=(800, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def client(registry):
    c = make_app(registry).test_client()
    login(c)
    return c


def _upload(client, hid, name, body):
    token = csrf(client, f"/households/{hid}/attachments")
    return client.post(f"/households/{hid}/attachments", content_type="multipart/form-data",
                       data={"csrf_token": token, "field": "photos",
                             "file": [(io.BytesIO(body), name)]})


def test_a_huge_image_in_a_small_file_is_refused_before_decoding(registry, household, client):
    body = huge_png()
    assert len(body) < 1_000_000 and image_pixels(body) == 144_000_000
    start = time.perf_counter()
    r = _upload(client, household, "bomb.png", body)
    assert time.perf_counter() - start < 3
    assert r.status_code == 422 and "像素过多" in r.text
    assert registry.conn.execute("SELECT count(*) FROM blob").fetchone()[0] == 0


def test_a_huge_image_from_a_pack_gets_a_placeholder_not_a_decode(registry, household, client):
    body = huge_png()
    digest = hashlib.sha256(body).hexdigest()
    registry.conn.execute("INSERT INTO blob (sha256, mime, size, data) VALUES (?, ?, ?, ?)",
                          (digest, "image/png", len(body), body))
    aid = new_id()
    registry.apply([registry.make_change("attachment", aid, {
        "household_id": household, "field": "photos", "filename": "bomb.png",
        "mime": "image/png", "size": len(body), "sha256": digest}, by="x", full=True)])
    start = time.perf_counter()
    r = client.get(f"/attachments/{aid}/thumb")
    assert time.perf_counter() - start < 3
    assert r.mimetype == "image/svg+xml"  # the placeholder
    assert make_thumbnail(body) is None


def test_the_thumbnail_is_made_once_at_upload(registry, household, client):
    body = photo()
    assert _upload(client, household, "门头.jpg", body).status_code == 302
    digest = hashlib.sha256(body).hexdigest()
    stored = registry.conn.execute("SELECT data FROM thumbnail WHERE sha256 = ?",
                                   (digest,)).fetchone()[0]
    assert max(Image.open(io.BytesIO(stored)).size) == 320
    # The page serves what was stored (a marker proves it is not made again).
    marker = photo((16, 16))
    registry.conn.execute("UPDATE thumbnail SET data = ? WHERE sha256 = ?", (marker, digest))
    (a,) = registry.children("attachment", household)
    assert client.get(f"/attachments/{a['id']}/thumb").data == marker


def test_anonymous_visitors_may_post_only_a_small_body(registry):
    client = make_app(registry).test_client()
    token = csrf(client)
    big = {"csrf_token": token, "name": "li", "password": "x" * (ANONYMOUS_MAX_BYTES + 10)}
    r = client.post("/login", data=big)
    assert r.status_code == 413
    upload = client.post("/households/x/attachments", content_type="multipart/form-data",
                         data={"file": [(io.BytesIO(b"\0" * 200_000), "a.png")]})
    assert upload.status_code == 413
    assert client.post("/login", data={"csrf_token": token, "name": "li",
                                       "password": "test-password"}).status_code == 302


def test_every_page_has_the_content_security_policy(registry, household, client):
    for path in ("/login", "/households", f"/households/{household}", "/backup", "/sync",
                 "/static/anju.js", "/no-such-page"):
        r = client.get(path)
        csp = r.headers.get("Content-Security-Policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_templates_have_no_inline_script_style_or_handler():
    """Under default-src 'self' an inline script, style attribute or onclick would not run."""
    bad = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|\sstyle\s*=|<style|"
                     r"javascript:", re.IGNORECASE)
    found = [(p.relative_to(TEMPLATES), m.group(0)) for p in TEMPLATES.rglob("*.html")
             for m in bad.finditer(p.read_text(encoding="utf-8"))]
    assert not found, found
