"""Compensation agreements (补偿安置协议): recorded once with the breakdown frozen at signing.

An agreement is an `agreement` record (schema/survey.yaml) and syncs through packs like any
change. It is never edited: the store refuses a second change to one, and what is shown is always
the agreement's first change. A correction is an amendment: a new agreement naming the one it
`amends`, with a reason; the amended one stays visible. The agreement "in force" for a household
is the one no other agreement amends.

One agreement in force per household, project-wide: two agreements that no other amends (two
signings on two devices, or two amendments of one agreement made apart) are a double agreement
(双重协议). Neither is then in force, paid or published as agreed; both are shown, and the review
queue holds the case until a supervisor keeps one (`settle`, a `decision` record that syncs):
the others are set aside for good and stay visible.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from decimal import Decimal

from anju.registry.compensation.calculation import (
    MODE_LABELS,
    MODES,
    Breakdown,
    calculate,
    fixtures_of,
    rules_frozen,
    valuation_of,
)
from anju.registry.compensation.rules import rules_on, rules_version
from anju.registry.core.changes import DELETED, Change, new_id
from anju.registry.core.store import Registry, StoreError, transaction
from anju.registry.core.workflow import SIGNED as workflow_signed
from anju.registry.core.workflow import WorkflowError, move_values

SIGNED = workflow_signed  # the one definition of "signed" (registry/core/workflow.py)
DOUBLE = "double_agreement"   # the flag kind and decision kind of a double agreement
# registry/review/decisions.py's namespace of decision ids (a decision's id derives from its
# flag key): review imports compensation, so the value is repeated here, and a test compares.
DECISION_NS = uuid.UUID("5b0c6f1e-8d43-4c4e-9a57-2f1c3a6e0d11")


class AgreementError(StoreError):
    """An agreement that cannot be recorded as asked; the message is for people (Chinese)."""


def supported(reg: Registry) -> bool:
    """Whether this registry's survey definition has the agreement record type."""
    return "agreement" in reg.definition.records


def record_agreement(reg: Registry, household_id: str, *, number: str, signed_on: str,
                     mode: str, by: str, flat: str | None = None, transition_flat: bool = False,
                     amends: str | None = None, reason: str | None = None,
                     rules_version: str | None = None, computed_on: str | None = None,
                     flats: list | None = None) -> str:
    """Record a signed agreement (or an amendment of one) and return its id.

    `flats`: several resettlement flats of one swap (codes of the rules' flats, or mappings as
    `calculation.swap_settlement` takes them), instead of the one `flat`.

    The breakdown is computed from the household's survey under the rules version in force on
    the signing date (a paper agreement entered late included) and frozen into the agreement
    with that version and date. An amendment is computed under its original's version and
    signing date unless `rules_version` / `computed_on` say otherwise; its breakdown says which.
    A first agreement moves the household to 已签约 in the same transaction (one already past
    已签约 without an agreement keeps its status: a paper agreement entered late); an
    amendment needs a reason and leaves the status as it is.
    """
    if not supported(reg):
        raise AgreementError("此登记库的调查表没有协议记录类型(agreement),请用新版调查表建库")
    number = (number or "").strip()
    reason = (reason or "").strip() or None
    if not number:
        raise AgreementError("请填写协议编号")
    if mode not in MODES:
        raise AgreementError("补偿方式应为货币补偿或产权调换")
    try:
        day = dt.date.fromisoformat(str(signed_on).strip())
    except ValueError:
        raise AgreementError("签约日期格式应为 年-月-日") from None
    household = reg.get("household", household_id)
    if household is None or household.get("deleted"):
        raise AgreementError("没有这户住户")
    existing = agreements_of(reg, household_id)
    if reg.conn.execute("SELECT 1 FROM agreement WHERE number = ?", (number,)).fetchone():
        raise AgreementError(f"协议编号 {number} 已被使用")
    in_force = next((a for a in existing if a["in_force"]), None)
    values_status = None
    old = None
    if amends:
        old = next((a for a in existing if a["id"] == amends), None)
        if old is None:
            raise AgreementError("所变更的协议不属于这户住户")
        if old["disputed"]:
            raise AgreementError(f"协议 {old['number']} 与同户另一份协议待核定,核定前不能变更")
        if not old["in_force"]:
            raise AgreementError(f"协议 {old['number']} 已被变更过或不予执行,请变更现行协议")
        if not reason:
            raise AgreementError("变更协议须写明理由")
        if day < dt.date.fromisoformat(old["signed_on"]):
            raise AgreementError(f"变更协议的签约日期不能早于原协议({old['signed_on']})")
    else:
        if in_force:
            raise AgreementError(f"这户已有协议 {in_force['number']};如需更改,请签订变更协议")
        disputed = [a["number"] for a in existing if a["disputed"]]
        if disputed:
            raise AgreementError(f"这户有两份以上协议待核定({'、'.join(disputed)}),"
                                 "须由主管核定保留哪一份")
        if household.get("status") not in SIGNED:  # else: a paper agreement entered late (补录)
            try:
                values_status = move_values(reg, household_id, "signed")
            except WorkflowError:
                raise AgreementError("当前状态不能签约(须为已评估或补偿决定)") from None
    rules, on, basis = _rules_for(reg, day, old if amends else None, rules_version,
                                  computed_on)
    breakdown = calculate(rules, household, mode, on, settings=reg.settings,
                          flat=flat, transition_flat=transition_flat, flats=flats,
                          valuation=valuation_of(reg, household_id, on),
                          fixtures=fixtures_of(reg, household_id))
    breakdown.rules = rules_frozen(rules, on, basis)
    if not breakdown.complete:
        raise AgreementError("资料不全,无法计算补偿:" + "、".join(breakdown.missing))
    values = {"household_id": household_id, "number": number, "signed_on": day.isoformat(),
              "mode": mode, "breakdown": breakdown.to_json(), "total": str(breakdown.total),
              "amends": amends, "reason": reason}
    agreement_id = new_id()
    note = f"amends {amends}: {reason}" if amends else None
    with transaction(reg.conn):
        # One change at a time: each takes the next sequence number of this device.
        reg.apply([reg.make_change("agreement", agreement_id, values, by=by, note=note,
                                   full=True)])
        if values_status:
            change = reg.make_change("household", household_id, values_status, by=by,
                                     note=f"{household.get('status')} -> signed")
            if change:
                reg.apply([change])
    return agreement_id


def preview(reg: Registry, household_id: str, *, signed_on: str, mode: str,
            flat: str | None = None, transition_flat: bool = False, amends: str | None = None,
            rules_version: str | None = None, computed_on: str | None = None,
            flats: list | None = None) -> Breakdown:
    """The breakdown `record_agreement` would freeze for these inputs (same rules version, same
    date computed on), for the signing form's preview; raises AgreementError or ValueError."""
    day = dt.date.fromisoformat(str(signed_on).strip())
    old = None
    if amends:
        old = next((a for a in agreements_of(reg, household_id) if a["id"] == amends), None)
        if old is None:
            raise AgreementError("所变更的协议不属于这户住户")
    rules, on, basis = _rules_for(reg, day, old, rules_version, computed_on)
    household = reg.get("household", household_id)
    b = calculate(rules, household, mode, on, settings=reg.settings, flat=flat,
                  transition_flat=transition_flat, flats=flats,
                  valuation=valuation_of(reg, household_id, on),
                  fixtures=fixtures_of(reg, household_id))
    b.rules = rules_frozen(rules, on, basis)
    return b


def _rules_for(reg: Registry, day: dt.date, old: dict | None, version: str | None,
               computed_on: str | None) -> tuple:
    """The rules, the date to compute on, and those two in words, for a new agreement (the
    version in force on its signing date) or an amendment (by default its original's)."""
    if computed_on:
        try:
            on = dt.date.fromisoformat(str(computed_on).strip())
        except ValueError:
            raise AgreementError("计算所依据的日期格式应为 年-月-日") from None
    else:
        on = dt.date.fromisoformat(old["breakdown"].on) if old else day
    if old is not None and not version:
        frozen = old["breakdown"].rules
        rules = rules_version(reg, frozen.get("version"), frozen.get("hash"))
        if rules is None:
            raise AgreementError(f"找不到原协议 {old['number']} 所依据的补偿方案版本 "
                                 f"{frozen.get('version')},请先录入该版本或指定版本")
        how = (f"依原协议 {old['number']} 所依据的补偿方案版本 {rules.version}"
               + (f"及原签约日期 {on.isoformat()}" if not computed_on else
                  f",按 {on.isoformat()} 计算"))
    elif version:
        rules = rules_version(reg, version)
        if rules is None:
            raise AgreementError(f"没有补偿方案版本 {version}")
        how = f"依指定的补偿方案版本 {rules.version},按 {on.isoformat()} 计算"
    else:
        return rules_on(reg, on), on, None
    since = rules.data.get("effective_from")
    if since:
        how += f"({since} 起施行)"
    return rules, on, how


def _frozen(reg: Registry, agreement_id: str) -> tuple[dict, bool]:
    """An agreement's values as first written, and whether anything tried to change it since.

    The first change is the one that saw no earlier value of any field (its bases are empty);
    later changes can only come from a pack made by something that bypassed the store.
    """
    changes: list[Change] = reg.changes_of(agreement_id)
    originals = [c for c in changes if not any(c.bases(k) for k in c.fields)
                 and DELETED not in c.fields]
    first = min(originals or changes, key=lambda c: c.order)
    return {**first.fields, "created_at": first.at, "created_by": first.by}, len(changes) > 1


def _shape(agreement_id: str, household_id: str, values: dict, tampered: bool) -> dict:
    out = {k: values.get(k) for k in ("number", "signed_on", "mode", "amends", "reason",
                                       "created_at", "created_by")}
    out.update(id=agreement_id, household_id=household_id, tampered=tampered,
               total=Decimal(str(values["total"])).quantize(Decimal("0.01")),
               breakdown=Breakdown.from_json(values["breakdown"]))
    return out


def all_agreements(reg: Registry) -> list[dict]:
    """Every agreement of the registry, frozen values, oldest signing first."""
    if not supported(reg):
        return []
    # Each agreement's changes counted through the change_record index (a few rows each), not
    # a GROUP BY over the whole change log.
    cur = reg.conn.execute("SELECT id, household_id, number, signed_on, mode, breakdown, total, "
                           "amends, reason, created_at, created_by, (SELECT count(*) FROM change "
                           "WHERE record_id = agreement.id AND record_type = 'agreement') "
                           "FROM agreement WHERE deleted IS NULL")
    cols = [d[0] for d in cur.description][:-1]
    out = []
    for *row, changes in cur.fetchall():
        values = dict(zip(cols, row))
        tampered = (changes or 1) > 1
        if tampered:  # never trust the folded row of an agreement someone tried to change
            values, _ = _frozen(reg, values["id"])
        out.append(_shape(row[0], row[1], values, tampered))
    return _mark(out, set_aside_ids(reg))


def light_agreements(reg: Registry) -> list[dict]:
    """Every agreement marked like `all_agreements`, without decoding breakdowns: id,
    household_id, number, signed_on, mode, amends, total, area, structure (for the checks over
    a whole project). An agreement someone tried to change is read from its first change."""
    if not supported(reg):
        return []
    counts = dict(reg.conn.execute("SELECT record_id, count(*) FROM change WHERE "
                                   "record_type = 'agreement' GROUP BY record_id HAVING "
                                   "count(*) > 1"))
    cur = reg.conn.execute(
        "SELECT id, household_id, number, signed_on, mode, amends, total, created_at, "
        "json_extract(breakdown, '$.area'), json_extract(breakdown, '$.house.structure') "
        "FROM agreement WHERE deleted IS NULL")
    out = []
    for aid, hid, number, on, mode, amends, total, created, area, structure in cur:
        if aid in counts:
            values, _ = _frozen(reg, aid)
            number, on, mode, amends, total = (values.get(k) for k in
                                               ("number", "signed_on", "mode", "amends", "total"))
            b = Breakdown.from_json(values["breakdown"])
            area, structure = b.area, b.house.get("structure")
        out.append({"id": aid, "household_id": hid, "number": number, "signed_on": on,
                    "mode": mode, "amends": amends, "created_at": created,
                    "total": Decimal(str(total)).quantize(Decimal("0.01")),
                    "area": None if area is None else Decimal(str(area)),
                    "structure": structure})
    return _mark(out, set_aside_ids(reg))


def agreements_of(reg: Registry, household_id: str) -> list[dict]:
    """One household's agreements, oldest first, each marked in force, amended, disputed or
    set aside."""
    if not supported(reg):
        return []
    out = []
    for row in reg.children("agreement", household_id, deleted=True):
        values, tampered = _frozen(reg, row["id"])
        out.append(_shape(row["id"], household_id, values, tampered))
    return _mark(out, set_aside_ids(reg, household_id))


def _mark(agreements: list[dict], set_aside: dict[str, str] | None = None) -> list[dict]:
    """Mark each agreement: in force, amended (by which numbers), disputed (one of two or more
    that no other amends: a double agreement) or set aside (by a supervisor's settlement);
    sort by signing."""
    set_aside = set_aside or {}
    by_amended: dict[str, list[str]] = {}
    for a in agreements:
        if a["amends"]:
            by_amended.setdefault(a["amends"], []).append(a["number"])
    heads: dict[str, list[dict]] = {}
    for a in agreements:
        a["amended_by"] = "、".join(sorted(by_amended[a["id"]])) if a["id"] in by_amended \
            else None
        a["set_aside"] = set_aside.get(a["id"])
        a["disputed"] = False
        a["in_force"] = a["id"] not in by_amended and not a["set_aside"]
        if a["in_force"]:
            heads.setdefault(a["household_id"], []).append(a)
    for candidates in heads.values():
        if len(candidates) > 1:
            for a in candidates:
                a["in_force"], a["disputed"] = False, True
    agreements.sort(key=lambda a: (a["signed_on"], a["created_at"] or "", a["id"]))
    return agreements


def dispute_key(household_id: str, agreement_ids) -> str:
    """The key of the double-agreement flag over these agreements of a household: the same
    formula as every flag key of registry/review/checks.py (kind and sorted record ids)."""
    ids = sorted({household_id, *agreement_ids})
    return hashlib.sha256("\n".join([DOUBLE, *ids]).encode()).hexdigest()[:24]


def set_aside_ids(reg: Registry, household_id: str | None = None) -> dict[str, str]:
    """{agreement id: id of the agreement kept instead} from the supervisors' settlements."""
    rtype = reg.definition.records.get("decision")
    if rtype is None or not rtype.has("set_aside"):
        return {}
    sql = ("SELECT kept, set_aside FROM decision WHERE deleted IS NULL AND kind = ? "
           "AND decision = 'confirmed' AND kept IS NOT NULL")
    args: list = [DOUBLE]
    if household_id:
        sql += " AND household = ?"
        args.append(household_id)
    out = {}
    for kept, aside in reg.conn.execute(sql, args):
        for aid in (aside or "").split(","):
            if aid.strip() and aid.strip() != kept:
                out[aid.strip()] = kept
    return out


def disputes(reg: Registry) -> dict[str, list[dict]]:
    """Households with a double agreement: {household_id: the agreements in dispute}."""
    out: dict[str, list[dict]] = {}
    for a in light_agreements(reg):
        if a["disputed"]:
            out.setdefault(a["household_id"], []).append(a)
    return out


def settle(reg: Registry, household_id: str, keep: str, reason: str, *, by: str) -> str:
    """A supervisor settles a double agreement: `keep` stays in force, the other agreements in
    dispute are set aside (still shown, never in force). Recorded as a `decision` on the
    double-agreement flag, so it syncs and closes the flag in the review queue."""
    rtype = reg.definition.records.get("decision")
    if rtype is None or not rtype.has("set_aside"):
        raise AgreementError("此登记库的调查表不能记录双重协议的核定,请用新版调查表")
    reason = (reason or "").strip()
    if not reason:
        raise AgreementError("核定双重协议须写明理由")
    candidates = [a for a in agreements_of(reg, household_id) if a["disputed"]]
    if keep not in {a["id"] for a in candidates}:
        raise AgreementError("所选协议不是这户待核定的协议之一")
    key = dispute_key(household_id, [a["id"] for a in candidates])
    decision_id = str(uuid.uuid5(DECISION_NS, key))
    values = {"flag_key": key, "kind": DOUBLE, "decision": "confirmed", "reason": reason,
              "household": household_id, "kept": keep,
              "set_aside": ",".join(sorted(a["id"] for a in candidates if a["id"] != keep))}
    return reg.save("decision", decision_id, values, by=by, note=reason)


def agreements_in_force(reg: Registry) -> dict[str, dict]:
    """The agreement in force of each signed household: {household_id: agreement}; a household
    with a double agreement has none until a supervisor settles it."""
    return {a["household_id"]: a for a in all_agreements(reg) if a["in_force"]}


def propose_number(reg: Registry, household: dict, amends: dict | None = None,
                   count: int = 0) -> str:
    """A proposed agreement number that another device cannot also propose: house number,
    year and this device's name (numbers are unique project-wide; a clash is flagged)."""
    year = dt.date.today().year
    device = reg.meta("device_name") or reg.device_id[:8]
    if amends is not None:
        return f"{amends['number']}-B{count}"[:40]
    return f"{household.get('house_no') or ''}-{year}-{device}"[:40]


def public_rows(reg) -> dict[str, dict]:
    """Compensation of each SIGNED household for the public database: {household_id: columns}.

    Only agreed figures are published (the agreement in force, frozen at signing): an estimate
    changes with the signing date and the rules, and a published number nobody agreed to would
    invite disputes. A household with a double agreement is published as under review, with no
    amount. No amount is negative: each says who pays whom. Columns: agreement_status,
    agreement_no, signed_on, compensation_mode (货币补偿|产权调换), compensation_total (the
    settlement amount) and settlement (its direction, in words), recognised_area, house_value,
    price_difference (swap: flat against house) and difference_direction (in words). Amounts are
    floats of exact two-decimal values.
    """
    from anju.registry.compensation.amounts import settlement_words
    rows = {}
    everything = all_agreements(reg)
    for agreement in everything:
        household_id = agreement["household_id"]
        if agreement["disputed"]:
            rows[household_id] = {
                "agreement_status": DISPUTED_LABEL, "agreement_no": None, "signed_on": None,
                "compensation_mode": None, "compensation_total": None,
                "settlement": None, "recognised_area": None, "house_value": None,
                "price_difference": None, "difference_direction": None}
            continue
        if not agreement["in_force"]:
            continue
        b = agreement["breakdown"]
        value = next((i.amount for i in b.items if i.key == "house_value"), None)
        rows[household_id] = {
            "agreement_status": "有效",
            "agreement_no": agreement["number"], "signed_on": agreement["signed_on"],
            "compensation_mode": MODE_LABELS[agreement["mode"]][0],
            "compensation_total": float(abs(agreement["total"])),
            "settlement": settlement_words(b),
            "recognised_area": None if b.area is None else float(b.area),
            "house_value": None if value is None else float(value),
            "price_difference": None if b.difference is None else float(abs(b.difference)),
            "difference_direction": b.difference_text or None,
        }
    return rows


DISPUTED_LABEL = "双重协议待核定"


def public_columns() -> dict[str, dict]:
    """Labels and kinds of the columns `public_rows` gives, for the public site."""
    return {
        "agreement_status": {"zh": "协议状态", "en": "Agreement status", "kind": "text"},
        "agreement_no": {"zh": "协议编号", "en": "Agreement no.", "kind": "text"},
        "signed_on": {"zh": "签约日期", "en": "Signed on", "kind": "date"},
        "compensation_mode": {"zh": "补偿方式", "en": "Compensation mode", "kind": "text"},
        "compensation_total": {"zh": "结算金额(元)", "en": "Settlement (yuan)", "kind": "money"},
        "settlement": {"zh": "结算(谁付谁)", "en": "Settlement (who pays whom)", "kind": "text"},
        "recognised_area": {"zh": "认定面积(㎡)", "en": "Recognised area (m²)", "kind": "area"},
        "house_value": {"zh": "房屋价值补偿(元)", "en": "House value (yuan)", "kind": "money"},
        "price_difference": {"zh": "产权调换差价(元)", "en": "Swap price difference (yuan)",
                             "kind": "money"},
        "difference_direction": {"zh": "差价结算", "en": "Difference (who pays)",
                                 "kind": "text"},
    }
