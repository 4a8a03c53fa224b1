"""`anju publish` and `anju serve`: the public database and the Datasette sites
(registry/publish.py, serve.py).

Its commands register on the `anju` group when registry/cli/__init__.py imports this module.
"""

from __future__ import annotations

import click
from anju.registry.cli.base import Abort, main, open_registry, progress_file


@main.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True,
              help="The public database to write (replaced atomically).")
@click.option("--round", "round_kind",
              type=click.Choice(["survey", "plan", "valuation", "compensation", "decision"]),
              help="Open a publication round (公示) of this kind with this publication.")
@click.option("--days", type=click.IntRange(1, 365), default=7, show_default=True,
              help="How many days the round's publication runs (with --round).")
@click.option("--title", default=None, help="The round's title (with --round).")
@click.option("--by", default="admin", show_default=True, help="User recorded on the round.")
def publish(db: str, out: str, round_kind: str | None, days: int, title: str | None,
            by: str) -> None:
    """Build the privacy-safe public database of DB into OUT (and open a round with --round)."""
    from anju.registry.legal.announce import publish_round
    from anju.registry.legal.common import LegalError
    from anju.registry.publication.publish import PublishError
    from anju.registry.publication.publish import publish as build
    with open_registry(db) as reg:
        total = reg.conn.execute("SELECT count(*) FROM household").fetchone()[0]
        try:
            with click.progressbar(length=total, label="publishing",
                                   file=progress_file()) as bar:
                if round_kind:
                    row, summary = publish_round(reg, out, round_kind, days, by=by,
                                                 title=title, progress=bar.update)
                else:
                    row, summary = None, build(reg, out, progress=bar.update)
        except (PublishError, LegalError) as exc:
            raise Abort(str(exc)) from None
    click.echo(f"published {summary['households']} households to {out} in "
               f"{summary['seconds']} s (registry digest {summary['registry_digest'][:16]})")
    if row:
        click.echo(f"round {row['number']} ({row['kind_zh']}): {row['count']} households, "
                   f"{row['start_on']} to {row['end_on']}, {row['moved']} now 已公示, "
                   f"file sha256 {row['public_digest']}")


@main.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--staff", is_flag=True,
              help="Serve a registry to staff behind a login instead of a public database.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8001, show_default=True)
def serve(db: str, staff: bool, host: str, port: int) -> None:
    """Run Datasette on a public database (or, with --staff, on a registry)."""
    from anju.registry.core.failures import check_port
    from anju.registry.publication.serve import run
    check_port(host, port)  # uvicorn would log a traceback and exit 1
    run(db, host=host, port=port, staff=staff, echo=click.echo)


@main.command()
@click.argument("dbs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8001, show_default=True)
def province(dbs: tuple[str, ...], host: str, port: int) -> None:
    """Serve many projects' public databases side by side, with one combined dashboard."""
    from anju.registry.publication.serve import run_province
    run_province(list(dbs), host=host, port=port, echo=click.echo)
