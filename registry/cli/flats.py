"""Resettlement flats and selection on the central registry: `anju flats DB import FILE.xlsx`,
`anju flats DB list`, `anju selection DB order --rule signing|lottery [--seed S]` and
`anju selection DB show` (registry/completion/flats.py, selection.py).

Its commands register on the `anju` group when registry/cli/__init__.py imports this module.
"""

from __future__ import annotations

from pathlib import Path

import click
from anju.registry.cli.base import Abort, main, open_registry


def _central(reg) -> None:
    if reg.meta("role") != "central":
        raise Abort("flat selection happens on the central registry only (选房只在中心库进行)")


@main.group("flats")
@click.argument("db", type=click.Path(dir_okay=False))
@click.pass_context
def flats_cmd(ctx: click.Context, db: str) -> None:
    """The flat inventory of DB: anju flats DB import FILE.xlsx | list."""
    ctx.obj = db


@flats_cmd.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--by", default="admin", show_default=True, help="Who imports (recorded).")
@click.pass_obj
def flats_import(db: str, file: str, by: str) -> None:
    """Import the builder's XLSX flat list: checked whole; any problem and nothing is written."""
    from anju.registry.completion import flats as fl
    path = Path(file)
    if not path.is_file():
        raise Abort(f"{file}: no such file")
    data = path.read_bytes()[: fl.MAX_BYTES + 1]
    with open_registry(db) as reg:
        _central(reg)
        try:
            counts = fl.import_xlsx(reg, data, by=by)
        except fl.FlatError as exc:
            raise Abort(f"{file}: {exc}") from None
    click.echo(f"{file}: {counts['added']} added, {counts['updated']} changed, "
               f"{counts['unchanged']} unchanged")


@flats_cmd.command("list")
@click.pass_obj
def flats_list(db: str) -> None:
    """Every flat: label, floor, area, type, unit price, price, and who chose it."""
    from anju.registry.completion import flats as fl
    from anju.registry.completion import selection as sel
    with open_registry(db) as reg:
        chosen = {c["flat"]: c["household_id"] for c in sel.choices(reg).values()}
        houses = dict(reg.conn.execute("SELECT id, house_no FROM household"))
        for f in fl.all_flats(reg):
            who = houses.get(chosen.get(f["id"]), "") if f["id"] in chosen else \
                ("withheld" if f["withheld"] else "free")
            click.echo(f"{f['label']}\t{f['floor']}\t{f['area']}\t{f['flat_type']}\t"
                       f"{f['unit_price']}\t{f['price']}\t{who}")


@main.group("selection")
@click.argument("db", type=click.Path(dir_okay=False))
@click.pass_context
def selection_cmd(ctx: click.Context, db: str) -> None:
    """Selection orders of DB: anju selection DB order --rule ... | show."""
    ctx.obj = db


@selection_cmd.command("order")
@click.option("--rule", type=click.Choice(["signing", "lottery"]), required=True)
@click.option("--seed", help="The lottery seed drawn in public (for --rule lottery).")
@click.option("--witness", help="The notary or witness.")
@click.option("--by", default="admin", show_default=True, help="Who fixes the order.")
@click.pass_obj
def selection_order(db: str, rule: str, seed: str | None, witness: str | None, by: str) -> None:
    """Fix the order of the next batch from the swap households not yet in one."""
    from anju.registry.completion import selection as sel
    with open_registry(db) as reg:
        _central(reg)
        try:
            oid = sel.fix_order(reg, rule=rule, seed=seed, witness=witness, by=by)
        except sel.SelectionError as exc:
            raise Abort(str(exc)) from None
        order = sel.get_order(reg, oid)
    click.echo(f"batch {order['batch']}: {len(order['households'])} households, rule {rule}")


@selection_cmd.command("show")
@click.pass_obj
def selection_show(db: str) -> None:
    """Every batch in order: position, house number, lottery key (for a lottery), flat chosen."""
    from anju.registry.completion import flats as fl
    from anju.registry.completion import selection as sel
    with open_registry(db) as reg:
        flats = {f["id"]: f["label"] for f in fl.all_flats(reg)}
        for order in sel.orders(reg):
            click.echo(f"# batch {order['batch']} rule {order['rule']} seed "
                       f"{order.get('seed') or '-'} fixed {order['drawn_at']}")
            for q in sel.queue(reg, order):
                key = sel.lottery_key(order["seed"], q["house_no"] or "") \
                    if order["rule"] == "lottery" else ""
                flat = flats.get(q["choice"]["flat"], "") if q["choice"] else ""
                click.echo(f"{q['position']}\t{q['house_no']}\t{key}\t{flat}")
