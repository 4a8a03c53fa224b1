"""The one rule for a text cell anju writes to a spreadsheet file (XLSX or CSV): never a formula.

A spreadsheet reads a cell that starts with = + - @ (or a tab or carriage return before them)
as a formula; an address `=HYPERLINK(...)` or a cadre `=1+2` typed into a form would run on
the office's computer. The OWASP way: such a text gets a leading apostrophe, which shows the
text as it was typed. Numbers stay numbers (a negative amount is not text).
"""

from __future__ import annotations

import re

# The ASCII starts of OWASP's CSV-injection guidance, a line feed, and their full-width forms
# (WPS and Excel on Chinese systems accept ＝ as well).
FORMULA_STARTS = frozenset("=+-@\t\r\n＝＋－＠")
# Control characters an XLSX file cannot hold (openpyxl refuses the whole workbook for one).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def safe_cell(value):
    """`value` as it may be written into a spreadsheet cell: text loses the control characters
    no XLSX can hold, and gets a leading apostrophe if it could start a formula; anything else
    is returned unchanged."""
    if not isinstance(value, str):
        return value
    value = CONTROL.sub("", value)
    if value and value[0] in FORMULA_STARTS:
        return "'" + value
    return value


def safe_row(values) -> list:
    """A row of cells, each made safe."""
    return [safe_cell(v) for v in values]
