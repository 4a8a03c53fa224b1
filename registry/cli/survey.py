"""`anju survey import` and `anju survey export`: the survey definition to and from an XLSForm
(registry/core/xlsform.py), so a questionnaire from ODK or KoboToolbox need not be retyped and
the office can review anju's survey in Excel.

Its commands register on the `survey` group of base when registry/cli/__init__.py imports it.
"""

from __future__ import annotations

from pathlib import Path

import click
from anju.registry.cli.base import Abort, survey


def _target(out: str, force: bool) -> Path:
    path = Path(out)
    if path.exists() and not force:
        raise Abort(f"{path}: already exists; not overwriting it (--force replaces it)")
    if not path.parent.is_dir():
        raise Abort(f"{path.parent}: no such directory")
    return path


@survey.command("import")
@click.argument("form", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The survey definition (YAML) to write.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def survey_import(form: str, out: str, force: bool) -> None:
    """Read the XLSForm FORM (.xlsx) into an anju survey definition; every row anju cannot take
    is listed, and nothing is written if any row is refused."""
    from anju.registry.core.xlsform import XLSFormError, import_xlsform, write_atomically
    target = _target(out, force)
    try:
        result = import_xlsform(form)
    except XLSFormError as exc:
        for finding in exc.findings:
            click.echo(finding.line(), err=True)
        refused = sum(f.refused for f in exc.findings)
        raise Abort(f"{form}: {refused} row(s) refused; nothing written" if refused
                    else f"{form}: {exc}") from None
    for finding in result.findings:
        click.echo(finding.line(), err=True)
    try:
        write_atomically(target, result.text.encode("utf-8"))
    except OSError as exc:
        raise Abort(f"{target}: cannot write ({exc.strerror})") from None
    counts = ", ".join(f"{name} {len(r.columns)}" for name, r in
                       result.definition.records.items())
    click.echo(f"wrote {target}: {result.definition.name} version {result.definition.version} "
               f"({counts} fields)")


@survey.command("export")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The XLSForm workbook (.xlsx) to write.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def survey_export(file: str, out: str, force: bool) -> None:
    """Write the survey definition FILE (YAML) as an XLSForm workbook OUT for Excel, ODK or
    KoboToolbox; refused if the workbook would not read back as the same survey."""
    from anju.registry.core.definition import load
    from anju.registry.core.xlsform import export_bytes, write_atomically
    target = _target(out, force)
    if target.suffix.lower() != ".xlsx":
        raise Abort(f"{target}: the XLSForm is written as .xlsx")
    data = export_bytes(load(file))
    try:
        write_atomically(target, data)
    except OSError as exc:
        raise Abort(f"{target}: cannot write ({exc.strerror})") from None
    click.echo(f"wrote {target}")
