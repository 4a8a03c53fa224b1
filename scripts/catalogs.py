"""Extract the UI messages and bring the catalogs up to date (re-runnable, deterministic).

    make catalogs        (or: .venv/bin/python scripts/catalogs.py [pairs.json])

After adding or changing a `_()` / `N_()` text: run it, give the new English in
collector/translations/en/LC_MESSAGES/messages.po (any PO editor: Poedit, Weblate), run it again
to compile. tests/test_catalogs.py fails while a message lacks English or a catalog is stale.
- extracts with babel.cfg (the same as `pybabel extract -F babel.cfg -k N_`) into
  collector/translations/messages.pot;
- writes collector/translations/{zh,en}/LC_MESSAGES/messages.po: every msgid of the template;
  English = the existing en translation, else a pair from pairs.json ({zh: en}, optional),
  else empty (listed as missing); zh needs no lookup (msgid = the Chinese) and
  keeps any wording a translator gave;
- compiles both to messages.mo (committed: wheels and editable installs ship them as package
  data; tests/test_catalogs.py checks they match the .po).
File dates are fixed and line numbers left out, so running it twice changes nothing and branches
do not conflict over moved lines. Exit status 1 when a message lacks English.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

TRANSLATIONS = Path("collector/translations")
FIXED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}


def extract(root: Path) -> Catalog:
    """The template catalog of every message in the sources that babel.cfg names."""
    with (root / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    pot = Catalog(project="anju", domain="messages", creation_date=FIXED,
                  revision_date=FIXED, fuzzy=False, msgid_bugs_address="")
    for filename, lineno, message, comments, context in extract_from_dir(
            str(root), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True):
        pot.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return pot


def _write(catalog: Catalog, path: Path) -> bytes:
    buf = io.BytesIO()
    write_po(buf, catalog, width=100, sort_output=True, include_lineno=False,
             omit_header=False)
    data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
    return data


def _english(message, old, pairs):
    key = message.id[0] if isinstance(message.id, tuple) else message.id
    if old is not None and old.string and (not isinstance(old.string, tuple) or all(old.string)):
        return old.string
    en = pairs.get(key)
    if isinstance(message.id, tuple):
        if isinstance(en, list) and len(en) == 2:
            return tuple(en)
        return ("", "")
    return en or ""


def update(root: Path, pairs: dict) -> list[str]:
    """Write the .pot, both .po and both .mo; return the msgids still without English."""
    pot = extract(root)
    _write(pot, root / TRANSLATIONS / "messages.pot")
    missing = []
    for lang in ("zh", "en"):
        po_path = root / TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
        old = read_po(po_path.open("rb"), locale=lang) if po_path.exists() else None
        cat = Catalog(locale=lang, project="anju", domain="messages", creation_date=FIXED,
                      revision_date=FIXED, fuzzy=False, msgid_bugs_address="",
                      language_team=lang, last_translator="anju")
        for m in pot:
            if not m.id:
                continue
            previous = old.get(m.id) if old is not None else None
            if lang == "en":
                string = _english(m, previous, pairs)
                if not string or (isinstance(string, tuple) and not all(string)):
                    missing.append(m.id if isinstance(m.id, str) else m.id[0])
            else:
                string = previous.string if previous is not None else (
                    ("",) if isinstance(m.id, tuple) else "")
            cat.add(m.id, string, locations=m.locations, flags=m.flags,
                    auto_comments=m.auto_comments)
        _write(cat, po_path)
        buf = io.BytesIO()
        write_mo(buf, cat)
        mo_path = po_path.with_suffix(".mo")
        if not mo_path.exists() or mo_path.read_bytes() != buf.getvalue():
            mo_path.write_bytes(buf.getvalue())
    return missing


def main() -> int:
    pairs_file = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    pairs = json.loads(pairs_file.read_text(encoding="utf-8")) if pairs_file else {}
    missing = update(Path.cwd(), pairs)
    pot = read_po((TRANSLATIONS / "messages.pot").open("rb"))
    print(f"{len([m for m in pot if m.id])} messages; {len(missing)} without English"
          + (":" if missing else ""))
    for m in missing:
        print("  ", m)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
