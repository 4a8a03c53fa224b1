"""What the steps of the lawful path share: dates and periods, the project's legal settings,
writing records and status moves in one transaction, and the error people read.

Periods follow the Civil Code (民法典 Art. 201): a period of days starts on the day after the
event, so a 10-day period from a delivery on 3 March ends on 13 March; a period of months ends on
the same day of the month it reaches, or on that month's last day when it has no such day
(served 31 August + 6 months = last day of February).
"""

from __future__ import annotations

import calendar
import datetime as dt
import json

from anju.registry.core.changes import Change
from anju.registry.core.store import Registry, StoreError
from anju.registry.core.workflow import WorkflowError, move_values

# The project's legal periods (settings keys) and their defaults when a project sets none.
PERIODS = {
    "objection_reply_days": 15,     # the office answers an objection within this many days
    "record_objection_days": 15,    # objection to a record outside any publication round
    "review_request_days": 10,      # 复核评估 within 10 days of receiving the report (77号 Art. 20)
    "appraisal_request_days": 10,   # 鉴定 within 10 days of receiving the review result (Art. 22)
    "review_result_days": 10,       # the firm answers a review request within 10 days
    "administrative_review_days": 60,   # 行政复议法 Art. 20: 60 days from knowing of a decision
    "litigation_months": 6,         # 行政诉讼法 Art. 46: six months
}
PERIOD_LABELS = {
    "objection_reply_days": "异议答复期限(日)", "record_objection_days": "调查结果异议期限(日)",
    "review_request_days": "申请复核评估期限(日)", "appraisal_request_days": "申请鉴定期限(日)",
    "review_result_days": "复核评估答复期限(日)",
    "administrative_review_days": "申请行政复议期限(日)",
    "litigation_months": "提起行政诉讼期限(月)",
}


class LegalError(StoreError):
    """A step of the lawful path that cannot be recorded as asked; the message is Chinese."""


def supported(reg: Registry, record_type: str) -> bool:
    """Whether this registry's survey definition has the record type (older ones do not)."""
    return record_type in reg.definition.records


def require(reg: Registry, record_type: str) -> None:
    """Refuse to work on a registry whose survey definition lacks the record type."""
    if not supported(reg, record_type):
        raise LegalError(f"此登记库的调查表没有“{record_type}”记录类型,请用新版调查表建库")


def day(value, what: str) -> dt.date:
    """A date from a form, the command line or a record; a clear error names what it is."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise LegalError(f"{what}格式应为 年-月-日") from None


def maybe_day(value) -> dt.date | None:
    """A stored date, or None when absent or unreadable (a hostile pack)."""
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def not_future(value: dt.date, what: str, today: dt.date | None = None) -> dt.date:
    """Refuse a date after today: what has not happened yet cannot be recorded."""
    if value > (today or dt.date.today()):
        raise LegalError(f"{what}不能晚于今天")
    return value


def add_days(start: dt.date, days: int) -> dt.date:
    """The last day of a period of `days` days that starts the day after `start`."""
    return start + dt.timedelta(days=days)


def add_months(start: dt.date, months: int) -> dt.date:
    """The last day of a period of `months` months from `start` (clamped to a month's end)."""
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def period(reg: Registry, key: str) -> int:
    """A legal period from the project settings, or its default (a bad value is ignored)."""
    value = (reg.settings or {}).get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650:
        return PERIODS[key]
    return value


def put(reg: Registry, record_type: str, record_id: str, values: dict, *, by: str,
        note: str | None = None, full: bool = False) -> Change | None:
    """Validate and write one change inside the caller's transaction."""
    change = reg.make_change(record_type, record_id, values, by=by, note=note, full=full)
    if change:
        reg.apply([change])
    return change


def move(reg: Registry, household_id: str, status: str, *, by: str, note: str) -> bool:
    """Move a household's status inside the caller's transaction, if the workflow allows it."""
    try:
        values = move_values(reg, household_id, status)
    except WorkflowError:
        return False
    put(reg, "household", household_id, values, by=by, note=note)
    return True


def live_household(reg: Registry, household_id: str) -> dict:
    """The household row, or a LegalError when there is none (or it is deleted)."""
    row = reg.get("household", household_id) if household_id else None
    if row is None or row.get("deleted"):
        raise LegalError("没有这户住户")
    return row


def live_rows(reg: Registry, record_type: str, household_id: str | None = None) -> list[dict]:
    """The records of one type that are not deleted (of one household, if given)."""
    if not supported(reg, record_type):
        return []
    if household_id is not None:
        return reg.children(record_type, household_id)
    cur = reg.conn.execute(f"SELECT * FROM [{record_type}] WHERE deleted IS NULL "
                           "ORDER BY created_at, id")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur]


def attachment_ids(reg: Registry, household_id: str, ids) -> list[str]:
    """Attachment ids given as evidence or a scan, each checked to belong to the household."""
    if isinstance(ids, str):
        ids = [i for i in ids.replace(",", " ").replace("，", " ").split() if i]
    ids = list(dict.fromkeys(str(i).strip() for i in ids or () if str(i).strip()))
    own = {a["id"] for a in reg.children("attachment", household_id)}
    stray = [i for i in ids if i not in own]
    if stray:
        raise LegalError(f"附件 {stray[0][:8]} 不属于这户住户")
    return ids


def id_list(text: str | None) -> list[str]:
    """A JSON list of ids stored in a text field; garbage from a pack reads as empty."""
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return [str(v) for v in value if isinstance(v, str)] if isinstance(value, list) else []
