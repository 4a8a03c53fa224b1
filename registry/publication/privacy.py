"""The one privacy policy of anju: how names are masked and what is never published.

Every part that shows personal data to the public (the public database, printed zone lists, the
collector's public views) imports from here, because different maskings of the same name or number
can be combined to rebuild it (DOMAIN.md, "Personal data and publication").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "*"
# Totals over fewer households than this are suppressed: a group this small can identify people.
MIN_GROUP = 5
# Field types that are never published, whatever a survey definition says.
NEVER_TYPES = frozenset({"resident_id", "phone", "geopoint", "attachment", "repeat"})

# A resident ID (18 characters, or the old 15 digits) or a mainland mobile number written anywhere
# in free text; digits next to them mean a longer number, not one of these.
_ID_IN_TEXT = re.compile(r"(?<![0-9])(?:[1-9]\d{5}(?:18|19|20)\d{9}[0-9Xx]|[1-9]\d{14})(?![0-9])")
_PHONE_IN_TEXT = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?![0-9])")
# Coordinates written with four or more decimals (a GPS reading, not an area).
_COORD_IN_TEXT = re.compile(r"(?<![0-9.])-?\d{1,3}\.\d{4,}\s*[,，]\s*-?\d{1,3}\.\d{4,}")
# All three in one pass (publication scrubs hundreds of thousands of texts).
_SECRET_IN_TEXT = re.compile("|".join(f"(?:{r.pattern})" for r in (
    _ID_IN_TEXT, _PHONE_IN_TEXT, _COORD_IN_TEXT)))


def mask_name(name: str | None) -> str | None:
    """A person's name as published: the first character kept, each further one replaced by '*'.

    张三 -> 张*, 张三丰 -> 张**, 欧阳娜娜 -> 欧*** (the one rule, a compound surname included).
    A one-character name still gets one '*' so that a published name is never a whole name.
    None and empty stay as they are.
    """
    if name is None:
        return None
    name = str(name).strip()
    if not name:
        return name
    return name[0] + MASK * max(len(name) - 1, 1)


def scrub_text(text: str | None, names: NameScrubber | Iterable[str] = ()) -> str | None:
    """Free text made safe to publish: resident IDs, phone numbers and GPS readings removed, and
    the given people's names (a NameScrubber or a list) replaced by their masked form.

    A surveyor may type "联系人张三 13812345678" into any text box; the policy holds for that too.
    """
    if text is None or not isinstance(text, str):
        return text
    text = _SECRET_IN_TEXT.sub("[已隐去]", text)
    if not isinstance(names, NameScrubber):
        names = NameScrubber(names)
    return names.scrub(text)


class NameScrubber:
    """Masks every occurrence of any of a set of names in a text, longest name first.

    Built once from all the names in a registry, it checks only the positions where a name could
    start, so scrubbing 500,000 texts against a million names stays a matter of seconds.
    """

    def __init__(self, names: Iterable[str]):
        self.names = {n.strip() for n in names if n and len(n.strip()) > 1}
        self.lengths: dict[str, list[int]] = {}
        for n in self.names:
            self.lengths.setdefault(n[0], []).append(len(n))
        for first, lengths in self.lengths.items():
            self.lengths[first] = sorted(set(lengths), reverse=True)
        # A character class of every first character: the regex engine finds the candidates.
        self._starts = re.compile("[" + "".join(re.escape(c) for c in self.lengths) + "]") \
            if self.lengths else None

    def scrub(self, text: str) -> str:
        """The text with each name in it masked (mask_name)."""
        if self._starts is None:
            return text
        out, pos = [], 0
        for m in self._starts.finditer(text):
            i = m.start()
            if i < pos:
                continue
            for length in self.lengths[text[i]]:
                candidate = text[i:i + length]
                if len(candidate) == length and candidate in self.names:
                    out += [text[pos:i], mask_name(candidate)]
                    pos = i + length
                    break
        if not out:
            return text
        out.append(text[pos:])
        return "".join(out)


def suppress(count: int | None, value=None):
    """A total over `count` households, or None when the group is too small to be anonymous.

    With one argument the count itself is the total.
    """
    if count is None or count < MIN_GROUP:
        return None
    return count if value is None else value


def mask_id_for_staff(id_no: str | None) -> str | None:
    """A resident ID as staff views may show it: first 6 and last 4 kept (never for the public)."""
    if not id_no:
        return id_no
    id_no = str(id_no)
    if len(id_no) <= 10:
        return MASK * len(id_no)
    return id_no[:6] + MASK * (len(id_no) - 10) + id_no[-4:]
