"""Text normalisation, applied once when values are validated.

Text is stored in Unicode NFC, so the same words typed as composed or decomposed characters are
one value (no false conflicts, working duplicate checks). Identifiers, phone numbers, numbers,
dates and points are NFKC: full-width digits, letters and punctuation from a Chinese input method
(１３８００１３８０００, Ｘ, －) become their ASCII form before they are checked and stored.
"""

from __future__ import annotations

import unicodedata
from typing import Any

# Field types whose values are codes or numbers, never prose.
NFKC_TYPES = frozenset({"resident_id", "phone", "integer", "decimal", "date", "geopoint"})


def is_identifier(field) -> bool:
    """Whether a field holds an identifier (NFKC) rather than prose (NFC).

    Code-like types, and text fields that are numbers of something (`house_no`,
    `property_cert_no`) or must match a pattern.
    """
    if field.type in NFKC_TYPES:
        return True
    return field.type == "text" and (field.name.endswith("_no")
                                     or "pattern" in (field.constraint or {}))


def normalise(value: Any, identifier: bool = False) -> Any:
    """A value in canonical Unicode form: NFKC for identifiers, NFC for text; others as is."""
    if isinstance(value, str):
        return unicodedata.normalize("NFKC" if identifier else "NFC", value)
    if isinstance(value, list):
        return [normalise(v, identifier) for v in value]
    return value


def canonical(value: Any) -> Any:
    """A stored value as conflicts compare it: text in NFC (canonically equal text is equal)."""
    return normalise(value, False)
