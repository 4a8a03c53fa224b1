"""Validation of record values, with marshmallow schemas generated from the survey definition.

The same check runs on every write path: the web form (whole records) and merged packs (partial
changes). Errors are codes (``"id_check"``, ``"min|0"``) turned into Chinese or English text by
`message`, so the UI and the command line speak the same words.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from anju.registry.core import clock, localtime
from anju.registry.core.definition import Definition, Field, RecordType, is_relevant
from anju.registry.core.i18n import N_
from anju.registry.core.normalise import is_identifier, normalise
from marshmallow import RAISE, Schema, ValidationError, fields

MESSAGES = {
    "required": (N_("必填项"), "This field is required"),
    "invalid_text": (N_("应为文字"), "Must be text"),
    "invalid_integer": (N_("应为整数"), "Must be a whole number"),
    "invalid_decimal": (N_("应为数字"), "Must be a number"),
    "invalid_date": (N_("日期格式应为 年-月-日"), "Date must be YYYY-MM-DD"),
    "future_date": (N_("日期不能晚于今天"), "Date cannot be in the future"),
    "not_future_year": (N_("年份不能晚于今年"), "Year cannot be in the future"),
    "min": (N_("不能小于 {}"), "Must be at least {}"),
    "max": (N_("不能大于 {}"), "Must be at most {}"),
    "max_length": (N_("不能超过 {} 个字"), "At most {} characters"),
    "pattern": (N_("格式不正确"), "Wrong format"),
    "choice": (N_("不是可选项"), "Not one of the choices"),
    "id_length": (N_("身份证号应为18位(或旧版15位)"),
                  "A resident ID has 18 characters (or old 15)"),
    "id_chars": (N_("身份证号只能含数字和末位X"), "A resident ID has digits and a final X only"),
    "id_birth": (N_("身份证号中的出生日期不存在"), "The birth date inside the ID does not exist"),
    "id_check": (N_("身份证号校验位错误"), "Wrong check character in the resident ID"),
    "phone": (N_("手机号应为11位,以1开头"), "A mobile number has 11 digits starting with 1"),
    "geopoint": (N_("位置应为 纬度,经度"), "Location must be latitude,longitude"),
    "person_name": (N_("姓名应为2-40个汉字或字母"), "A name is 2-40 letters"),
    "unknown_field": (N_("未知字段"), "Unknown field"),
    "duplicate_house_no": (N_("该房屋编号已有另一户使用"), "Another household has this number"),
    "not_relevant": (N_("此项不适用"), "Not applicable"),
}

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
NAME_RE = re.compile(r"^[\u3400-\u9fffA-Za-z·\. ]{2,40}$")


# The last day a value may name: the calendar of the moment the fact was recorded (plus a day of
# time zones), never the receiver's today. None: no calendar check (a change already accepted by
# the database that recorded it is not refused anywhere else for the calendar).
_LATEST: contextvars.ContextVar = contextvars.ContextVar("anju_latest_day", default=...)
CALENDAR_TOLERANCE = dt.timedelta(days=1)


def latest_day(recorded_at: str | None = None) -> dt.date:
    """The last acceptable day for a fact recorded at `recorded_at` (a change's UTC time).

    Now (None): this computer's today (or the UTC day, if later). A recorded time: its UTC day
    plus a day of tolerance, since the recording computer's local day may be ahead of UTC.
    """
    if recorded_at is None:
        # the project's day too: Beijing is ahead of a laptop clock set to UTC for 8 h a day
        wall = clock.wall_datetime()
        return max(clock.today(), wall.date(), localtime.today(now=wall))
    try:
        return dt.date.fromisoformat(recorded_at[:10]) + CALENDAR_TOLERANCE
    except ValueError:
        return max(clock.today(), clock.wall_datetime().date())


def _latest() -> dt.date | None:
    latest = _LATEST.get()
    return latest_day() if latest is ... else latest


@contextlib.contextmanager
def calendar(latest: dt.date | None):
    """Check dates against `latest` (None: no calendar check) inside the block."""
    token = _LATEST.set(latest)
    try:
        yield
    finally:
        _LATEST.reset(token)


def message(code: str, lang: str = "zh") -> str:
    """The human text of an error code in the given language ("zh" or "en")."""
    key, _, param = str(code).partition("|")
    zh, en = MESSAGES.get(key, (key, key))
    text = en if lang == "en" else zh
    return text.format(param) if param else text


def localize(errors: dict, lang: str = "zh") -> dict[str, str]:
    """Turn {field: [codes]} into {field: 'text; text'} for display."""
    out = {}
    for name, codes in errors.items():
        if isinstance(codes, dict):  # nested, e.g. marshmallow's per-item errors
            codes = [c for v in codes.values() for c in (v if isinstance(v, list) else [v])]
        codes = codes if isinstance(codes, list) else [codes]
        out[name] = "；".join(message(c, lang) for c in codes) if lang == "zh" else "; ".join(
            message(c, lang) for c in codes)
    return out


def check_resident_id(value: str) -> str:
    """Normalise a resident ID (GB 11643) or raise ValidationError with a code."""
    value = str(value).strip().upper()
    if len(value) not in (15, 18):
        raise ValidationError("id_length")
    body = value[:17] if len(value) == 18 else value
    if not body.isdigit() or (len(value) == 18 and not (value[17].isdigit() or value[17] == "X")):
        raise ValidationError("id_chars")
    birth = ("19" + value[6:12]) if len(value) == 15 else value[6:14]
    try:
        born = dt.date(int(birth[:4]), int(birth[4:6]), int(birth[6:8]))
    except ValueError:
        raise ValidationError("id_birth") from None
    latest = _latest()
    if (latest is not None and born > latest) or born.year < 1850:
        raise ValidationError("id_birth")
    if len(value) == 18 and id_check_char(value[:17]) != value[17]:
        raise ValidationError("id_check")
    return value


def id_check_char(body: str) -> str:
    """The GB 11643 check character of the first 17 digits of a resident ID."""
    return ID_CHECK[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


def canonical_resident_id(value: str) -> str:
    """A checked resident ID in its one stored form: the old 15-digit form becomes 18 digits
    (century 19 and the GB 11643 check character), upper-case X; others as they are."""
    value = str(value).strip().upper()
    if len(value) == 15 and value.isdigit():
        body = value[:6] + "19" + value[6:]
        return body + id_check_char(body)
    return value


def is_legacy_id(value: str | None) -> bool:
    """Whether a stored resident ID is the old 15-digit form (no check character)."""
    return bool(value) and len(value) == 15


class _Text(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValidationError("invalid_text")
        return str(value).strip()


class _Integer(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise ValidationError("invalid_integer")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValidationError("invalid_integer") from None
        if not number.is_finite() or number != number.to_integral_value():
            raise ValidationError("invalid_integer")
        return int(number)


class _Decimal(fields.Field):
    def __init__(self, precision: int, **kwargs):
        super().__init__(**kwargs)
        self.precision = precision

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise ValidationError("invalid_decimal")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValidationError("invalid_decimal") from None
        if not number.is_finite() or abs(number) > Decimal(10) ** 12:
            raise ValidationError("invalid_decimal")
        return float(number.quantize(Decimal(1).scaleb(-self.precision), rounding=ROUND_HALF_UP))


class _Date(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        try:
            day = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise ValidationError("invalid_date") from None
        latest = _latest()
        if latest is not None and day > latest:
            raise ValidationError("future_date")
        return day.isoformat()


class _Choice(fields.Field):
    def __init__(self, choices: tuple, multiple: bool, **kwargs):
        super().__init__(**kwargs)
        self.values = [c.value for c in choices]
        self.multiple = multiple

    def _deserialize(self, value, attr, data, **kwargs):
        if self.multiple:
            if isinstance(value, str):
                value = json.loads(value) if value.startswith("[") else [value]
            if not isinstance(value, list | tuple) or any(v not in self.values for v in value):
                raise ValidationError("choice")
            return [v for v in self.values if v in value]  # canonical order, no repeats
        if not isinstance(value, str | int) or str(value) not in self.values:
            raise ValidationError("choice")
        return str(value)


class _ResidentId(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        # Stored canonical (18 characters): one person has one ID in what is saved from now
        # on; what older saves hold stays as written (changes are immutable) and the checks
        # compare canonical forms.
        return canonical_resident_id(check_resident_id(value))


class _Phone(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        value = re.sub(r"[\s-]", "", str(value))
        if not PHONE_RE.match(value):
            raise ValidationError("phone")
        return value


class _Geopoint(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        try:
            lat, lon = (float(p) for p in str(value).replace("，", ",").split(","))
        except ValueError:
            raise ValidationError("geopoint") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValidationError("geopoint")
        return f"{lat:.6f},{lon:.6f}"


def _constraint_validators(f: Field) -> list:
    checks = []
    c = f.constraint
    if "min" in c:
        checks.append(lambda v, m=c["min"]: _raise_if(v < m, f"min|{m}"))
    if "max" in c:
        checks.append(lambda v, m=c["max"]: _raise_if(v > m, f"max|{m}"))
    if "max_length" in c:
        checks.append(lambda v, m=c["max_length"]: _raise_if(len(v) > m, f"max_length|{m}"))
    if "pattern" in c:
        rx = re.compile(c["pattern"])
        checks.append(lambda v: _raise_if(not rx.match(str(v)), "pattern"))
    if c.get("validator") == "not_future_year":
        checks.append(lambda v: _raise_if(_latest() is not None and v > _latest().year,
                                          "not_future_year"))
    if c.get("validator") == "person_name":
        checks.append(lambda v: _raise_if(not NAME_RE.match(v), "person_name"))
    return checks


def _raise_if(cond: bool, code: str) -> None:
    if cond:
        raise ValidationError(code)


def _marshmallow_field(f: Field) -> fields.Field:
    kwargs = {"validate": _constraint_validators(f), "allow_none": True,
              "error_messages": {"required": "required", "null": "required"}}
    if f.type == "integer":
        return _Integer(**kwargs)
    if f.type == "decimal":
        return _Decimal(f.precision, **kwargs)
    if f.type == "date":
        return _Date(**kwargs)
    if f.type in ("select_one", "select_multiple"):
        return _Choice(f.choices, f.type == "select_multiple", **kwargs)
    if f.type == "resident_id":
        return _ResidentId(**kwargs)
    if f.type == "phone":
        return _Phone(**kwargs)
    if f.type == "geopoint":
        return _Geopoint(**kwargs)
    return _Text(**kwargs)


@lru_cache(maxsize=64)
def schema_for(definition: Definition, record: str) -> Schema:
    """A marshmallow schema for one record type, built once per definition."""
    rtype = definition.record(record)
    spec = {f.name: _marshmallow_field(f) for f in rtype.columns}
    if rtype.parent:
        spec[f"{rtype.parent}_id"] = _Text(allow_none=False)
    cls = Schema.from_dict(spec, name=f"{record.title()}Schema")
    cls.error_messages = {**cls.error_messages, "unknown": "unknown_field"}
    return cls(unknown=RAISE)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value in ([], ())


def validate(definition: Definition, record: str, data: dict, *, partial: bool = False,
             current: dict | None = None,
             latest: dt.date | None | bool = True) -> tuple[dict, dict]:
    """Check values for one record; return (clean values, {field: [error codes]}).

    A whole record (partial=False) is checked for required fields; a field that is not relevant
    is neither required nor kept (it is stored as null). A partial change (a merged pack, a single
    edit) checks only the fields it carries, with `current` giving the rest of the record.
    Blank inputs mean "no value" (None). Text is normalised first (NFC; NFKC for identifiers,
    phones and numbers, so full-width digits pass and are stored in ASCII). Dates and years
    are checked against `latest` (True: the last day for a fact recorded now; a date: that
    day; None: no calendar check, as when merging what another database accepted).
    """
    rtype: RecordType = definition.record(record)
    kinds = {f.name: is_identifier(f) for f in rtype.columns}
    raw = {k: (None if _blank(v) else normalise(v, kinds.get(k, False)))
           for k, v in data.items()}
    errors: dict[str, list] = {}
    if latest is True:
        latest = latest_day()
    try:
        with calendar(latest or None):
            clean = schema_for(definition, record).load(raw, partial=True)
    except ValidationError as exc:
        errors = {k: (v if isinstance(v, list) else [v]) for k, v in exc.messages.items()}
        clean = {k: v for k, v in exc.valid_data.items()}
    merged = {**(current or {}), **clean}
    for f in rtype.columns:
        if f.name not in raw and partial:
            continue
        if not is_relevant(f, merged):
            if f.name in raw:
                clean[f.name] = None
                errors.pop(f.name, None)
            continue
        if f.required and not partial and merged.get(f.name) is None and f.name not in errors:
            errors[f.name] = ["required"]
    if rtype.parent and not partial and not merged.get(f"{rtype.parent}_id"):
        errors[f"{rtype.parent}_id"] = ["required"]
    return clean, errors
