"""The one privacy policy of anju: how names are masked and what is never published.

Every part that shows personal data to the public (the public database, printed zone lists, the
collector's public views) imports from here, because different maskings of the same name or number
can be combined to rebuild it (DOMAIN.md, "Personal data and publication").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MASK = "*"
# Totals over fewer households than this are suppressed: a group this small can identify people.
MIN_GROUP = 5
# Field types that are never published, whatever a survey definition says.
NEVER_TYPES = frozenset({"resident_id", "phone", "geopoint", "attachment", "repeat"})

# Free text is searched in a normalised view of itself: NFKC (full-width digits and letters become
# ASCII), whitespace removed (so "1101 0519..." and "张 三" are found), Chinese digits as digits,
# letters in lower case; each view character remembers the original one it came from, so the
# published text keeps its own characters outside what is taken out.
_CN_DIGITS = str.maketrans("零〇一二三四五六七八九", "00123456789")
# A run of digits, joined by at most one separator, with an ID's final X: seven digits or more
# are a phone (mobile or landline), an ID number (whole, glued to another or half of one) or a
# GPS reading, never anything a resident needs to read in a note about a house.
_DIGIT_RUN = re.compile(r"\+?\d(?:[-.·/_()—–~:]?\d)*[x]?")
_LONG_RUN = 7
_DATE = re.compile(r"(?:19|20)\d{2}[-./]\d{1,2}[-./]\d{1,2}")
# Coordinates: a pair of decimals, or a number after 北纬/东经/纬度/经度 or before/after N/E.
_COORD_IN_TEXT = re.compile(
    r"-?\d{1,3}\.\d{2,}°?[,;/、]-?\d{1,3}\.\d{2,}"
    r"|(?:北纬|南纬|东经|西经|纬度|经度|lat|lng|lon)[:=]?-?\d{1,3}(?:[.°度′'分″\"秒]\d*)*[″\"秒]?"
    r"|\d{1,3}(?:\.\d+)?°(?:\d+[′'])?(?:\d+(?:\.\d+)?[″\"])?[nsew]?"
    r"|[nsew]\d{1,3}\.\d+|\d{1,3}\.\d{2,}°?[nsew]")
# Words about health and hardship: never published in free text, whoever they are about.
SENSITIVE_WORDS = (
    "低保", "特困", "五保", "低收入", "贫困", "困难户", "救助", "残疾", "残障", "伤残", "独居",
    "孤寡", "空巢", "大病", "重病", "病危", "癌", "肿瘤", "化疗", "放疗", "白血病", "尿毒症",
    "透析", "肾衰", "精神病", "精神障碍", "精神分裂", "抑郁", "智障", "智力障碍", "瘫痪", "偏瘫",
    "中风", "脑梗", "失明", "盲人", "聋", "哑", "艾滋", "hiv", "乙肝", "肝炎", "结核", "糖尿病",
    "心脏病", "住院", "手术", "吸毒", "戒毒", "服刑", "刑满", "失业")
# As the normalised view writes them (五保 is searched as 5保).
_WORDS = re.compile("|".join(re.escape(w.translate(_CN_DIGITS).lower()) for w in sorted(
    SENSITIVE_WORDS, key=len, reverse=True)))
HIDDEN = "[已隐去]"


# Characters the walk below leaves as they are, one for one: ideographs but the Chinese digits,
# ASCII lower-case letters, digits and punctuation, the ideographic comma and full stop. A text
# made only of them is its own view (most survey text is), without the per-character walk.
_AS_IS = re.compile("[\u4e00-\u9fffa-z0-9!-/:-@\\[-`{-~\u3001\u3002]+")
_CN_DIGIT_CHARS = re.compile("[零〇一二三四五六七八九]")


def normalised_view(text: str) -> tuple[str, list[int]]:
    """The text as it is searched (see above) and, per view character, its original index."""
    if _AS_IS.fullmatch(text) and not _CN_DIGIT_CHARS.search(text):
        return text, list(range(len(text)))
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            continue
        for c in unicodedata.normalize("NFKC", ch).translate(_CN_DIGITS):
            if c.isspace():
                continue
            low = c.lower()
            chars.append(low if len(low) == 1 else c)
            index.append(i)
    return "".join(chars), index


def _name_view(name: str) -> str:
    """normalised_view(name)[0], without building the index list."""
    if _AS_IS.fullmatch(name) and not _CN_DIGIT_CHARS.search(name):
        return name
    return normalised_view(name)[0]


def secret_spans(view: str) -> list[tuple[int, int]]:
    """Spans of the view holding an ID, a phone, a GPS reading or a sensitive word."""
    spans = []
    for m in _DIGIT_RUN.finditer(view):
        digits = sum(c.isdigit() for c in m.group())
        if digits >= _LONG_RUN and not _DATE.fullmatch(m.group()):
            spans.append(m.span())
    spans += [m.span() for m in _COORD_IN_TEXT.finditer(view)]
    spans += [m.span() for m in _WORDS.finditer(view)]
    return spans


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
    """Free text made safe to publish: resident IDs, phone numbers (mobile and landline), GPS
    readings and health or hardship words replaced by [已隐去], and the given people's names (a
    NameScrubber or a list: residents and staff) by their masked form; all of it found after
    NFKC normalisation, with spaces and separators inside numbers and names ignored.

    A surveyor may type "联系人张 三 １３８.１２３４.５６７８" into any text box; the policy holds
    for that too.
    """
    if text is None or not isinstance(text, str):
        return text
    if not isinstance(names, NameScrubber):
        names = NameScrubber(names)
    view, index = normalised_view(text)
    marks: list[tuple[int, int, str | None]] = [(a, b, None) for a, b in secret_spans(view)]
    marks += [(a, b, mask_name(name)) for a, b, name in names.spans(view)]
    if not marks:
        return text
    # Original spans; overlapping ones merge, and a merge with a secret is a secret.
    spans = sorted((index[a], index[b - 1] + 1, repl) for a, b, repl in marks if b > a)
    merged: list[list] = []
    for start, end, repl in spans:
        if merged and start < merged[-1][1]:
            last = merged[-1]
            last[1] = max(last[1], end)
            last[2] = None if last[2] is None or repl is None or last[2] != repl else repl
        else:
            merged.append([start, end, repl])
    out, pos = [], 0
    for start, end, repl in merged:
        out += [text[pos:start], HIDDEN if repl is None else repl]
        pos = end
    out.append(text[pos:])
    return "".join(out)


class NameScrubber:
    """Masks every occurrence of any of a set of names in a text, longest name first.

    Built once from all the names in a registry, it checks only the positions where a name could
    start, so scrubbing 500,000 texts against a million names stays a matter of seconds.
    """

    def __init__(self, names: Iterable[str]):
        # Names as the normalised view of a text writes them (NFKC, no spaces, lower case);
        # each distinct name normalised once (a registry repeats names by the hundred thousand).
        self.names = {v for v in (_name_view(str(n)) for n in set(names) if n) if len(v) > 1}
        self.lengths: dict[str, list[int]] = {}
        for n in self.names:
            self.lengths.setdefault(n[0], []).append(len(n))
        for first, lengths in self.lengths.items():
            self.lengths[first] = sorted(set(lengths), reverse=True)
        # A character class of every first character: the regex engine finds the candidates.
        self._starts = re.compile("[" + "".join(re.escape(c) for c in self.lengths) + "]") \
            if self.lengths else None

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, name) of each name in the text, longest first, not overlapping."""
        if self._starts is None:
            return []
        found, pos = [], 0
        for m in self._starts.finditer(text):
            i = m.start()
            if i < pos:
                continue
            for length in self.lengths[text[i]]:
                candidate = text[i:i + length]
                if len(candidate) == length and candidate in self.names:
                    found.append((i, i + length, candidate))
                    pos = i + length
                    break
        return found

    def scrub(self, text: str) -> str:
        """The text with each name in it masked (mask_name), spaces inside a name included."""
        return scrub_names(text, self)


def scrub_names(text: str, names: NameScrubber) -> str:
    """Only the names part of scrub_text: each name found in the normalised view, masked."""
    view, index = normalised_view(text)
    out, pos = [], 0
    for start, end, name in names.spans(view):
        out += [text[pos:index[start]], mask_name(name)]
        pos = index[end - 1] + 1
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
