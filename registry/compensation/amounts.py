"""Money as a Chinese notice writes it: the amount to the fen (the one formatter), the amount in
capital numerals (人民币大写), and a settlement always with its direction (who pays whom).

Every page, list, notice, agreement and public column that shows money goes through `yuan`
(figures) and `settlement_words` (direction); `capital` gives the 大写 line of a notice and an
agreement. Rounding is calculation.q: half up to the fen, once.
"""

from __future__ import annotations

from decimal import Decimal

from anju.registry.compensation.calculation import money, q

DIGITS = "零壹贰叁肆伍陆柒捌玖"
SMALL_UNITS = ("", "拾", "佰", "仟")
BIG_UNITS = ("", "万", "亿", "万亿")
PAYS_HOUSEHOLD = "应支付被征收人"
HOUSEHOLD_PAYS = "被征收人应补缴"


def yuan(value) -> str:
    """An amount as printed everywhere: rounded to the fen half up, thousands separated."""
    return money(None if value is None else Decimal(str(value)))


def _group(n: int) -> str:
    """A number 1..9999 in capital numerals, zeros inside written once (壹仟零伍)."""
    digits = f"{n:04d}"
    out, zero = "", False
    for i, d in enumerate(digits):
        unit = SMALL_UNITS[3 - i]
        if d == "0":
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += DIGITS[int(d)] + unit
    return out


def capital(value) -> str:
    """An amount of yuan in capital numerals (人民币大写), e.g. 1409.50 → 壹仟肆佰零玖元伍角,
    107000.53 → 壹拾万柒仟元零伍角叁分, 1380258 → 壹佰叁拾捌万零贰佰伍拾捌元整.

    Rounded to the fen first (half up); a negative amount is prefixed 负; zero is 零元整.
    """
    amount = q(Decimal(str(value)))
    sign = "负" if amount < 0 else ""
    fen_total = int(abs(amount) * 100)
    whole, jiao, fen = fen_total // 100, fen_total // 10 % 10, fen_total % 10
    if whole >= 10 ** 16:
        raise ValueError("amount too large for capital numerals")
    text = ""
    if whole:
        groups = []
        n = whole
        while n:
            groups.append(n % 10000)
            n //= 10000
        parts, need_zero = [], False
        for index in range(len(groups) - 1, -1, -1):
            g = groups[index]
            if g == 0:
                need_zero = bool(parts)
                continue
            if parts and (need_zero or g < 1000):
                parts.append("零")
            parts.append(_group(g) + BIG_UNITS[index])
            need_zero = False
        text = "".join(parts) + "元"
    if not jiao and not fen:
        return sign + (text or "零元") + "整"
    if jiao:
        if text and whole % 10 == 0:
            text += "零"
        text += DIGITS[jiao] + "角"
    if fen:
        if text and not jiao:
            text += "零"
        text += DIGITS[fen] + "分"
    return sign + text


def settlement_words(breakdown) -> str:
    """What a breakdown settles, with its direction: for money the office pays the household the
    total; for a swap the net of all items, either way (应支付被征收人 / 被征收人应补缴)."""
    if breakdown is None or not breakdown.complete:
        return ""
    total = q(breakdown.total)
    if total < 0:
        return f"{HOUSEHOLD_PAYS} {yuan(-total)} 元"
    return f"{PAYS_HOUSEHOLD} {yuan(total)} 元"


def settlement_capital(breakdown) -> str:
    """The settlement's amount (never negative) in capital numerals, with the direction."""
    if breakdown is None or not breakdown.complete:
        return ""
    total = q(breakdown.total)
    who = HOUSEHOLD_PAYS if total < 0 else PAYS_HOUSEHOLD
    return f"{who} 人民币{capital(abs(total))}"
