"""Central office: `anju check`, `settings`, `report` and `compensation`
(registry/checks.py, settings.py, report.py, compensation.py).

Its commands register on the `anju` group when registry/cli/__init__.py imports this module.
"""

from __future__ import annotations

from pathlib import Path

import click
from anju.registry.cli.base import Abort, main, open_registry


@main.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--kind", help="Print only flags of this kind.")
def check(db: str, kind: str | None) -> None:
    """Run the duplicate and eligibility checks on DB and print the flags found."""
    from anju.registry.review.checks import KINDS, run_checks
    from anju.registry.review.decisions import decision_id, is_closing
    if kind and kind not in KINDS:
        raise Abort(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    with open_registry(db) as reg:
        flags = run_checks(reg)
        closed = 0
        for flag in flags:
            if is_closing(reg.get("decision", decision_id(flag.key))):
                closed += 1
                continue
            if not kind or flag.kind == kind:
                click.echo(f"{flag.key}  {flag.kind:<16} {flag.reason_en}")
    counts = {k: sum(f.kind == k for f in flags) for k in KINDS}
    click.echo(f"{len(flags)} flags ({closed} closed by a decision): "
               + ", ".join(f"{n} {k}" for k, n in counts.items() if n), err=True)


@main.group("settings", invoke_without_command=True)
@click.argument("db", type=click.Path(dir_okay=False))
@click.pass_context
def settings_cmd(ctx: click.Context, db: str) -> None:
    """Show or change DB's project settings: anju settings DB show|set|zone|team|assign."""
    ctx.obj = db
    if ctx.invoked_subcommand is None:
        ctx.invoke(settings_show)


def _settings_call(db: str, fn, *args, **kwargs):
    """Open DB, apply one settings change, turn invalid input into one line."""
    from anju.registry.core.settings import SettingsError, error_lines
    with open_registry(db) as reg:
        try:
            return fn(reg, *args, **kwargs)
        except SettingsError as exc:
            raise Abort("; ".join(error_lines(exc.errors, "en"))) from None


@settings_cmd.command("show")
@click.pass_obj
def settings_show(db: str) -> None:
    """Print the settings as JSON."""
    import json

    from anju.registry.core.settings import load
    data = _settings_call(db, load)
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True))


@settings_cmd.command("set")
@click.argument("key")
@click.argument("value")
@click.pass_obj
def settings_set(db: str, key: str, value: str) -> None:
    """Set freeze_date, signing_start, survey_start (YYYY-MM-DD), area_tolerance (0.05) or
    export_warn_hours (hours before laptops warn about unexported work)."""
    from anju.registry.core.settings import set_value
    _settings_call(db, set_value, key, value)
    click.echo(f"{key} = {value}")


@settings_cmd.group("zone")
def settings_zone() -> None:
    """Add or remove zones."""


@settings_zone.command("add")
@click.argument("name")
@click.option("--target", type=int, required=True, help="Households to sign by the deadline.")
@click.option("--deadline", help="YYYY-MM-DD")
@click.option("--code", help="Short code used in house numbers.")
@click.pass_obj
def settings_zone_add(db: str, name: str, target: int, deadline: str | None,
                      code: str | None) -> None:
    """Add zone NAME with a target and a deadline."""
    from anju.registry.core.settings import add_zone
    _settings_call(db, add_zone, name, target, deadline, code)
    click.echo(f"added zone {name}")


@settings_zone.command("remove")
@click.argument("name")
@click.pass_obj
def settings_zone_remove(db: str, name: str) -> None:
    """Remove zone NAME."""
    from anju.registry.core.settings import remove_zone
    _settings_call(db, remove_zone, name)
    click.echo(f"removed zone {name}")


@settings_cmd.command("team")
@click.argument("name")
@click.argument("cadres", nargs=-1)
@click.pass_obj
def settings_team(db: str, name: str, cadres: tuple[str, ...]) -> None:
    """Add team NAME (or replace its cadres) with CADRES."""
    from anju.registry.core.settings import set_team
    _settings_call(db, set_team, name, list(cadres))
    click.echo(f"team {name}: {', '.join(cadres) or 'no cadres'}")


@settings_cmd.command("assign")
@click.argument("cadre")
@click.argument("house_nos", nargs=-1, required=True)
@click.option("--by", default="admin", show_default=True, help="User recorded on the changes.")
@click.pass_obj
def settings_assign(db: str, cadre: str, house_nos: tuple[str, ...], by: str) -> None:
    """Make CADRE responsible for the households HOUSE_NOS (包户)."""
    from anju.registry.core.settings import assign
    n = _settings_call(db, assign, cadre, list(house_nos), by=by)
    click.echo(f"{n} households assigned to {cadre}")


@main.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), help="Write the XLSX report here.")
def report(db: str, out: str | None) -> None:
    """Print the daily report (日报) summary; with --out also write it as XLSX."""
    from anju.registry.review.report import text_summary, write_xlsx
    with open_registry(db) as reg:
        if out:
            try:
                write_xlsx(reg, out)
            except OSError as exc:
                raise Abort(f"{out}: cannot write ({exc.strerror})") from None
        click.echo(text_summary(reg))
    if out:
        click.echo(f"wrote {out}", err=True)


@main.group("compensation")
@click.argument("db", type=click.Path(dir_okay=False))
@click.pass_context
def compensation_cmd(ctx: click.Context, db: str) -> None:
    """Compensation rules and breakdowns: anju compensation DB show|set FILE|calc HOUSE_NO."""
    ctx.obj = db


@compensation_cmd.command("show")
@click.pass_obj
def compensation_show(db: str) -> None:
    """Print the project's compensation rules (YAML)."""
    from anju.registry.compensation.calculation import RulesError, rules_are_stored, rules_of
    with open_registry(db) as reg:
        try:
            rules = rules_of(reg)
        except RulesError as exc:
            raise Abort(f"stored compensation rules are invalid: {exc}") from None
        if not rules_are_stored(reg):
            click.echo("# no rules stored yet: the example schema/compensation.yaml is in use",
                       err=True)
        click.echo(rules.text, nl=not rules.text.endswith("\n"))


@compensation_cmd.command("set")
@click.argument("file", type=click.Path(dir_okay=False))
@click.pass_obj
def compensation_set(db: str, file: str) -> None:
    """Check the rules in FILE and store them as the project's rules."""
    from anju.registry.compensation.calculation import RulesError, set_rules
    from anju.registry.compensation.rules import rule_warnings, warning_text
    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Abort(f"{file}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    with open_registry(db) as reg:
        try:
            rules = set_rules(reg, text)
        except RulesError as exc:
            raise Abort(f"{file}: {exc}") from None
        click.echo(f"stored compensation rules {rules.name} (version {rules.version}"
                   + (f", effective from {rules.data['effective_from']}"
                      if rules.data.get("effective_from") else "") + ")")
        warnings = rule_warnings(rules, reg.definition, reg.settings)
        for key, text in warning_text(warnings, "en"):
            click.echo(f"warning: {key}: {text}", err=True)


def _echo_after_handover(reg, agreement: dict) -> None:
    """The lines an agreement's handover settled (reward, recounted temporary fee)."""
    from anju.registry.compensation.calculation import money
    from anju.registry.completion.rewards import after_handover
    after = after_handover(reg, agreement)
    if after.problem:
        click.echo(f"  交房后核定: {after.problem}")
    for line in after.lines:
        click.echo(f"  交房后核定 {line.label}: {money(line.amount)} 元")
        click.echo(f"      依据: {line.basis}")
    if after.lines:
        click.echo(f"  协议合计 + 交房后核定: {money(after.signed_total)} + "
                   f"{money(after.total)} = {money(after.settled_total)} 元")


@compensation_cmd.command("calc")
@click.argument("house_no")
@click.option("--mode", type=click.Choice(["money", "swap", "both"]), default="both",
              show_default=True)
@click.option("--on", "on", help="Signing date YYYY-MM-DD (default: today).")
@click.option("--flat", help="Resettlement flat code for a swap (default: nearest the wish).")
@click.option("--transition-flat", is_flag=True, help="The household lives in a transition flat.")
@click.pass_obj
def compensation_calc(db: str, house_no: str, mode: str, on: str | None, flat: str | None,
                      transition_flat: bool) -> None:
    """Print the breakdown of household HOUSE_NO (its agreement, if signed, comes first)."""
    import datetime as dt

    from anju.registry.compensation.agreements import agreements_of
    from anju.registry.compensation.calculation import RulesError, breakdown_for, breakdown_text
    try:
        day = dt.date.fromisoformat(on) if on else dt.date.today()
    except ValueError:
        raise Abort(f"--on {on}: not a date YYYY-MM-DD") from None
    with open_registry(db) as reg:
        rows = reg.conn.execute("SELECT id, zone FROM household WHERE house_no = ? AND "
                                "deleted IS NULL ORDER BY zone, id", (house_no,)).fetchall()
        if not rows:
            raise Abort(f"no household with house number {house_no}")
        if len(rows) > 1:  # house numbers are unique in a project; never pick one silently
            raise Abort(f"house number {house_no} is used by {len(rows)} households (zones "
                        f"{', '.join(str(z) for _, z in rows)}); `anju check` flags it for review")
        row = rows[0]
        for agreement in agreements_of(reg, row[0]):
            state = ("in force" if agreement["in_force"] else
                     "DOUBLE AGREEMENT, not in force until a supervisor keeps one"
                     if agreement["disputed"] else
                     "set aside by a supervisor" if agreement["set_aside"] else
                     f"amended by {agreement['amended_by']}")
            click.echo(f"agreement {agreement['number']} signed {agreement['signed_on']} "
                       f"({state}):")
            click.echo(breakdown_text(agreement["breakdown"]))
            if agreement["in_force"]:
                _echo_after_handover(reg, agreement)
        try:
            for m in (("money", "swap") if mode == "both" else (mode,)):
                b = breakdown_for(reg, row[0], m, day, flat=flat if m == "swap" else None,
                                  transition_flat=transition_flat)
                click.echo(breakdown_text(b))
        except RulesError as exc:
            raise Abort(f"stored compensation rules are invalid: {exc}") from None
