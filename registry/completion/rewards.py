"""What the handover settles after signing: the on-time handover reward (按期交房奖励) and the
temporary resettlement fee counted from the handover date (过渡费按交房日期核定).

An agreement's breakdown is frozen at signing and never changes: its total is what was signed.
Before the handover the reward is a conditional line of that breakdown ("按期交房可得", never in
the total). Once the handover record is dated, `after_handover` computes, from the agreement's
frozen rules version (looked up by version label and hash) and the recorded date, separate
lines: the reward earned (or 0 when late) and the change of the temporary fee when the transition
months counted from the handover differ from those assumed at signing. They are derived, not
stored: the same agreement, rules version and handover date always give the same lines, so an
auditor recomputes them; what is due is the signed total plus these lines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from anju.registry.compensation.calculation import (
    Breakdown,
    Item,
    handover_reward_item,
    money,
    temporary_item,
)
from anju.registry.compensation.rules import rules_version
from anju.registry.completion.handover import handover_id
from anju.registry.core.store import Registry


@dataclass
class AfterHandover:
    """The lines an agreement gains from its handover, and the amount then due in all."""

    agreement_id: str
    handover_on: str | None
    lines: list[Item] = field(default_factory=list)
    conditional: list[Item] = field(default_factory=list)
    problem: str | None = None
    signed_total: Decimal = Decimal("0.00")

    @property
    def total(self) -> Decimal:
        """The lines' sum (yuan, fen): added to the signed total."""
        return sum((i.amount for i in self.lines), Decimal("0.00"))

    @property
    def settled_total(self) -> Decimal:
        """The signed total with the handover's lines (negative: the household pays)."""
        return self.signed_total + self.total


def months_key(b: Breakdown) -> str:
    """Which of the rules' transition months a frozen breakdown used."""
    if b.mode != "swap":
        return "money"
    flats = b.flats or ([b.flat] if b.flat else [])
    return "swap_ready" if all(f.get("ready", True) for f in flats) else "swap_future"


def _delivery(b: Breakdown) -> dt.date | None:
    flats = b.flats or ([b.flat] if b.flat else [])
    days = [dt.date.fromisoformat(str(f["delivery_on"])) for f in flats
            if not f.get("ready", True) and f.get("delivery_on")]
    return max(days) if days else None


def after_handover(reg: Registry, agreement: dict, handover: dict | None | bool = True,
                   ) -> AfterHandover:
    """The handover's lines for one agreement (`handover`: the household's handover record, or
    True to read it). Nothing when the agreement's rules version cannot be found (`problem`
    says so) or the rules have neither a reward nor a temporary fee to recount."""
    b: Breakdown = agreement["breakdown"]
    if handover is True:
        row = reg.get("handover", handover_id(agreement["household_id"])) \
            if "handover" in reg.definition.records else None
        handover = None if row is None or row.get("deleted") else row
    handed = handover.get("handed_over_on") if handover else None
    out = AfterHandover(agreement["id"], handed, signed_total=agreement["total"])
    frozen = b.rules or {}
    rules = rules_version(reg, frozen.get("version"), frozen.get("hash")) \
        if frozen.get("version") else None
    if rules is None:
        out.problem = (f"找不到协议所依据的补偿方案版本 {frozen.get('version') or ''},"
                       "无法核定交房奖励与过渡费")
        return out
    handed_day = dt.date.fromisoformat(handed) if handed else None
    reward = rules.data.get("handover_reward")
    if reward is not None:
        line = handover_reward_item(reward, b.on, handed_day)
        (out.lines if handed_day else out.conditional).append(line)
    frozen_temp = next((i for i in b.items if i.key == "temporary"), None)
    if handed_day and frozen_temp is not None and b.area is not None:
        new = temporary_item(rules.data["temporary"], b.area, months_key(b),
                         bool(b.options.get("transition_flat")), handed_day, _delivery(b))
        change = new.amount - frozen_temp.amount
        out.lines.append(Item(
            "temporary_adjustment", "临时安置费调整(按交房日期核定)",
            f"{new.basis};协议已计 {money(frozen_temp.amount)} 元",
            f"按交房日期核定 − 协议已计 = {money(new.amount)} − {money(frozen_temp.amount)}",
            change))
    return out


def handovers(reg: Registry) -> dict[str, dict]:
    """Every household's handover record: {household_id: row} (for whole-project totals)."""
    if "handover" not in reg.definition.records:
        return {}
    cur = reg.conn.execute("SELECT * FROM handover WHERE deleted IS NULL")
    cols = [d[0] for d in cur.description]
    return {row["household_id"]: row for row in (dict(zip(cols, r)) for r in cur)}
