"""Files of households: blobs stored once under their SHA-256, thumbnails made once.

The web app's upload view checks each file (type from its bytes, size, pixel count) and then
calls `save_files`; a pack's blobs arrive through the merge. An image's pixel count is read from
its header before anything decodes it (a small file can hold a huge image), and its thumbnail is
made once: at upload, or at its first showing for an image that came in a pack.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import sqlite3
import warnings

from anju.registry.core.changes import new_id
from anju.registry.core.store import transaction

# A phone photo has 12-50 megapixels; 12000 x 12000 (144) took 11 s and 1.4 GB to thumbnail.
MAX_PIXELS = 60_000_000  # the web app's ATTACHMENT_MAX_PIXELS overrides it
THUMB_SIZE = (320, 320)


def blob_data(reg, sha256: str) -> bytes | None:
    """The bytes stored under a digest, or None when the file has not arrived (yet)."""
    row = reg.conn.execute("SELECT data FROM blob WHERE sha256 = ?", (sha256,)).fetchone()
    return None if row is None else row[0]


def image_pixels(data: bytes) -> int | None:
    """Width x height from an image's header, without decoding it (None: unreadable)."""
    from PIL import Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning: we decide below
            with Image.open(io.BytesIO(data)) as image:  # reads the header only
                width, height = image.size
    except Image.DecompressionBombError:
        return 1 << 62
    except Exception:  # damaged: stored as it is, shown without a thumbnail
        return None
    return width * height



def make_thumbnail(data: bytes, max_pixels: int = MAX_PIXELS) -> bytes | None:
    """A small JPEG of an image (turned upright by its EXIF), or None if it cannot be read or
    has more pixels than allowed (checked from the header, before decoding)."""
    from PIL import Image, ImageOps
    pixels = image_pixels(data)
    if pixels is None or pixels > max_pixels:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                image.draft("RGB", THUMB_SIZE)  # a JPEG decodes straight at a smaller scale
                image = ImageOps.exif_transpose(image)
                image.thumbnail(THUMB_SIZE)
                out = io.BytesIO()
                image.convert("RGB").save(out, "JPEG", quality=80)
                return out.getvalue()
    except Exception:  # a damaged or hostile image: no thumbnail rather than an error page
        return None


def stored_thumbnail(reg, sha256: str, data: bytes,
                     max_pixels: int = MAX_PIXELS) -> bytes | None:
    """The thumbnail kept for an image, made and kept now if it came without one (a pack)."""
    row = reg.conn.execute("SELECT data FROM thumbnail WHERE sha256 = ?", (sha256,)).fetchone()
    if row is not None:
        return row[0]
    small = make_thumbnail(data, max_pixels)
    with contextlib.suppress(sqlite3.Error):  # kept for next time if the database lets us
        reg.conn.execute("INSERT OR IGNORE INTO thumbnail (sha256, data) VALUES (?, ?)",
                         (sha256, small))
    return small



def save_files(reg, household_id: str, field: str, files: list[tuple[str, str, bytes]], *,
               by: str) -> list[str]:
    """Store files as blobs and attachment records of a household, all in one transaction."""
    ids = []
    # Thumbnails are made before the write lock is taken: decoding a photo takes a moment.
    thumbs = {id(data): make_thumbnail(data) for _, mime, data in files
              if mime.startswith("image/")}
    with transaction(reg.conn):
        for name, mime, data in files:
            digest = hashlib.sha256(data).hexdigest()
            reg.conn.execute("INSERT OR IGNORE INTO blob (sha256, mime, size, data) "
                             "VALUES (?, ?, ?, ?)", (digest, mime, len(data), data))
            if mime.startswith("image/"):
                reg.conn.execute("INSERT OR IGNORE INTO thumbnail (sha256, data) VALUES (?, ?)",
                                 (digest, thumbs[id(data)]))
            attachment_id = new_id()
            change = reg.make_change("attachment", attachment_id, {
                "household_id": household_id, "field": field, "filename": name, "mime": mime,
                "size": len(data), "sha256": digest}, by=by, full=True)
            reg.apply([change])
            ids.append(attachment_id)
    return ids
