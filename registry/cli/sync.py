"""Devices, packs and merge: `anju device`, `export` and `merge`
(registry/enrollment.py, packs.py, merge.py).

Its commands register on the `anju` group when registry/cli/__init__.py imports this module.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from anju.registry.cli.base import Abort, describe, main, open_registry, progress_file
from anju.registry.core.store import StoreError


@main.group()
def device() -> None:
    """Enrol and revoke the laptops of a project (on the central registry)."""


@device.command("enroll")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("name")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Where to write the laptop's enrolment file (a secret: carry it by hand).")
@click.option("--capability", "capabilities", multiple=True, metavar="NAME",
              help="What the laptop may write (repeat, or comma-separated; 'all' for every "
                   "one). Default: survey (households, members, visits, attachments, status "
                   "up to surveyed). Others: status, agreements, decisions, resolutions, "
                   "tombstones, completion.")
def device_enroll(db: str, name: str, out: str, capabilities: tuple[str, ...]) -> None:
    """Enrol laptop NAME and write its enrolment file for `anju init DB --enroll FILE`."""
    from anju.registry.sync.authority import FIELD_DEFAULT, parse_capabilities
    from anju.registry.sync.enrollment import enroll_device
    with open_registry(db) as reg:
        try:
            caps = parse_capabilities(capabilities) if capabilities else None
            enroll_device(reg, name, out, capabilities=caps)
        except (StoreError, OSError) as exc:
            raise Abort(str(exc)) from None
    shown = ", ".join(sorted(caps if caps is not None else FIELD_DEFAULT)) or "none"
    click.echo(f"enrolled {name} (may write: {shown}): {out} "
               "(keep it secret; delete it after `anju init`)")


@device.command("grant")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("name")
@click.option("--capability", "capabilities", multiple=True, metavar="NAME", required=True,
              help="The capabilities device NAME holds from now on (replacing the old ones); "
                   "'all' for every one, 'survey' for a field laptop's.")
def device_grant(db: str, name: str, capabilities: tuple[str, ...]) -> None:
    """Set what device NAME may write; its packs are judged by it from now on."""
    from anju.registry.sync.authority import set_capabilities
    with open_registry(db) as reg:
        caps = set_capabilities(reg, name, capabilities)
    click.echo(f"{name} may write: {', '.join(sorted(caps)) or 'nothing'}")


@device.command("revoke")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("name")
def device_revoke(db: str, name: str) -> None:
    """Revoke device NAME: its packs are refused from now on."""
    from anju.registry.sync.enrollment import revoke_device
    with open_registry(db) as reg:
        stamp = revoke_device(reg, name)
    click.echo(f"revoked {name} at {stamp}")


@main.command("export")
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The pack to write.")
@click.option("--full", is_flag=True, help="Every change, not only what the receiver lacks.")
def export_cmd(db: str, out: str, full: bool) -> None:
    """Write a pack of DB's changes (encrypted with the project key, signed by this device)."""
    from anju.registry.sync.packs import PackError, export_pack
    with open_registry(db) as reg:
        try:
            manifest = export_pack(reg, out, full=full)
        except (PackError, StoreError, OSError) as exc:
            raise Abort(describe(exc)) from None
    counts = manifest["counts"]
    click.echo(f"wrote {out}: {counts['changes']} changes, {counts['blobs']} files"
               f"{' (full)' if manifest['full'] else ''}")


@main.command("merge")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("packs", nargs=-1, required=True, type=click.Path(dir_okay=False))
def merge_cmd(db: str, packs: tuple[str, ...]) -> None:
    """Merge packs into DB, each in one transaction; exit 1 if any pack was rejected."""
    from anju.registry.sync.merge import merge_packs, summary
    with open_registry(db) as reg:
        total = sum(Path(p).stat().st_size for p in packs if Path(p).is_file())
        with click.progressbar(length=max(total, 1), label="merging",
                               file=progress_file()) as bar:
            start = [0]

            def done(path, result) -> None:
                if Path(path).is_file():  # the rest of the file: header, trailer, or unread
                    bar.update(max(Path(path).stat().st_size - (bar.pos - start[0]), 0))
                start[0] = bar.pos

            results = merge_packs(reg, packs, progress=bar.update, done=done)
    for r in results:
        click.echo(r.line(), err=not r.ok)
    if len(packs) > 1:
        click.echo(summary(results))
    if not all(r.ok for r in results):
        sys.exit(1)
