"""XLSForm in and out: read a survey written in Excel for ODK / KoboToolbox into anju's survey
definition, and write anju's definition back as an XLSForm the office can review in Excel.

Reading goes through pyxform, the library ODK itself uses: its reader turns the workbook into
rows, and its `workbook_to_json` checks the structure (groups, repeats, choice lists, names) and
gives the question tree that is mapped here. Whatever anju cannot express is reported as a
`Finding` naming the sheet, the row, the column, what and why, all in one list; a form with any
refused row gives no definition at all. Harmless things anju simply does not use (a note, the
start/end metadata, a constraint message, an appearance) are reported too, but do not block.

anju's own columns, which ODK ignores: `publish` (plain | masked | total | never), `validator`
(resident_id | phone | not_future_year | person_name), `precision` (decimals of a decimal),
and on a `begin_repeat` row `record` (the record type it fills), `record_label::<language>` and
`standalone` (yes: a record kept beside the household, like visits, not a question of its form).
`section` on a `begin_group` row names the section when the group is a second run of one. On
the settings sheet: `form_title_en` (the English title) and `sections` (their order, by name).

The record types anju keeps for itself are not questions of a form: its system records
(agreement, decision, ...) come with every parsed definition, and the attachment record, like
the fields of the core contract (registry/core/contract.py) a form lacks, is taken from anju's
built-in survey; an export leaves them out.
"""

from __future__ import annotations

import copy
import functools
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from anju.registry.core import contract as contract_mod
from anju.registry.core import definition as definition_mod
from anju.registry.core.definition import (
    NAME_RE,
    PUBLISH,
    SYSTEM_COLUMNS,
    Definition,
    DefinitionError,
    Field,
)
from anju.registry.core.errors import AnjuError
from anju.registry.core.i18n import N_

# anju's own records (merged into every survey by definition.parse) and the attachment record
# that keeps files: no questions of a form, never exported, never a repeat's record.
SYSTEM_RECORDS = (*contract_mod.SYSTEM_RECORDS, "attachment")
# Record types the code needs; a form without them gets anju's built-in ones.
APP_RECORDS = tuple(r for r in contract_mod.REQUIRED if r != "household")
ZH_LABEL = "Chinese (zh)"
EN_LABEL = "English (en)"
MAX_ROWS = 5000
MAX_BYTES = 20 * 1024 * 1024
# What an .xlsx may unpack to: a small zip that unpacks to gigabytes is not a form.
MAX_UNPACKED = 100 * 1024 * 1024
MAX_EXPRESSION = 2000

TYPES = {
    "text": "text", "string": "text", "integer": "integer", "int": "integer",
    "decimal": "decimal", "date": "date", "geopoint": "geopoint",
    "select one": "select_one", "select all that apply": "select_multiple",
    "photo": "attachment", "image": "attachment", "file": "attachment",
    "resident_id": "resident_id", "phone": "phone",
}
# Filled in by the collecting device, not asked: anju records who and when itself.
METADATA = {"start", "end", "today", "deviceid", "subscriberid", "simserial", "phonenumber",
            "username", "email", "audit", "uri:subscriberid", "uri:simserial",
            "uri:phonenumber", "uri:username", "uri:email", "uri:deviceid"}
VALIDATOR_TYPES = {"resident_id", "phone"}
VALIDATORS = definition_mod.NAMED_VALIDATORS | VALIDATOR_TYPES
# Survey columns read here; anything else is reported (ignored, or refused when it changes data).
HANDLED = {"type", "name", "label", "hint", "required", "constraint", "relevant", "default",
           "publish", "validator", "precision", "record", "record_label", "standalone",
           "section", "calculation", "constraint_message", "required_message"}
REFUSED_COLUMNS = {
    "choice_filter": "anju shows every choice of a list; filtered (cascading) choices are not "
                     "supported",
    "repeat_count": "anju's repeats grow row by row; a fixed repeat count is not supported",
    "trigger": "anju has no triggered recalculation",
    "read_only": "anju has no read-only questions",
}
DROPPED_COLUMNS = {
    "constraint_message": "anju shows its own message for a broken constraint",
    "required_message": "anju shows its own message for a missing answer",
}
SUMMARY_ZH = {
    "type": "安居没有这种题型或写法（计算题、时间、录音、组中套组、重复中套重复等）",
    "name": "字段名须为小写字母、数字和下划线，以字母开头，且不能用安居保留的名字",
    "relevant": "显示条件超出安居支持的写法（= 'v'、or、selected()、> 数字，且只引用同一张表）",
    "constraint": "取值限制超出安居支持的写法（>=、<=、string-length、regex，用 and 连接）",
    "required": "必填只能是 yes 或 no，不能是条件",
    "choice_filter": "安居不支持级联（过滤）选项",
    "repeat_count": "安居不支持固定次数的重复",
    "read_only": "安居没有只读题",
    "trigger": "安居没有触发计算",
    "calculation": "安居没有计算题，数字由办公室计算",
    "publish": "公示方式只能是 plain、masked、total、never，且身份证、电话、位置、照片不公示",
    "validator": "校验只能是 resident_id、phone、person_name、not_future_year",
    "precision": "小数位数须为 0 到 6 的整数",
    "default": "默认值与题型不符",
    "record": "重复组对应的表名不合规或重复",
}
SUMMARY_ZH_NOTE = {
    "type": "设备自动记录的项目或说明文字，安居不需要，已跳过",
    "version": "版本号不是整数，按版本 1 导入",
    "constraint_message": "安居显示自己的提示文字",
    "required_message": "安居显示自己的提示文字",
    "": "缺少安居网页必需的字段或表，已补上安居自带的",
    "label": "没有中文题目，暂用其他语言的文字",
}
TRUE = {"yes", "true", "true()", "1"}
FALSE = {"no", "false", "false()", "0", ""}


@dataclass(frozen=True)
class Finding:
    """One thing in a workbook anju cannot take as it is: refused (blocks) or only noted."""

    sheet: str
    row: int | None
    column: str
    what: str
    why: str
    refused: bool = True

    @property
    def summary_zh(self) -> str:
        """A short Chinese explanation for the web page (the English `why` gives the detail)."""
        base = self.column.split("::")[0].lower()
        if not self.refused:
            return SUMMARY_ZH_NOTE.get(base, "仅提示，不影响导入")
        return SUMMARY_ZH.get(base, "安居不支持这一行的写法")

    def line(self) -> str:
        where = f"{self.sheet} row {self.row}" if self.row else self.sheet
        kind = "refused" if self.refused else "note"
        column = f", {self.column}" if self.column else ""
        return f"{where}{column}: {kind}: {self.what} ({self.why})"


SHEETS = ("settings", "survey", "choices")


def _order(findings: list[Finding]) -> list[Finding]:
    """Findings sheet by sheet, row by row: the order a person reads the workbook in."""
    return sorted(findings, key=lambda f: (SHEETS.index(f.sheet) if f.sheet in SHEETS else 9,
                                           f.row or 0))


class XLSFormError(AnjuError, ValueError):
    """A workbook that cannot become an anju survey (or a survey that cannot become a workbook);
    `findings` lists every row at fault, refused or noted, in reading order."""

    zh = N_("调查表文件无法使用：%(detail)s")

    def __init__(self, message: str, findings: list[Finding] | None = None):
        super().__init__(message)
        self.findings = _order(findings or [])


@dataclass(frozen=True)
class Imported:
    """The result of an import: the YAML text, its parsed definition, and the notes."""

    text: str
    definition: Definition
    findings: list[Finding]


# -- expressions -----------------------------------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:
    (?P<ref>\$\{[^}\s]*\})
  | (?P<str>'[^']*'|"[^"]*")
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<op>!=|>=|<=|=|>|<)
  | (?P<punct>[(),.])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_:-]*))""", re.VERBOSE)


class _Unparsable(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _Unparsable(f"cannot read {text[pos:pos + 12]!r}")
        pos = m.end()
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    """A small recursive-descent reader of the XPath that XLSForm conditions use."""

    def __init__(self, text: str):
        if len(text) > MAX_EXPRESSION:
            raise _Unparsable(f"longer than {MAX_EXPRESSION} characters")
        if text.count("(") > 50:
            raise _Unparsable("nested too deeply")
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, value: str | None = None, kind: str | None = None) -> bool:
        if self.i >= len(self.toks):
            return False
        k, v = self.toks[self.i]
        return (value is None or v == value) and (kind is None or k == kind)

    def take(self) -> tuple[str, str]:
        if self.i >= len(self.toks):
            raise _Unparsable("unexpected end")
        self.i += 1
        return self.toks[self.i - 1]

    def expect(self, value: str) -> None:
        if self.take()[1] != value:
            raise _Unparsable(f"expected {value!r}")

    def parse(self):
        node = self.expr()
        if self.i != len(self.toks):
            raise _Unparsable(f"unexpected {self.toks[self.i][1]!r}")
        return node

    def expr(self):
        items = [self.conj()]
        while self.peek("or", "ident"):
            self.take()
            items.append(self.conj())
        return ("or", items) if len(items) > 1 else items[0]

    def conj(self):
        items = [self.cmp()]
        while self.peek("and", "ident"):
            self.take()
            items.append(self.cmp())
        return ("and", items) if len(items) > 1 else items[0]

    def cmp(self):
        left = self.atom()
        if self.peek(kind="op"):
            op = self.take()[1]
            return ("cmp", op, left, self.atom())
        return left

    def atom(self):
        kind, value = self.take()
        if value == "(" and kind == "punct":
            node = self.expr()
            self.expect(")")
            return node
        if kind == "ref":
            return ("ref", value[2:-1])
        if value == "." and kind == "punct":
            return ("self",)
        if kind == "str":
            return ("str", value[1:-1])
        if kind == "num":
            return ("num", float(value) if "." in value else int(value))
        if kind == "ident" and self.peek("("):
            self.take()
            args = []
            if not self.peek(")"):
                args.append(self.expr())
                while self.peek(","):
                    self.take()
                    args.append(self.expr())
            self.expect(")")
            return ("call", value, args)
        raise _Unparsable(f"unexpected {value!r}")


RELEVANT_FORMS = ("one condition on one field of the same record: ${f} = 'v', ${f} = 'a' or "
                  "${f} = 'b', selected(${f}, 'v'), or ${f} > a number")
CONSTRAINT_FORMS = (". >= n, . <= n, string-length(.) <= n and regex(., 'pattern'), joined by "
                    "'and'")


def relevant_to_anju(text: str, types: dict[str, str]) -> dict:
    """Translate an XLSForm relevant expression into anju's {field, equals|in|contains|gt};
    `types` maps the record's field names to anju types. Raises ValueError saying why not."""
    try:
        node = _Parser(text).parse()
    except _Unparsable as exc:
        raise ValueError(f"not an expression anju can read ({exc})") from None
    cond = _relevant(node)
    if cond is None:
        raise ValueError(f"anju's relevant is {RELEVANT_FORMS}")
    name = cond["field"]
    if name not in types:
        raise ValueError(f"${{{name}}} is not a question of the same record (anju's relevant "
                         "looks only at its own record)")
    ftype = types[name]
    if "contains" in cond and ftype == "select_one":
        cond = {"field": name, "equals": cond["contains"]}
    elif "contains" in cond and ftype != "select_multiple":
        raise ValueError(f"selected() needs a choice question; ${{{name}}} is a {ftype}")
    if ftype == "select_multiple" and ("equals" in cond or "in" in cond):
        raise ValueError(f"${{{name}}} allows several answers: use selected(${{{name}}}, 'v')")
    if "gt" in cond and ftype not in ("integer", "decimal"):
        raise ValueError(f"> compares numbers; ${{{name}}} is a {ftype}")
    return cond


def _literal(node):
    if node[0] in ("str", "num"):
        return node[1]
    return None


def _relevant(node) -> dict | None:
    if node[0] == "cmp":
        _, op, left, right = node
        if right[0] == "ref" and left[0] != "ref":
            left, right = right, left
            op = {">": "<", "<": ">"}.get(op, op)
        if left[0] != "ref" or _literal(right) is None:
            return None
        if op == "=":
            return {"field": left[1], "equals": _literal(right)}
        if op == ">" and right[0] == "num":
            return {"field": left[1], "gt": right[1]}
        return None
    if node[0] == "call" and node[1] == "selected" and len(node[2]) == 2:
        ref, value = node[2]
        if ref[0] == "ref" and value[0] == "str":
            return {"field": ref[1], "contains": value[1]}
        return None
    if node[0] == "or":
        parts = [_relevant(item) for item in node[1]]
        if any(p is None or "equals" not in p for p in parts):
            return None
        if len({p["field"] for p in parts}) != 1:
            return None
        return {"field": parts[0]["field"], "in": [p["equals"] for p in parts]}
    return None


def constraint_to_anju(text: str, ftype: str) -> dict:
    """Translate an XLSForm constraint into anju's {min, max, max_length, pattern}; raises
    ValueError saying why not."""
    try:
        node = _Parser(text).parse()
    except _Unparsable as exc:
        raise ValueError(f"not an expression anju can read ({exc})") from None
    items = node[1] if node[0] == "and" else [node]
    out: dict[str, Any] = {}
    for item in items:
        key, value = _constraint_part(item, ftype)
        if key is None:
            raise ValueError(f"anju's constraint is {CONSTRAINT_FORMS}")
        if key in out:
            raise ValueError(f"two {key} bounds in one constraint")
        out[key] = value
    if "pattern" in out:
        try:
            re.compile(out["pattern"])
        except re.error as exc:
            raise ValueError(f"the regex does not compile ({exc})") from None
    return out


def _constraint_part(node, ftype: str):
    if node[0] == "call" and node[1] == "regex" and len(node[2]) == 2:
        if node[2][0] == ("self",) and node[2][1][0] == "str":
            return "pattern", node[2][1][1]
        return None, None
    if node[0] != "cmp":
        return None, None
    _, op, left, right = node
    if right[0] in ("self", "call") and left[0] == "num":
        left, right = right, left
        op = {">": "<", "<": ">", ">=": "<=", "<=": ">="}.get(op, op)
    if right[0] != "num":
        return None, None
    number = right[1]
    if left == ("self",):
        if ftype not in ("integer", "decimal"):
            return None, None
        if op == ">=":
            return "min", number
        if op == "<=":
            return "max", number
        if ftype == "integer" and isinstance(number, int) and op in (">", "<"):
            return ("min", number + 1) if op == ">" else ("max", number - 1)
        return None, None
    if (left[0] == "call" and left[1] == "string-length" and left[2] == [("self",)]
            and isinstance(number, int)):
        if op == "<=":
            return "max_length", number
        if op == "<":
            return "max_length", number - 1
    return None, None


def _quote(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise XLSFormError(f"the value {value!r} has both kinds of quote; XLSForm cannot write it")


def _lit(value) -> str:
    return _quote(value) if isinstance(value, str) else repr(value)


def relevant_to_xlsform(cond: dict) -> str:
    """anju's relevant condition as an XLSForm expression (the inverse of relevant_to_anju)."""
    ref = "${" + cond["field"] + "}"
    if "equals" in cond:
        return f"{ref} = {_lit(cond['equals'])}"
    if "in" in cond:
        return " or ".join(f"{ref} = {_lit(v)}" for v in cond["in"])
    if "contains" in cond:
        return f"selected({ref}, {_quote(str(cond['contains']))})"
    return f"{ref} > {cond['gt']!r}"


def constraint_to_xlsform(constraint: dict) -> str:
    """anju's constraint (without its named validator) as an XLSForm expression."""
    parts = []
    if "min" in constraint:
        parts.append(f". >= {constraint['min']!r}")
    if "max" in constraint:
        parts.append(f". <= {constraint['max']!r}")
    if "max_length" in constraint:
        parts.append(f"string-length(.) <= {constraint['max_length']!r}")
    if "pattern" in constraint:
        parts.append(f"regex(., {_quote(constraint['pattern'])})")
    return " and ".join(parts)


# -- import ------------------------------------------------------------------------------------

def _language(key: str) -> str | None:
    """'zh', 'en', 'default' or None (another language) for a pyxform language key."""
    k = key.strip().lower()
    if k == "default":
        return "default"
    m = re.search(r"\(([^)]*)\)\s*$", k)
    code = m.group(1).strip() if m else k
    name = k[:m.start()].strip() if m else k
    if code.startswith("zh") or name in ("chinese", "中文", "汉语", "简体中文", "zh"):
        return "zh"
    if code.startswith("en") or name in ("english", "英文", "英语", "en"):
        return "en"
    return None


def _text(raw, fallback: str | None = None) -> dict[str, str] | None:
    """A bilingual label {zh, en} from a pyxform label (a string or a language map)."""
    if isinstance(raw, str) and raw.strip():
        return {"zh": raw.strip(), "en": raw.strip()}
    if isinstance(raw, dict):
        by = {}
        for key, value in raw.items():
            lang = _language(str(key))
            if lang and isinstance(value, str) and value.strip():
                by.setdefault(lang, value.strip())
        others = [v.strip() for k, v in raw.items()
                  if _language(str(k)) is None and isinstance(v, str) and v.strip()]
        zh = by.get("zh") or by.get("default") or (others[0] if others else None) or by.get("en")
        if zh:
            return {"zh": zh, "en": by.get("en") or by.get("default") or zh}
    if fallback:
        return {"zh": fallback, "en": fallback}
    return None


def _norm_type(raw: str) -> str:
    return re.sub(r"[\s_]+", "_", str(raw).strip().lower())


class _Import:
    """One import in progress: the rows pyxform read, the findings, the records built."""

    def __init__(self, data):
        self.data = data
        self.findings: list[Finding] = []
        self.rows: dict[tuple, int] = {}
        self.raw_by_row: dict[int, dict] = {}
        self.sections: list[dict] = []
        self.section_names: set[str] = set()
        self.records: dict[str, dict] = {}
        self.record_rows: dict[str, int] = {}
        self.field_rows: dict[tuple[str, str], int] = {}
        self.pending_relevant: list[tuple[str, dict, str, int | None]] = []

    def refuse(self, row, column, what, why, sheet="survey"):
        self.findings.append(Finding(sheet, row, column, what, why, True))

    def note(self, row, column, what, why, sheet="survey"):
        self.findings.append(Finding(sheet, row, column, what, why, False))

    # raw rows: numbers and columns
    def scan_rows(self) -> None:
        stack: list[str] = []
        for index, row in enumerate(self.data.survey or []):
            number = index + 2
            if not row:
                continue
            self.raw_by_row[number] = row
            kind = _norm_type(row.get("type", ""))
            name = str(row.get("name", "")).strip()
            if kind in ("end_group", "end_repeat"):
                if stack:
                    stack.pop()
                continue
            if name:
                self.rows.setdefault((*stack, name), number)
            if kind in ("begin_group", "begin_repeat"):
                stack.append(name)
            self.scan_columns(number, row, kind)
        ignored: dict[str, int] = {}
        for number, row in self.raw_by_row.items():
            for key in row:
                base = key.split("::")[0].strip().lower()
                if base not in HANDLED and base not in REFUSED_COLUMNS:
                    ignored.setdefault(key, number)
        for key, number in ignored.items():
            if key.split("::")[0].strip().lower() in ("label", "hint"):
                continue
            self.note(number, key, f"column {key!r} is not used",
                      "anju keeps the data of a question, not how a device shows it")

    def scan_columns(self, number: int, row: dict, kind: str) -> None:
        for key, value in row.items():
            base = key.split("::")[0].strip().lower()
            if base in REFUSED_COLUMNS:
                if base == "read_only" and str(value).strip().lower() in FALSE:
                    continue
                self.refuse(number, key, f"{key} {value!r}", REFUSED_COLUMNS[base])
            elif base in DROPPED_COLUMNS:
                self.note(number, key, f"{key} {value!r} is dropped", DROPPED_COLUMNS[base])
            elif base == "calculation" and kind != "calculate":
                self.refuse(number, key, f"calculation {value!r}",
                            "anju's survey has no calculated answers; the office computes figures")
            elif base in ("label", "hint") and "::" in key:
                if _language(key.split("::", 1)[1]) is None:
                    self.note(number, key, f"column {key!r} is not used",
                              "anju keeps a Chinese and an English text")
        raw_type = str(row.get("type", ""))
        if "or_other" in raw_type:
            self.refuse(number, "type", f"type {raw_type!r}",
                        "anju has no 'or other' choice; add an 'other' choice and a text "
                        "question with a relevant")

    def row_of(self, path: tuple) -> int | None:
        return self.rows.get(path)

    # the question tree pyxform built
    def walk(self, tree: dict) -> None:
        household: list[dict] = []
        self.records["household"] = {"label": {"zh": "住户", "en": "Household"},
                                     "fields": household}
        for child in tree.get("children", []):
            self.element(child, (), household, "household", None, top=True)

    def element(self, el: dict, path: tuple, fields: list, record: str, section: str | None,
                top: bool) -> None:
        etype = str(el.get("type", ""))
        name = str(el.get("name", ""))
        here = (*path, name)
        row = self.row_of(here)
        if etype == "group" and name == "meta" and (el.get("control") or {}).get("bodyless"):
            return                       # pyxform's own instanceID
        if row is None and (etype == "calculate" or name.endswith("_other")):
            return                       # made by pyxform for a repeat_count or or_other row
        if etype == "group":
            if section is not None:
                self.refuse(row, "type", f"group {name!r} inside group {section!r}",
                            "anju's sections are one level: put the group beside the other")
                return
            sname = str(el.get("section") or name)
            if sname not in self.section_names:
                self.section_names.add(sname)
                self.sections.append({"name": sname,
                                      "label": _text(el.get("label"), sname)})
            for child in el.get("children", []):
                self.element(child, here, fields, record, sname, top)
            return
        if etype == "repeat":
            self.repeat(el, here, row, fields, record, section, top)
            return
        if etype in METADATA or etype.startswith("start-geopoint"):
            self.note(row, "type", f"{etype} {name!r} is skipped",
                      "collected by the device; anju records who saved what and when itself")
            return
        if etype == "note":
            self.note(row, "type", f"note {name!r} is skipped", "anju's form has no notes")
            return
        if etype == "calculate":
            self.refuse(row, "type", f"calculate {name!r}",
                        "anju's survey has no calculated answers; the office computes figures")
            return
        f = self.field(el, row, record, section)
        if f is not None:
            fields.append(f)

    def repeat(self, el, here, row, fields, record, section, top) -> None:
        name = str(el.get("name", ""))
        if not top:
            self.refuse(row, "type", f"repeat {name!r} inside repeat {record!r}",
                        "anju's repeats are records of the household, one level deep")
            return
        rname = str(el.get("record") or "").strip() or {"members": "member",
                                                        "visits": "visit"}.get(name, name)
        if not NAME_RE.match(rname) or rname == "household" or rname in SYSTEM_RECORDS:
            self.refuse(row, "record", f"record {rname!r}",
                        "a record name is lowercase letters, digits and _, and not one of "
                        "household, " + ", ".join(SYSTEM_RECORDS))
            return
        if rname in self.records:
            self.refuse(row, "record", f"record {rname!r} a second time",
                        "each repeat fills its own record type")
            return
        child_fields: list[dict] = []
        label = _text(el.get("label"), name)
        self.records[rname] = {"label": _text(el.get("record_label")) or label,
                               "parent": "household", "fields": child_fields}
        self.record_rows[rname] = row
        if str(el.get("standalone", "")).strip().lower() not in TRUE:
            f: dict[str, Any] = {"name": name, "type": "repeat", "record": rname}
            if section:
                f["section"] = section
            f["label"] = label
            self.common(f, el, row, "household")
            if self.check_name(name, row):
                self.field_rows[("household", name)] = row
                fields.append(f)
        for child in el.get("children", []):
            self.element(child, here, child_fields, rname, None, False)
        if not child_fields:
            self.refuse(row, "type", f"repeat {name!r} has no questions",
                        "a record type needs at least one field")

    def check_name(self, name: str, row) -> bool:
        if not NAME_RE.match(name):
            self.refuse(row, "name", f"name {name!r}", "anju's names are lowercase letters, "
                        "digits and _, starting with a letter, at most 40")
            return False
        if name in SYSTEM_COLUMNS:
            self.refuse(row, "name", f"name {name!r}", "the name is kept by anju's store for "
                        "every record; rename the question")
            return False
        return True

    def field(self, el: dict, row, record: str, section: str | None) -> dict | None:
        etype = str(el.get("type", ""))
        name = str(el.get("name", ""))
        atype = TYPES.get(etype)
        if atype is None:
            self.refuse(row, "type", f"type {etype!r}",
                        "anju's types are text, integer, decimal, date, select_one, "
                        "select_multiple, geopoint, image/file, and text with the resident_id "
                        "or phone validator")
            return None
        if not self.check_name(name, row):
            return None
        f: dict[str, Any] = {"name": name, "type": atype}
        if section:
            f["section"] = section
        f["label"] = _text(el.get("label"), name)
        raw_label = el.get("label")
        if not raw_label or (isinstance(raw_label, dict) and not any(
                _language(str(k)) in ("zh", "default") for k in raw_label)):
            self.note(row, "label", f"no Chinese label for {name!r}",
                      f"{f['label']['zh']!r} is shown in Chinese too")
        hint = _text(el.get("hint"))
        if hint:
            f["hint"] = hint
        validator = str(el.get("validator") or "").strip()
        if validator:
            if validator not in VALIDATORS:
                self.refuse(row, "validator", f"validator {validator!r}",
                            "anju's validators are " + ", ".join(sorted(VALIDATORS)))
            elif validator in VALIDATOR_TYPES:
                if atype != "text":
                    self.refuse(row, "validator", f"validator {validator!r} on a {etype}",
                                "resident_id and phone apply to a text question")
                else:
                    f["type"] = atype = validator
        if atype in ("select_one", "select_multiple"):
            itemset = str(el.get("itemset") or "")
            if not el.get("list_name") or re.search(r"\.(csv|xml|geojson)$", itemset):
                self.refuse(row, "type", f"choices from {itemset or 'elsewhere'!r}",
                            "anju keeps its choices in the survey: put them on the choices "
                            "sheet")
                return None
            choices = []
            for c in el.get("choices") or []:
                cname = str(c.get("name", ""))
                choices.append({"value": cname, "label": _text(c.get("label"), cname)})
            f["choices"] = choices
            f["_list"] = str(el["list_name"])
        self.common(f, el, row, record)
        if validator in definition_mod.NAMED_VALIDATORS:
            f.setdefault("constraint", {})["validator"] = validator
        precision = str(el.get("precision") or "").strip()
        if precision:
            if not precision.isdigit() or int(precision) > 6:
                self.refuse(row, "precision", f"precision {precision!r}",
                            "a whole number of decimals, 0 to 6")
            else:
                f["precision"] = int(precision)
        default = el.get("default")
        if default not in (None, ""):
            try:
                f["default"] = _default(atype, str(default))
            except ValueError:
                self.refuse(row, "default", f"default {default!r}", f"not a {atype}")
        self.field_rows[(record, name)] = row
        return f

    def common(self, f: dict, el: dict, row, record: str) -> None:
        """required, constraint, relevant and publish: what a question and a repeat share."""
        bind = el.get("bind") or {}
        required = str(bind.get("required", "")).strip().lower()
        if required in TRUE:
            f["required"] = True
        elif required not in FALSE:
            self.refuse(row, "required", f"required {bind['required']!r}",
                        "anju's required is yes or no, not a condition")
        constraint = str(bind.get("constraint") or "").strip()
        if constraint:
            try:
                f["constraint"] = constraint_to_anju(constraint, f["type"])
            except ValueError as exc:
                self.refuse(row, "constraint", f"constraint {constraint!r}", str(exc))
        relevant = str(bind.get("relevant") or "").strip()
        if relevant:
            self.pending_relevant.append((record, f, relevant, row))
        publish = str(el.get("publish") or "").strip().lower()
        if publish:
            if publish not in PUBLISH:
                self.refuse(row, "publish", f"publish {publish!r}",
                            "one of " + ", ".join(sorted(PUBLISH)))
            elif publish != "never":
                f["publish"] = publish

    def app_fields(self, builtin: dict) -> None:
        """Check, or add from anju's built-in survey, the fields anju's code reads by name
        (registry/core/contract.py): a missing one is added, a text one the code reads as a
        resident ID or phone becomes one, any other type is refused."""
        known = {s["name"] for s in self.sections}
        for rname, required in contract_mod.REQUIRED.items():
            if rname not in self.records:
                continue                  # the whole built-in record is added
            fields = self.records[rname]["fields"]
            have = {f["name"]: f for f in fields}
            builtin_fields = {f["name"]: f for f in builtin[rname]["fields"]}
            added_names = [n for n in required if n not in have and n in builtin_fields]
            if added_names:
                self.note(self.record_rows.get(rname), "", f"no question {', '.join(added_names)}"
                          f" in {rname}", "anju's code reads them; anju's built-in fields are "
                          "added")
            for fname in added_names:
                added = dict(builtin_fields[fname])
                section = added.get("section")
                if section and section not in known:
                    label = next((s["label"] for s in _builtin_sections()
                                  if s["name"] == section), section)
                    self.sections.append({"name": section, "label": label})
                    known.add(section)
                fields.append(added)
            for fname, types in required.items():
                mine = have.get(fname)
                if mine is None or mine["type"] in types:
                    continue
                row = self.field_rows.get((rname, fname))
                if mine["type"] == "text" and types in (("resident_id",), ("phone",)):
                    mine["type"] = types[0]
                    self.note(row, "type", f"{fname!r} is read as a {types[0]}",
                              f"anju checks {fname} as a {types[0]} (add validator "
                              f"{types[0]} to say so)")
                else:
                    self.refuse(row, "type", f"{fname!r} is a {mine['type']}",
                                f"anju's code reads {fname} as a {' or '.join(types)}; change "
                                "the type or rename the question")
        status = {f["name"]: f for f in self.records["household"]["fields"]}.get("status")
        if status and status["type"] == "select_one":
            missing = [v for v in contract_mod.STATUSES
                       if v not in {c["value"] for c in status.get("choices", [])}]
            if missing:
                self.refuse(self.field_rows.get(("household", "status")), "type",
                            "'status' lacks the choices " + ", ".join(missing),
                            "anju's workflow moves a household through these values")

    def resolve_relevant(self) -> None:
        for record, f, text, row in self.pending_relevant:
            types = {x["name"]: x["type"] for x in self.records[record]["fields"]
                     if x["type"] not in ("repeat", "attachment")}
            try:
                f["relevant"] = relevant_to_anju(text, types)
            except ValueError as exc:
                self.refuse(row, "relevant", f"relevant {text!r}", str(exc))

    def settings(self, tree: dict) -> tuple[str, int, dict]:
        raw = (self.data.settings or [{}])[0] if self.data.settings else {}
        name = str(raw.get("form_id") or tree.get("id_string") or "survey")
        version = 1
        text = str(raw.get("version") or "").strip()
        if text:
            if text.isdigit() and int(text) >= 1:
                version = int(text)
            else:
                self.note(2, "version", f"version {text!r} is not a whole number",
                          "anju counts survey versions 1, 2, 3...; version 1 is used",
                          sheet="settings")
        title = _text(tree.get("title")) if raw.get("form_title") or any(
            k.startswith("form_title::") for k in raw) else None
        if title and str(raw.get("form_title_en") or "").strip():
            title["en"] = str(raw["form_title_en"]).strip()
        # anju's `sections` column keeps the order of the sections where it differs from the
        # order in which the groups first appear
        order = str(raw.get("sections") or "").split()
        rank = {n: i for i, n in enumerate(order)}
        self.sections.sort(key=lambda sec: rank.get(sec["name"], len(order)))
        return name, version, title or {"zh": "调查", "en": "Survey"}


def _default(atype: str, text: str):
    if atype == "integer":
        return int(text)
    if atype == "decimal":
        number = float(text)
        return int(number) if number.is_integer() and "." not in text else number
    return text


@functools.lru_cache(maxsize=1)
def _builtin_text_parsed(text: str) -> dict[str, Any]:
    return yaml.safe_load(text)


def _builtin() -> dict[str, Any]:
    """anju's built-in survey (schema/survey.yaml) as raw YAML data, a fresh copy each time."""
    text = definition_mod.DEFAULT_PATH.read_text(encoding="utf-8")
    return copy.deepcopy(_builtin_text_parsed(text))


def _builtin_records() -> dict[str, Any]:
    return _builtin()["records"]


def _builtin_sections() -> list[dict]:
    return list(_builtin().get("sections") or [])


def read_workbook(source: str | Path | bytes, file_type: str = "xlsx"):
    """The workbook as pyxform's reader gives it (rows of each sheet); XLSFormError if it is not
    a readable XLSForm."""
    from pyxform.errors import PyXFormError
    from pyxform.xls2json_backends import get_xlsform
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise XLSFormError("no such file")
        suffix = path.suffix.lower().lstrip(".")
        if suffix not in ("xlsx", "xlsm", "xls"):
            raise XLSFormError("not an Excel workbook (.xlsx or .xls)")
        if path.stat().st_size > MAX_BYTES:
            raise XLSFormError(f"larger than {MAX_BYTES // 1024 // 1024} MB; not a form")
        source, file_type = path.read_bytes(), suffix
    elif len(source) > MAX_BYTES:
        raise XLSFormError(f"larger than {MAX_BYTES // 1024 // 1024} MB; not a form")
    if file_type.lstrip(".") in ("xlsx", "xlsm"):
        _check_unpacked_size(source)
    try:
        return get_xlsform(io.BytesIO(source), file_type="." + file_type.lstrip("."))
    except PyXFormError:
        raise XLSFormError("not a readable Excel workbook") from None
    except Exception as exc:        # openpyxl/xlrd on a damaged file raise many kinds
        raise XLSFormError(f"not a readable Excel workbook ({type(exc).__name__})") from None


def _check_unpacked_size(data: bytes) -> None:
    import zipfile
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        raise XLSFormError("not a readable Excel workbook") from None
    if unpacked > MAX_UNPACKED:
        raise XLSFormError(f"unpacks to more than {MAX_UNPACKED // 1024 // 1024} MB; not a form")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def import_xlsform(source: str | Path | bytes, file_type: str = "xlsx") -> Imported:
    """Read an XLSForm into anju's survey definition. Raises XLSFormError (with every finding)
    when the workbook cannot be read or any row is refused; nothing is returned half-made."""
    from pyxform.errors import PyXFormError
    from pyxform.xls2json import workbook_to_json
    data = read_workbook(source, file_type)
    if not data.survey:
        raise XLSFormError("no 'survey' sheet with questions; not an XLSForm")
    if len(data.survey) > MAX_ROWS:
        raise XLSFormError(f"more than {MAX_ROWS} rows on the survey sheet; not a household "
                           "survey")
    job = _Import(data)
    job.scan_rows()
    try:
        tree = workbook_to_json(data, warnings=[])
    except PyXFormError as exc:
        message = _first_line(exc)
        m = re.search(r"\[row\s*:\s*(\d+)\]", message)
        sheet = "choices" if "'choices' sheet" in message.lower() else "survey"
        job.refuse(int(m.group(1)) if m else None, "",
                   re.sub(r"\[row\s*:\s*\d+\]\s*", "", message), "pyxform cannot read it",
                   sheet=sheet)
        raise XLSFormError(_summary(job.findings), job.findings) from None
    job.walk(tree)
    job.resolve_relevant()
    name, version, title = job.settings(tree)
    builtin = _builtin_records()
    job.app_fields(builtin)
    for rname in APP_RECORDS:
        if rname not in job.records and rname != "attachment":
            job.note(None, "", f"no repeat for {rname}",
                     f"anju's web app needs a {rname} record; anju's built-in one is added")
    refused = [f for f in job.findings if f.refused]
    if refused:
        raise XLSFormError(_summary(job.findings), job.findings)
    text = _dump(name, version, title, job.sections, job.records, builtin)
    try:
        defn = definition_mod.parse(text, "imported XLSForm")
    except DefinitionError as exc:
        row, column = _row_of_error(str(exc), job)
        job.refuse(row, column, str(exc), "anju's survey definition does not allow it")
        raise XLSFormError(_summary(job.findings), job.findings) from None
    return Imported(text=text, definition=defn, findings=_order(job.findings))


def _row_of_error(message: str, job: _Import) -> tuple[int | None, str]:
    m = re.match(r"field (\w+)\.(\w+):", message)
    if m:
        row = job.field_rows.get((m.group(1), m.group(2)))
        column = next((c for c in ("publish", "relevant", "constraint", "type")
                       if c in message), "")
        return row, column
    m = re.match(r"record '?(\w+)'?", message)
    if m:
        return job.record_rows.get(m.group(1)), "record"
    return None, ""


def _summary(findings: list[Finding]) -> str:
    refused = [f for f in _order(findings) if f.refused]
    if not refused:
        return "imported"
    return (f"{len(refused)} row(s) refused; nothing written. First: {refused[0].line()}")


def _dump(name, version, title, sections, records, builtin) -> str:
    """The YAML text of an imported survey; a choice list used twice is written once."""
    lists: dict[str, list] = {}
    uses: dict[str, int] = {}
    for rec in records.values():
        for f in rec["fields"]:
            if "_list" in f:
                uses[f["_list"]] = uses.get(f["_list"], 0) + 1
    shared: dict[str, list] = {}
    for rec in records.values():
        for f in rec["fields"]:
            list_name = f.pop("_list", None)
            if list_name and uses[list_name] > 1:
                if list_name not in shared:
                    shared[list_name] = f["choices"]
                    lists[list_name] = f["choices"]
                f["choices"] = shared[list_name]
    out: dict[str, Any] = {"name": name, "version": version, "title": title}
    if sections:
        out["sections"] = sections
    if lists:
        out["choice_lists"] = lists
    out["records"] = dict(records)
    for rname in APP_RECORDS:           # anju's system records come with definition.parse
        if rname not in out["records"]:
            out["records"][rname] = builtin[rname]
    shared_ids = {id(v) for v in lists.values()}

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data):
            return id(data) not in shared_ids

    text = yaml.dump(out, Dumper=Dumper, allow_unicode=True, sort_keys=False, width=100,
                     default_flow_style=None)
    # PyYAML names shared lists id001, id002... in order of first use: choice_lists comes first.
    for index, list_name in enumerate(lists, start=1):
        anchor = re.sub(r"[^A-Za-z0-9_-]", "_", list_name)
        text = re.sub(rf"([&*])id{index:03d}\b", rf"\g<1>{anchor}", text)
    return ("# Imported from an XLSForm by `anju survey import`; fields as in the workbook.\n"
            + text)


# -- export --------------------------------------------------------------------------------------

SURVEY_COLUMNS = ["type", "name", "label::" + ZH_LABEL, "label::" + EN_LABEL,
                  "hint::" + ZH_LABEL, "hint::" + EN_LABEL, "required", "relevant",
                  "constraint", "default", "publish", "validator", "precision", "section",
                  "record", "record_label::" + ZH_LABEL, "record_label::" + EN_LABEL,
                  "standalone"]


def _label_cells(prefix: str, text: dict | None) -> dict:
    if not text:
        return {}
    return {f"{prefix}::{ZH_LABEL}": text["zh"], f"{prefix}::{EN_LABEL}": text["en"]}


class _Export:
    def __init__(self, defn: Definition):
        self.defn = defn
        self.rows: list[dict] = []
        self.choices: list[dict] = []
        self.lists: dict[tuple, str] = {}
        self.list_names: set[str] = set()
        self.section_runs: dict[str, int] = {}
        self.names = {f.name for name, r in defn.records.items() if name not in SYSTEM_RECORDS
                      for f in r.fields} | set(defn.records)
        self.section_labels = {s.get("name"): definition_mod._label(s.get("label") or
                                                                      s.get("name"), "section")
                               for s in defn.sections}

    def list_for(self, f: Field, record: str) -> str:
        key = tuple((c.value, c.label["zh"], c.label["en"]) for c in f.choices)
        if key not in self.lists:
            name = f.name if f.name not in self.list_names else f"{record}_{f.name}"
            n = 2
            while name in self.list_names:
                name, n = f"{record}_{f.name}_{n}", n + 1
            self.list_names.add(name)
            self.lists[key] = name
            for c in f.choices:
                self.choices.append({"list_name": name, "name": c.value,
                                     **_label_cells("label", c.label)})
        return self.lists[key]

    def fields(self, record: str, fields) -> None:
        current = None
        for f in fields:
            if f.section != current:
                if current is not None:
                    self.rows.append({"type": "end_group"})
                current = f.section
                if current is not None:
                    self.open_group(current)
            if f.type == "repeat":
                self.repeat(f)
            else:
                self.rows.append(self.question(f, record))
        if current is not None:
            self.rows.append({"type": "end_group"})

    def open_group(self, section: str) -> None:
        # A group's name must differ from every question's (pyxform's references are global),
        # and a section that comes back later is a second group: `section` then names it.
        run = self.section_runs.get(section, 0) + 1
        self.section_runs[section] = run
        name = section if run == 1 else f"{section}_{run}"
        while name in self.names:
            name = f"{name}_section"
        self.names.add(name)
        row = {"type": "begin_group", "name": name,
               **_label_cells("label", self.section_labels.get(section)
                              or {"zh": section, "en": section})}
        if name != section:
            row["section"] = section
        self.rows.append(row)

    def repeat(self, f: Field | None, record: str | None = None) -> None:
        rtype = self.defn.record(f.record if f else record)
        row: dict[str, Any] = {"type": "begin_repeat", "name": f.name if f else rtype.name,
                               **_label_cells("label", f.label if f else rtype.label),
                               "record": rtype.name,
                               **_label_cells("record_label", rtype.label)}
        if f:
            self.shared_cells(row, f)
        else:
            row["standalone"] = "yes"
        self.rows.append(row)
        self.fields(rtype.name, rtype.fields)
        self.rows.append({"type": "end_repeat"})

    def shared_cells(self, row: dict, f: Field) -> None:
        if f.required:
            row["required"] = "yes"
        if f.relevant:
            row["relevant"] = relevant_to_xlsform(f.relevant)
        if f.publish != "never":
            row["publish"] = f.publish

    def question(self, f: Field, record: str) -> dict:
        if f.type in ("select_one", "select_multiple"):
            kind = f"{f.type} {self.list_for(f, record)}"
        elif f.type in VALIDATOR_TYPES:
            kind = "text"
        elif f.type == "attachment":
            kind = "file"
        else:
            kind = f.type
        row: dict[str, Any] = {"type": kind, "name": f.name, **_label_cells("label", f.label)}
        if f.hint:
            row.update(_label_cells("hint", f.hint))
        self.shared_cells(row, f)
        constraint = {k: v for k, v in f.constraint.items() if k != "validator"}
        if constraint:
            row["constraint"] = constraint_to_xlsform(constraint)
        if f.type in VALIDATOR_TYPES:
            row["validator"] = f.type
        elif f.constraint.get("validator"):
            row["validator"] = f.constraint["validator"]
        if f.default is not None:
            row["default"] = f.default
        if f.precision != 2:
            row["precision"] = f.precision
        return row


def _write_workbook(exp: _Export, defn: Definition, out) -> None:
    from openpyxl import Workbook
    wb = Workbook()
    sheet = wb.active
    sheet.title = "survey"
    _append(sheet, SURVEY_COLUMNS)
    for row in exp.rows:
        _append(sheet, [_cell(row.get(c)) for c in SURVEY_COLUMNS])
    choices = wb.create_sheet("choices")
    ccols = ["list_name", "name", "label::" + ZH_LABEL, "label::" + EN_LABEL]
    _append(choices, ccols)
    for row in exp.choices:
        _append(choices, [_cell(row.get(c)) for c in ccols])
    settings = wb.create_sheet("settings")
    # ODK has one form title; anju's English title goes in its own column, which ODK ignores.
    _append(settings, ["form_title", "form_title_en", "form_id", "version", "default_language",
                       "sections"])
    _append(settings, [defn.title["zh"], defn.title["en"], defn.name, str(defn.version),
                       ZH_LABEL, " ".join(str(sec.get("name")) for sec in defn.sections)])
    for ws, widths in ((sheet, {"A": 24, "B": 22, "C": 28, "D": 28, "H": 30, "I": 40}),
                       (choices, {"A": 18, "B": 18, "C": 20, "D": 24})):
        for column, width in widths.items():
            ws.column_dimensions[column].width = width
        ws.freeze_panes = "A2"
    wb.save(out)


def _append(ws, values: list) -> None:
    """Append a row; a text that starts with '=' stays text (never an Excel formula)."""
    from openpyxl.utils.exceptions import IllegalCharacterError
    row = ws.max_row + 1 if ws.max_row > 1 or ws.cell(1, 1).value is not None else 1
    for column, value in enumerate(values, start=1):
        if value is None:
            continue
        try:
            cell = ws.cell(row=row, column=column, value=value)
        except IllegalCharacterError:
            raise XLSFormError(f"{str(value)[:40]!r} holds a control character that Excel "
                               "cannot store") from None
        if isinstance(value, str) and value.startswith("="):
            cell.data_type = "s"


def _cell(value):
    """Cells are text, so that Excel keeps '01' and a pattern as typed; numbers stay numbers."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value if isinstance(value, int | float) else str(value)


def export_bytes(defn: Definition) -> bytes:
    """anju's definition as XLSForm workbook bytes; XLSFormError if the workbook would not give
    the same definition back (it is read again and compared before it is returned)."""
    exp = _Export(defn)
    for rname, rtype in defn.records.items():
        if rname == "household" or rname in SYSTEM_RECORDS:
            continue
        if rtype.parent != "household":
            raise XLSFormError(f"record {rname}: an XLSForm carries only records of the "
                               "household")
    exp.fields("household", defn.record("household").fields)
    repeated = {f.record for f in defn.record("household").fields if f.type == "repeat"}
    for rname in defn.records:
        if rname not in ("household", *SYSTEM_RECORDS) and rname not in repeated:
            exp.repeat(None, rname)
    buffer = io.BytesIO()
    _write_workbook(exp, defn, buffer)
    data = buffer.getvalue()
    try:
        back = import_xlsform(data).definition
    except XLSFormError as exc:
        raise XLSFormError(f"the survey cannot be written as an XLSForm: {exc}",
                           exc.findings) from None
    difference = same_definition(defn, back)
    if difference:
        raise XLSFormError(f"the survey cannot be written as an XLSForm without loss: "
                           f"{difference}")
    return data


def export_xlsform(defn: Definition, out: str | Path) -> None:
    """Write anju's definition to the XLSForm file `out`, whole or not at all."""
    write_atomically(Path(out), export_bytes(defn))


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file through a temporary one beside it, so a failure leaves nothing half-made."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def same_definition(a: Definition, b: Definition) -> str | None:
    """None if two definitions describe the same survey (their text may differ), else the
    first difference in words."""
    for attr in ("name", "version", "title"):
        if getattr(a, attr) != getattr(b, attr):
            return f"{attr}: {getattr(a, attr)!r} != {getattr(b, attr)!r}"

    def sections(d: Definition):
        return [(s.get("name"), definition_mod._label(s.get("label") or s.get("name"), "s"))
                for s in d.sections]
    if sections(a) != sections(b):
        return f"sections: {sections(a)!r} != {sections(b)!r}"
    if set(a.records) != set(b.records):     # their order has no meaning
        return f"record types: {sorted(a.records)} != {sorted(b.records)}"
    for rname, ra in a.records.items():
        rb = b.records[rname]
        if (ra.label, ra.parent) != (rb.label, rb.parent):
            return f"record {rname}: label or parent differ"
        if [f.name for f in ra.fields] != [f.name for f in rb.fields]:
            return (f"record {rname}: fields {[f.name for f in ra.fields]} != "
                    f"{[f.name for f in rb.fields]}")
        for fa, fb in zip(ra.fields, rb.fields):
            if fa != fb:
                for attr in fa.__dataclass_fields__:
                    if getattr(fa, attr) != getattr(fb, attr):
                        return (f"field {rname}.{fa.name}: {attr} {getattr(fa, attr)!r} != "
                                f"{getattr(fb, attr)!r}")
    return None
