"""Field deployment: `anju backup`, `restore`, `recover` and the offline install `bundle`
(registry/backup.py, recover.py, bundle.py).

Its commands register on the `anju` group when registry/cli/__init__.py imports this module.
"""

from __future__ import annotations

from pathlib import Path

import click
from anju.registry.cli.base import Abort, main, open_registry, unlock


@main.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--to", "folder", type=click.Path(file_okay=False),
              help="Folder for the backup (a USB stick); default: the folder chosen in the app.")
@click.option("--keep", type=click.IntRange(1, 1000), help="Backups of this device to keep.")
def backup(db: str, folder: str | None, keep: int | None) -> None:
    """Write a consistent backup of DB into a folder, keeping the last few."""
    from anju.registry.field.backup import backup_now, configured_folder
    with open_registry(db) as reg:
        folder = folder or configured_folder(reg)
        if not folder:
            raise Abort("give --to DIR (no backup folder is set for this database)")
        path = backup_now(reg, folder, reason="manual", keep=keep)
    click.echo(f"backed up {db} to {path}")


@main.command()
@click.argument("backup_file", metavar="BACKUP", type=click.Path(dir_okay=False))
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace an existing DB (it is saved first).")
def restore(backup_file: str, db: str, force: bool) -> None:
    """Put BACKUP in place of DB, after checking that it is a sound anju database."""
    from anju.registry.core.store import Registry
    from anju.registry.field import backup as backups
    from anju.registry.field import generation
    unlock(backup_file)
    if Path(db).is_file():
        unlock(db)  # the database replaced is saved as a backup first
    saved = backups.restore(backup_file, db, force=force)  # a BackupError is a StoreError
    if saved:
        click.echo(f"the replaced database was saved as {saved}")
    click.echo(f"restored {db} from {backup_file}")
    with Registry.open(db) as reg:
        info = generation.last_restore(reg)
    for line in generation.describe(info) if info else ():
        click.echo(line)


@main.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("backup_file", metavar="BACKUP", type=click.Path(dir_okay=False))
@click.option("--by", "by", default=None,
              help="Who attests a revoked laptop's recovered changes (default: your login).")
def recover(db: str, backup_file: str, by: str | None) -> None:
    """Central registry: merge the work in a lost or broken laptop's BACKUP into DB.

    Changes of a revoked laptop are accepted only this way, recorded as attested by --by."""
    import getpass

    from anju.registry.sync.recover import recover_backup
    by = (by or "").strip() or getpass.getuser()
    unlock(backup_file)  # an encrypted laptop's backup: one of its users' passwords
    with open_registry(db) as reg:
        result = recover_backup(reg, backup_file, attested_by=by[:80])
    click.echo(f"recovered from {backup_file}: {result.line()}")


@main.command()
@click.option("--out", "out", type=click.Path(file_okay=False), required=True,
              help="Folder to write the bundle into (created; must be empty).")
@click.option("--platform", "platforms", multiple=True,
              type=click.Choice(["linux", "windows", "macos-x86_64", "macos-arm64"]),
              help="Only these platforms (repeatable); default: all four.")
def bundle(out: str, platforms: tuple[str, ...]) -> None:
    """Write an offline install bundle: wheels of anju and its dependencies, install scripts."""
    from anju.registry.field.bundle import build_bundle
    report = build_bundle(Path(out), platforms=platforms or None,
                          log=lambda line: click.echo(line, err=True))
    click.echo(f"bundle written to {out}: {report}")
