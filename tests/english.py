"""English UI text on a page: what a resident reads that is not Chinese (data values aside).

Used by the ds.client tests and, on the rendered DOM, by the browser test. Data values are the
contents of table cells (td), code and the SQL editor; proper names and units that Chinese
pages write in Latin letters are allowed.
"""

import html as html_mod
import re

ALLOWED = {"csv", "xlsx", "excel", "json", "sql", "sqlite", "select", "datasette", "gps", "utc",
           "db", "sha", "id", "like", "glob", "m", "km"}
WORD = re.compile(r"[A-Za-z][A-Za-z']+")
DROP = re.compile(r"<(script|style|td|textarea|code|pre|svg|title)\b.*?</\1>", re.S | re.I)
TAG = re.compile(r"<[^>]+>")


def english_words(page: str, database: str = "public") -> set[str]:
    """The Latin-letter words left on an HTML page after the data cells are removed."""
    body = page.split("<body", 1)[-1].split(">", 1)[-1] if "<body" in page else page
    text = html_mod.unescape(TAG.sub(" ", DROP.sub(" ", body)))
    title = re.search(r"<title>(.*?)</title>", page, re.S)
    if title:
        text += " " + html_mod.unescape(title.group(1))
    words = {w for w in WORD.findall(text) if w.lower() not in ALLOWED}
    return words - {database}
