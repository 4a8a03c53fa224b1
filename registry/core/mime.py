"""What a stored file is, from its content: the one place that names the accepted file types.

A file's type is never taken from what its sender claims (a form's Content-Type, a pack's blob
row): it is read from its first bytes, on upload, at merge and when the file is served.
"""

from __future__ import annotations

TYPES = (  # (mime, test on the first bytes)
    ("image/jpeg", lambda b: b.startswith(b"\xff\xd8\xff")),
    ("image/png", lambda b: b.startswith(b"\x89PNG\r\n\x1a\n")),
    ("image/webp", lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP"),
    ("application/pdf", lambda b: b.startswith(b"%PDF-")),
)
UNKNOWN = "application/octet-stream"


def sniff(data: bytes) -> str | None:
    """The file's type from its first bytes, or None when it is not one we accept."""
    head = bytes(data[:16])
    for mime, test in TYPES:
        if test(head):
            return mime
    return None


def served_type(data: bytes) -> tuple[str, bool]:
    """(Content-Type, inline?) to serve stored bytes with: only images are shown inline."""
    mime = sniff(data) or UNKNOWN
    return mime, mime.startswith("image/")
