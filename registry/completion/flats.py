"""The resettlement flat inventory (安置房源) of a project, for the flat swap (产权调换).

Each flat is a `flat` record (schema/system_records.yaml): building, unit, floor, number, floor
area, type (the code of a flat type in the compensation rules, e.g. F90) and unit price. Its id
derives from building, unit and number, so importing a corrected list again updates the same
records instead of adding twins. Flats are written on the central registry only (deny by
default: no capability names them).

The builder's list comes as XLSX. The file is hostile until checked: every row is checked first
and any problem (a missing or unknown column, a duplicate flat, a number that is not one, a type
the plan does not know) is reported with its row and column in Chinese; then nothing is written.
A flat already chosen in a selection cannot be changed by an import or an edit.
"""

from __future__ import annotations

import functools
import io
import re
import uuid
import zipfile
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from anju.registry.compensation.rules import rules_of
from anju.registry.core.changes import DELETED
from anju.registry.core.i18n import N_
from anju.registry.core.store import InvalidChange, Registry, StoreError, transaction

FEN = Decimal("0.01")
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
MAX_COLS = 40  # columns read per row: a sheet that claims 16,384 columns is not padded out
MAX_UNPACKED = 100 * 1024 * 1024  # bytes the workbook's parts may unpack to (a zip bomb)
# Column -> (Chinese heading, other accepted headings, required).
COLUMNS = {
    "building": ("楼栋", ("楼号", N_("楼栋号"), "building"), True),
    "unit": ("单元", (N_("单元号"), "unit"), False),
    "floor": ("楼层", (N_("层"), "floor"), True),
    "number": ("房号", ("室号", N_("门牌号"), "number"), True),
    "area": ("建筑面积", ("面积", "建筑面积(㎡)", N_("建筑面积(m²)"), "area"), True),
    "flat_type": ("户型", ("房型", N_("户型编号"), "type"), True),
    "unit_price": ("单价", ("单价(元/㎡)", N_("单价(元/m²)"), "unit_price"), True),
    "price": ("总价", (N_("总价(元)"), "price"), False),
    "note": ("备注", ("note",), False),
}


class FlatError(StoreError):
    """A flat or a flat list that cannot be taken; the message is for people (Chinese)."""


@dataclass(frozen=True)
class Problem:
    """One problem of an imported list: the row and column (as Excel shows them) and what."""

    row: int
    column: str
    what: str

    def __str__(self) -> str:
        where = f"第 {self.row} 行" + (f" {self.column} 列" if self.column else "")
        return f"{where}:{self.what}"


class ImportRefused(FlatError):
    """An imported list with problems; nothing of it was written."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        shown = ";".join(str(p) for p in problems[:20])
        more = f";另有 {len(problems) - 20} 处问题" if len(problems) > 20 else ""
        super().__init__(f"房源表未导入(共 {len(problems)} 处问题):{shown}{more}")


def flat_id(building: str, unit: str | None, number: str) -> str:
    """The one record id of a flat, the same on every import."""
    key = "|".join(_key(v) for v in (building, unit or "", number))
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"anju:flat:{key}"))


def _key(text) -> str:
    import unicodedata
    return unicodedata.normalize("NFKC", str(text)).strip().upper()


def label(flat: dict) -> str:
    """A flat as people name it: 3号楼2单元1502."""
    building, unit, number = flat.get("building") or "", flat.get("unit") or "", flat["number"]
    b = building if building.endswith(("楼", "栋", "幢", "座")) else f"{building}号楼"
    u = "" if not unit else (unit if unit.endswith("单元") else f"{unit}单元")
    return f"{b}{u}{number}"


def price(flat: dict) -> Decimal:
    """The flat's price: floor area × unit price, to the fen."""
    return (Decimal(str(flat["area"])) * Decimal(str(flat["unit_price"]))).quantize(
        FEN, rounding=ROUND_HALF_UP)


def _shape(row: dict) -> dict:
    out = dict(row)
    out["area"] = Decimal(str(row["area"])).quantize(FEN)
    out["unit_price"] = Decimal(str(row["unit_price"])).quantize(FEN)
    out["withheld"] = bool(row.get("withheld"))
    out["label"] = label(row)
    out["price"] = price(row)
    return out


def all_flats(reg: Registry, *, where: str = "", args: tuple = ()) -> list[dict]:
    """Every live flat (or those matching an extra SQL condition), in building, unit, floor,
    number order, with label and price."""
    if "flat" not in reg.definition.records:
        return []
    cur = reg.conn.execute(f"SELECT * FROM flat WHERE deleted IS NULL {where}", args)
    cols = [d[0] for d in cur.description]
    flats = [_shape(dict(zip(cols, r))) for r in cur]
    return sorted(flats, key=lambda f: (_natural(f["building"]), _natural(f["unit"] or ""),
                                        f["floor"], _natural(f["number"])))


@functools.lru_cache(maxsize=4096)
def _natural(text: str) -> tuple:
    """Sort key that puts 2号楼 before 10号楼."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p)
                 for p in re.split(r"(\d+)", str(text)) if p)


def free_flats(reg: Registry, types: set[str]) -> list[dict]:
    """The flats of these types that no household holds and that are not withheld."""
    if not types:
        return []
    marks = ", ".join("?" for _ in types)
    return all_flats(reg, where=(
        f"AND flat_type IN ({marks}) AND COALESCE(withheld, 0) = 0 "
        "AND id NOT IN (SELECT flat FROM flat_choice WHERE deleted IS NULL) "
        "AND id NOT IN (SELECT flat_id FROM flat_taken)"), args=tuple(sorted(types)))


def get_flat(reg: Registry, fid: str) -> dict | None:
    row = reg.get("flat", fid)
    return None if row is None or row.get("deleted") else _shape(row)


def flat_types(reg: Registry) -> dict[str, dict]:
    """The plan's flat types by code (the rules' `flats`)."""
    try:
        return {f["code"]: f for f in rules_of(reg).data["flats"]}
    except Exception:  # no rules stored yet, or rules that do not parse: no types to offer
        return {}


def _chosen(reg: Registry, fid: str) -> bool:
    return reg.conn.execute("SELECT 1 FROM flat_choice WHERE flat = ? AND deleted IS NULL",
                            (fid,)).fetchone() is not None


# -- checking values, one flat at a time -------------------------------------------------------
def _text(value, what: str, required: bool, limit: int = 40) -> str | None:
    if value is None or str(value).strip() == "":
        if required:
            raise ValueError(f"请填写{what}")
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores 1502 as 1502.0
    import unicodedata
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if len(text) > limit:
        raise ValueError(f"{what}过长(最多 {limit} 个字)")
    if any(ord(c) < 32 for c in text):
        raise ValueError(f"{what}含有控制字符")
    return text


def _decimal(value, what: str, low: Decimal, high: Decimal) -> Decimal:
    if value is None or str(value).strip() == "":
        raise ValueError(f"请填写{what}")
    if isinstance(value, bool):
        raise ValueError(f"{what}应为数字")
    if isinstance(value, float):
        text = repr(value)
        d = Decimal(text)
        if d.is_finite() and abs(d - d.quantize(FEN)) < Decimal("1e-9"):
            d = d.quantize(FEN)  # 89.99999999999999 from a spreadsheet formula is 90.00
    else:
        import unicodedata
        text = unicodedata.normalize("NFKC", str(value)).strip().replace(",", "")
        try:
            d = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{what}应为数字(“{str(value)[:20]}”不是)") from None
    if not d.is_finite():
        raise ValueError(f"{what}应为数字")
    if d != d.quantize(FEN):
        raise ValueError(f"{what}最多两位小数")
    if not low <= d <= high:
        raise ValueError(f"{what}应在 {low} 至 {high} 之间")
    return d.quantize(FEN)


def _floor(value) -> int:
    if value is None or str(value).strip() == "":
        raise ValueError("请填写楼层")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    import unicodedata
    text = unicodedata.normalize("NFKC", str(value)).strip()
    text = text[:-1] if text.endswith(("层", N_("楼"), "F", "f")) else text
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"楼层应为整数(“{str(value)[:20]}”不是)") from None
    if not -5 <= n <= 200:
        raise ValueError("楼层应在 -5 至 200 之间")
    return n


def check_values(raw: dict, types: dict[str, dict]) -> tuple[dict, dict[str, str]]:
    """Clean values of one flat and the problems by column name (empty when it is fine)."""
    clean, problems = {}, {}
    steps = {
        "building": lambda v: _text(v, "楼栋", True),
        "unit": lambda v: _text(v, "单元", False),
        "floor": _floor,
        "number": lambda v: _text(v, "房号", True),
        "area": lambda v: _decimal(v, "建筑面积", Decimal(1), Decimal(2000)),
        "unit_price": lambda v: _decimal(v, "单价", Decimal(0), Decimal(1_000_000)),
        "note": lambda v: _text(v, "备注", False, 200),
    }
    for name, step in steps.items():
        try:
            clean[name] = step(raw.get(name))
        except ValueError as exc:
            problems[name] = str(exc)
    try:
        code = _text(raw.get("flat_type"), "户型", True)
        by_label = {f["label"]: c for c, f in types.items()}
        if code not in types and code in by_label:
            code = by_label[code]
        if code not in types:
            known = "、".join(types) or "(补偿方案未设房型)"
            raise ValueError(f"户型“{code}”不在补偿方案的房型中(应为 {known})")
        clean["flat_type"] = code
    except ValueError as exc:
        problems["flat_type"] = str(exc)
    if raw.get("price") not in (None, "") and "area" in clean and "unit_price" in clean \
            and not problems.get("area") and not problems.get("unit_price"):
        try:
            total = _decimal(raw["price"], "总价", Decimal(0), Decimal(10**10))
        except ValueError as exc:
            problems["price"] = str(exc)
        else:
            expect = price(clean)
            if abs(total - expect) > 1:
                problems["price"] = (f"总价 {total} 与 面积×单价 = {expect} 不符")
    return clean, problems


# -- the XLSX list -----------------------------------------------------------------------------
def read_xlsx(data: bytes) -> list[tuple[int, dict]]:
    """The rows of a builder's XLSX list as (Excel row number, {column: raw value}).

    Refuses (ImportRefused) a file that is not an XLSX workbook, has no heading row, lacks a
    required column, repeats one or has one anju does not know, or has too many rows."""
    import openpyxl
    from openpyxl.utils import get_column_letter

    if len(data) > MAX_BYTES:
        raise ImportRefused([Problem(0, "", f"文件过大(最多 {MAX_BYTES // 1024 // 1024} MB)")])
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ImportRefused([Problem(0, "", "文件不是 XLSX 表格"
                                     "(请在 Excel 或 WPS 中另存为 .xlsx)")])
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(i.file_size for i in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        unpacked = MAX_UNPACKED + 1
    if unpacked > MAX_UNPACKED:
        raise ImportRefused([Problem(0, "", "文件无法读取,不是有效的 XLSX 表格(解压后过大)")])
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        rows = []
        for i, values in enumerate(sheet.iter_rows(values_only=True, max_col=MAX_COLS), 1):
            if i > MAX_ROWS + 1:
                raise ImportRefused([Problem(i, "", f"行数过多(最多 {MAX_ROWS} 套)")])
            rows.append((i, values))
        book.close()
    except ImportRefused:
        raise
    except Exception:  # a damaged or disguised file: openpyxl's errors are many and English
        raise ImportRefused([Problem(0, "", "文件无法读取,不是有效的 XLSX 表格")]) from None
    rows = [(i, v) for i, v in rows if any(c not in (None, "") for c in v)]
    if not rows:
        raise ImportRefused([Problem(1, "", "表格是空的")])
    head_row, head = rows[0]
    names = {}
    for zh, (cn, others, _) in ((k, v) for k, v in COLUMNS.items()):
        names[_key(cn)] = zh
        for o in others:
            names[_key(o)] = zh
    problems, where = [], {}
    for j, cell in enumerate(head):
        if cell in (None, ""):
            continue
        letter = get_column_letter(j + 1)
        name = names.get(_key(cell))
        if name is None:
            problems.append(Problem(head_row, letter, f"不认识的列“{str(cell)[:20]}”"
                                    f"(应为 {'、'.join(c[0] for c in COLUMNS.values())})"))
        elif name in where:
            problems.append(Problem(head_row, letter, f"列“{COLUMNS[name][0]}”重复"))
        else:
            where[name] = j
    for name, (cn, _, required) in COLUMNS.items():
        if required and name not in where:
            problems.append(Problem(head_row, "", f"缺少列“{cn}”"))
    if problems:
        raise ImportRefused(problems)
    out = []
    for i, values in rows[1:]:
        out.append((i, {name: values[j] if j < len(values) else None
                        for name, j in where.items()}))
    if not out:
        raise ImportRefused([Problem(head_row, "", "表格只有标题行,没有房源")])
    return out


def import_xlsx(reg: Registry, data: bytes, *, by: str) -> dict:
    """Check a builder's XLSX list whole, then write it in one transaction.

    Returns {"added": n, "updated": n, "unchanged": n}; raises ImportRefused naming every
    problem's row and column, and then writes nothing."""
    import openpyxl  # noqa: F401  (a clear ImportError before reading anything)

    rows = read_xlsx(data)
    columns = _columns_of(data)
    types = flat_types(reg)
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    cleaned = []
    for row_no, raw in rows:
        clean, errors = check_values(raw, types)
        for name, what in errors.items():
            problems.append(Problem(row_no, columns.get(name, ""), what))
        if errors:
            continue
        fid = flat_id(clean["building"], clean["unit"], clean["number"])
        if fid in seen:
            problems.append(Problem(row_no, columns.get("number", ""),
                                    f"房源 {label(clean)} 与第 {seen[fid]} 行重复"))
            continue
        seen[fid] = row_no
        cleaned.append((row_no, fid, clean))
    if problems:
        raise ImportRefused(problems)
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    with transaction(reg.conn):
        for row_no, fid, clean in cleaned:
            current = get_flat(reg, fid)
            if current is not None and _chosen(reg, fid) and any(
                    _differs(current.get(k), v) for k, v in clean.items()):
                raise ImportRefused([Problem(row_no, "", f"房源 {label(clean)} 已被选定,"
                                             "不能通过导入修改")])
            try:
                change = reg.make_change("flat", fid, clean, by=by, full=current is None)
            except InvalidChange as exc:
                raise ImportRefused([Problem(row_no, columns.get(name, ""), "取值不符合要求")
                                     for name in exc.errors]) from None
            if change is None:
                counts["unchanged"] += 1
                continue
            reg.apply([change])
            counts["added" if current is None else "updated"] += 1
    return counts


def _differs(a, b) -> bool:
    if isinstance(b, Decimal) or isinstance(a, Decimal):
        return a is None or b is None or Decimal(str(a)) != Decimal(str(b))
    return (a or None) != (b or None)


def _columns_of(data: bytes) -> dict[str, str]:
    """Column name -> Excel letter of the list's heading row (read_xlsx checked it)."""
    import openpyxl
    from openpyxl.utils import get_column_letter
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        names = {}
        for zh, (cn, others, _) in COLUMNS.items():
            for o in (cn, *others):
                names[_key(o)] = zh
        for values in book.worksheets[0].iter_rows(values_only=True, max_col=MAX_COLS):
            if any(c not in (None, "") for c in values):
                return {names[_key(c)]: get_column_letter(j + 1)
                        for j, c in enumerate(values) if c not in (None, "")
                        and _key(c) in names}
        return {}
    finally:
        book.close()


# -- the admin's edit --------------------------------------------------------------------------
def save_flat(reg: Registry, values: dict, *, by: str, fid: str | None = None) -> str:
    """Add a flat, or change one that no household has chosen; returns its id."""
    clean, errors = check_values(values, flat_types(reg))
    if errors:
        names = {k: v[0] for k, v in COLUMNS.items()}
        raise FlatError(";".join(f"{names.get(k, k)}:{v}" for k, v in errors.items()))
    clean["withheld"] = 1 if values.get("withheld") in (1, "1", True, "on", "yes") else 0
    new_id = flat_id(clean["building"], clean["unit"], clean["number"])
    with transaction(reg.conn):
        if fid is not None:
            current = get_flat(reg, fid)
            if current is None:
                raise FlatError("没有这套房源")
            if new_id != fid:
                raise FlatError("楼栋、单元、房号不能修改;请删除后重新录入")
            if _chosen(reg, fid):
                raise FlatError(f"房源 {current['label']} 已被选定,不能修改")
        elif get_flat(reg, new_id) is not None:
            raise FlatError(f"房源 {label(clean)} 已在房源表中")
        change = reg.make_change("flat", new_id, clean, by=by, full=fid is None)
        if change:
            reg.apply([change])
    return new_id


def remove_flat(reg: Registry, fid: str, *, reason: str, by: str) -> None:
    """Take a flat out of the inventory (a tombstone with a reason); refused once chosen."""
    if not (reason or "").strip():
        raise FlatError("删除房源须写明理由")
    with transaction(reg.conn):
        current = get_flat(reg, fid)
        if current is None:
            raise FlatError("没有这套房源")
        if _chosen(reg, fid):
            raise FlatError(f"房源 {current['label']} 已被选定,不能删除")
        reg.apply([reg.make_change("flat", fid, {DELETED: reason.strip()}, by=by,
                                   note=reason.strip())])
