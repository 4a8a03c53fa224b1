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
def publish(db: str, out: str) -> None:
    """Build the privacy-safe public database of DB into OUT."""
    from anju.registry.publication.publish import PublishError
    from anju.registry.publication.publish import publish as build
    with open_registry(db) as reg:
        total = reg.conn.execute("SELECT count(*) FROM household").fetchone()[0]
        try:
            with click.progressbar(length=total, label="publishing",
                                   file=progress_file()) as bar:
                summary = build(reg, out, progress=bar.update)
        except PublishError as exc:
            raise Abort(str(exc)) from None
    click.echo(f"published {summary['households']} households to {out} in "
               f"{summary['seconds']} s (registry digest {summary['registry_digest'][:16]})")


@main.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--staff", is_flag=True,
              help="Serve a registry to staff behind a login instead of a public database.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8001, show_default=True)
def serve(db: str, staff: bool, host: str, port: int) -> None:
    """Run Datasette on a public database (or, with --staff, on a registry)."""
    from anju.registry.publication.serve import ServeError, run
    try:
        run(db, host=host, port=port, staff=staff, echo=click.echo)
    except ServeError as exc:
        raise Abort(str(exc)) from None


@main.command()
@click.argument("dbs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8001, show_default=True)
def province(dbs: tuple[str, ...], host: str, port: int) -> None:
    """Serve many projects' public databases side by side, with one combined dashboard."""
    from anju.registry.publication.serve import ServeError, run_province
    try:
        run_province(list(dbs), host=host, port=port, echo=click.echo)
    except ServeError as exc:
        raise Abort(str(exc)) from None
