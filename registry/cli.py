"""The `anju` command: a thin layer over the registry package.

Errors a person can fix (a bad path, a bad argument) print one plain line and exit with status 2;
a rejected pack exits with 1. The words of each command are a contract (DESIGN.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .store import Registry, StoreError


class Abort(click.ClickException):
    """One clear line on stderr and exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"anju: {self.message}", err=True)


def open_registry(path: str) -> Registry:
    """Open a database for a command, turning failures into one line."""
    try:
        return Registry.open(path)
    except StoreError as exc:
        raise Abort(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="anju")
def main() -> None:
    """anju (安居): offline-first household survey and registry for shantytown renovation."""


@main.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--central", is_flag=True, help="Create the central registry of a project.")
@click.option("--project", help="Project name (with --central).")
@click.option("--enroll", "enroll_file", type=click.Path(dir_okay=False),
              help="A laptop's enrolment file from `anju device enroll`.")
@click.option("--survey", type=click.Path(dir_okay=False, exists=True),
              help="A survey definition other than schema/survey.yaml.")
def init(db: str, central: bool, project: str | None, enroll_file: str | None,
         survey: str | None) -> None:
    """Create a registry (--central --project NAME) or a laptop database (--enroll FILE)."""
    if central == bool(enroll_file):
        raise Abort("give either --central --project NAME or --enroll FILE")
    if central and not (project or "").strip():
        raise Abort("--central needs --project NAME")
    survey_text = None
    if survey:
        from .definition import DefinitionError, load
        try:
            survey_text = load(survey).source
        except DefinitionError as exc:
            raise Abort(str(exc)) from None
    try:
        if central:
            Registry.create(db, project=project.strip(), role="central", device_name="central",
                            survey_text=survey_text).close()
        else:
            from .enrollment import init_laptop
            init_laptop(db, enroll_file)
    except (StoreError, OSError) as exc:
        raise Abort(str(exc)) from None
    click.echo(f"created {db}")


@main.group()
def user() -> None:
    """Manage the accounts of a database."""


@user.command("add")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("name")
@click.option("--role", type=click.Choice(["surveyor", "supervisor", "admin"]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_add(db: str, name: str, role: str, password_stdin: bool) -> None:
    """Add an account NAME with a ROLE; the password is asked for or read from stdin."""
    from .users import add_user
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with open_registry(db) as reg:
        try:
            add_user(reg, name, password, role)
        except StoreError as exc:
            raise Abort(str(exc)) from None
    click.echo(f"added {role} {name}")


@main.command()
@click.argument("db", type=click.Path(dir_okay=False))
def digest(db: str) -> None:
    """Print the order-independent content hash of DB's records."""
    from .digest import digest as compute
    with open_registry(db) as reg:
        click.echo(compute(reg))


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--households", type=click.IntRange(1, 1_000_000), default=2000, show_default=True)
@click.option("--devices", type=click.IntRange(1, 100), default=3, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
def demo(directory: str, households: int, devices: int, seed: int) -> None:
    """Build a realistic synthetic project into DIRECTORY (registry.db and more)."""
    from .demo import build_demo
    target = Path(directory)
    if (target / "registry.db").exists():
        raise Abort(f"{target / 'registry.db'} already exists; choose an empty directory")
    try:
        target.mkdir(parents=True, exist_ok=True)
        probe = target / ".anju-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise Abort(f"{target}: cannot write there ({exc.strerror})") from None
    with click.progressbar(length=households, label="building demo", file=_progress_file()) as bar:
        path = build_demo(target, households=households, devices=devices, seed=seed,
                          progress=bar.update)
    with open_registry(str(path)) as reg:
        counts = {name: reg.conn.execute(f"SELECT count(*) FROM [{name}]").fetchone()[0]
                  for name in reg.definition.records}
    click.echo(f"built {path}: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    from .publish import publish as publish_db
    with open_registry(str(path)) as reg:
        summary = publish_db(reg, target / "public.db")
    click.echo(f"published {target / 'public.db'}: {summary['households']} households")
    click.echo("demo logins: admin / supervisor / surveyor1, password anju-demo")


@main.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
def collect(db: str, host: str, port: int) -> None:
    """Run the web app on DB (the surveyor's collector, or the central office's screens)."""
    from collector import create_app
    open_registry(db).close()
    app = create_app(db)
    click.echo(f"anju web app on http://{host}:{port}/ (Ctrl+C stops it)")
    # threaded, no reloader, no fork: the same server on Windows laptops.
    app.run(host=host, port=port, threaded=True, use_reloader=False, debug=False)


# -- publication: the public database and the Datasette sites (registry/publish.py, serve.py) --
@main.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True,
              help="The public database to write (replaced atomically).")
def publish(db: str, out: str) -> None:
    """Build the privacy-safe public database of DB into OUT."""
    from .publish import PublishError
    from .publish import publish as build
    with open_registry(db) as reg:
        total = reg.conn.execute("SELECT count(*) FROM household").fetchone()[0]
        try:
            with click.progressbar(length=total, label="publishing",
                                   file=_progress_file()) as bar:
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
    from .serve import ServeError, run
    try:
        run(db, host=host, port=port, staff=staff, echo=click.echo)
    except ServeError as exc:
        raise Abort(str(exc)) from None


# -- field deployment: backups and the offline install bundle (registry/backup.py, bundle.py) --
@main.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--to", "folder", type=click.Path(file_okay=False),
              help="Folder for the backup (a USB stick); default: the folder chosen in the app.")
@click.option("--keep", type=click.IntRange(1, 1000), help="Backups of this device to keep.")
def backup(db: str, folder: str | None, keep: int | None) -> None:
    """Write a consistent backup of DB into a folder, keeping the last few."""
    from .backup import BackupError, backup_now, configured_folder
    with open_registry(db) as reg:
        folder = folder or configured_folder(reg)
        if not folder:
            raise Abort("give --to DIR (no backup folder is set for this database)")
        try:
            path = backup_now(reg, folder, reason="manual", keep=keep)
        except BackupError as exc:
            raise Abort(str(exc)) from None
    click.echo(f"backed up {db} to {path}")


@main.command()
@click.argument("backup_file", metavar="BACKUP", type=click.Path(dir_okay=False))
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace an existing DB (it is saved first).")
def restore(backup_file: str, db: str, force: bool) -> None:
    """Put BACKUP in place of DB, after checking that it is a sound anju database."""
    from . import backup as backups
    try:
        saved = backups.restore(backup_file, db, force=force)
    except StoreError as exc:  # BackupError is a StoreError
        raise Abort(str(exc)) from None
    if saved:
        click.echo(f"the replaced database was saved as {saved}")
    click.echo(f"restored {db} from {backup_file}")


@main.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("backup_file", metavar="BACKUP", type=click.Path(dir_okay=False))
def recover(db: str, backup_file: str) -> None:
    """Central registry: merge the work in a lost or broken laptop's BACKUP into DB."""
    from .recover import recover_backup
    with open_registry(db) as reg:
        try:
            result = recover_backup(reg, backup_file)
        except StoreError as exc:
            raise Abort(str(exc)) from None
    click.echo(f"recovered from {backup_file}: {result.line()}")


@main.group()
def survey() -> None:
    """The survey definition of a database: show it, or move the project to a new one."""


@survey.command("show")
@click.argument("db", type=click.Path(dir_okay=False))
def survey_show(db: str) -> None:
    """Print the name, version and fields of DB's survey definition."""
    with open_registry(db) as reg:
        defn = reg.definition
        click.echo(f"{defn.name} version {defn.version} ({defn.hash[:12]})")
        for name, rtype in defn.records.items():
            click.echo(f"  {name}: " + ", ".join(f.name for f in rtype.columns))


@survey.command("adopt")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
def survey_adopt(db: str, file: str) -> None:
    """Move the central registry DB to the definition in FILE (laptops follow by the next
    central pack); refused if it drops or retypes a field holding data."""
    from .definition import DefinitionError, load
    from .merge import adopt_definition
    with open_registry(db) as reg:
        if reg.meta("role") != "central":
            raise Abort("only the central registry adopts a survey definition; a laptop takes "
                        "it from the central pack")
        try:
            new = load(file)
        except DefinitionError as exc:
            raise Abort(str(exc)) from None
        old = reg.definition
        if new.hash == old.hash:
            click.echo("survey definition unchanged")
            return
        if new.version <= old.version:
            raise Abort(f"{file}: version {new.version} is not above the current "
                        f"{old.version}; raise 'version' so that laptops move to it")
        try:
            adopt_definition(reg, new.source)
        except StoreError as exc:
            raise Abort(str(exc)) from None
    before = {(r, f.name) for r, t in old.records.items() for f in t.columns}
    added = [f"{r}.{f}" for r, t in new.records.items() for f in (x.name for x in t.columns)
             if (r, f) not in before]
    click.echo(f"adopted survey definition version {new.version}; added fields: "
               + (", ".join(added) or "none") + "; laptops move to it with the next central pack")


@main.command()
@click.option("--out", "out", type=click.Path(file_okay=False), required=True,
              help="Folder to write the bundle into (created; must be empty).")
@click.option("--platform", "platforms", multiple=True,
              type=click.Choice(["linux", "windows", "macos-x86_64", "macos-arm64"]),
              help="Only these platforms (repeatable); default: all four.")
def bundle(out: str, platforms: tuple[str, ...]) -> None:
    """Write an offline install bundle: wheels of anju and its dependencies, install scripts."""
    from .bundle import BundleError, build_bundle
    try:
        report = build_bundle(Path(out), platforms=platforms or None,
                              log=lambda line: click.echo(line, err=True))
    except BundleError as exc:
        raise Abort(str(exc)) from None
    click.echo(f"bundle written to {out}: {report}")


# -- central office: checks, settings, daily report (registry/checks.py, settings.py, report.py)
@main.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--kind", help="Print only flags of this kind.")
def check(db: str, kind: str | None) -> None:
    """Run the duplicate and eligibility checks on DB and print the flags found."""
    from .checks import KINDS, run_checks
    from .review import decision_id, is_closing
    if kind and kind not in KINDS:
        raise Abort(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    with open_registry(db) as reg:
        flags = run_checks(reg)
        has_decisions = "decision" in reg.definition.records
        closed = 0
        for flag in flags:
            if has_decisions and is_closing(reg.get("decision", decision_id(flag.key))):
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
    from .settings import SettingsError, error_lines
    with open_registry(db) as reg:
        try:
            return fn(reg, *args, **kwargs)
        except SettingsError as exc:
            raise Abort("; ".join(error_lines(exc.errors, "en"))) from None
        except StoreError as exc:
            raise Abort(str(exc)) from None


@settings_cmd.command("show")
@click.pass_obj
def settings_show(db: str) -> None:
    """Print the settings as JSON."""
    import json

    from .settings import load
    data = _settings_call(db, load)
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True))


@settings_cmd.command("set")
@click.argument("key")
@click.argument("value")
@click.pass_obj
def settings_set(db: str, key: str, value: str) -> None:
    """Set freeze_date, signing_start, survey_start (YYYY-MM-DD) or area_tolerance (0.05)."""
    from .settings import set_value
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
    from .settings import add_zone
    _settings_call(db, add_zone, name, target, deadline, code)
    click.echo(f"added zone {name}")


@settings_zone.command("remove")
@click.argument("name")
@click.pass_obj
def settings_zone_remove(db: str, name: str) -> None:
    """Remove zone NAME."""
    from .settings import remove_zone
    _settings_call(db, remove_zone, name)
    click.echo(f"removed zone {name}")


@settings_cmd.command("team")
@click.argument("name")
@click.argument("cadres", nargs=-1)
@click.pass_obj
def settings_team(db: str, name: str, cadres: tuple[str, ...]) -> None:
    """Add team NAME (or replace its cadres) with CADRES."""
    from .settings import set_team
    _settings_call(db, set_team, name, list(cadres))
    click.echo(f"team {name}: {', '.join(cadres) or 'no cadres'}")


@settings_cmd.command("assign")
@click.argument("cadre")
@click.argument("house_nos", nargs=-1, required=True)
@click.option("--by", default="admin", show_default=True, help="User recorded on the changes.")
@click.pass_obj
def settings_assign(db: str, cadre: str, house_nos: tuple[str, ...], by: str) -> None:
    """Make CADRE responsible for the households HOUSE_NOS (包户)."""
    from .settings import assign
    n = _settings_call(db, assign, cadre, list(house_nos), by=by)
    click.echo(f"{n} households assigned to {cadre}")


@main.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), help="Write the XLSX report here.")
def report(db: str, out: str | None) -> None:
    """Print the daily report (日报) summary; with --out also write it as XLSX."""
    from .report import text_summary, write_xlsx
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
    from .compensation import RulesError, rules_are_stored, rules_of
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
    from .compensation import RulesError, missing_zones, set_rules
    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Abort(f"{file}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    with open_registry(db) as reg:
        try:
            rules = set_rules(reg, text)
        except RulesError as exc:
            raise Abort(f"{file}: {exc}") from None
        click.echo(f"stored compensation rules {rules.name} (version {rules.version})")
        for zone in missing_zones(reg, rules):
            click.echo(f"warning: zone {zone} has no unit prices", err=True)


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

    from .agreements import agreements_of
    from .compensation import RulesError, breakdown_for, breakdown_text
    try:
        day = dt.date.fromisoformat(on) if on else dt.date.today()
    except ValueError:
        raise Abort(f"--on {on}: not a date YYYY-MM-DD") from None
    with open_registry(db) as reg:
        row = reg.conn.execute("SELECT id FROM household WHERE house_no = ? AND deleted IS NULL",
                               (house_no,)).fetchone()
        if row is None:
            raise Abort(f"no household with house number {house_no}")
        for agreement in agreements_of(reg, row[0]):
            state = "in force" if agreement["in_force"] else \
                f"amended by {agreement['amended_by']}"
            click.echo(f"agreement {agreement['number']} signed {agreement['signed_on']} "
                       f"({state}):")
            click.echo(breakdown_text(agreement["breakdown"]))
        try:
            for m in (("money", "swap") if mode == "both" else (mode,)):
                b = breakdown_for(reg, row[0], m, day, flat=flat if m == "swap" else None,
                                  transition_flat=transition_flat)
                click.echo(breakdown_text(b))
        except RulesError as exc:
            raise Abort(f"stored compensation rules are invalid: {exc}") from None


# -- devices, packs and merge (registry/enrollment.py, packs.py, merge.py) ---------------------
@main.group()
def device() -> None:
    """Enrol and revoke the laptops of a project (on the central registry)."""


@device.command("enroll")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("name")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Where to write the laptop's enrolment file (a secret: carry it by hand).")
def device_enroll(db: str, name: str, out: str) -> None:
    """Enrol laptop NAME and write its enrolment file for `anju init DB --enroll FILE`."""
    from .enrollment import enroll_device
    with open_registry(db) as reg:
        try:
            enroll_device(reg, name, out)
        except (StoreError, OSError) as exc:
            raise Abort(str(exc)) from None
    click.echo(f"enrolled {name}: {out} (keep it secret; delete it after `anju init`)")


@device.command("revoke")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("name")
def device_revoke(db: str, name: str) -> None:
    """Revoke device NAME: its packs are refused from now on."""
    from .enrollment import revoke_device
    with open_registry(db) as reg:
        try:
            stamp = revoke_device(reg, name)
        except StoreError as exc:
            raise Abort(str(exc)) from None
    click.echo(f"revoked {name} at {stamp}")


@main.command("export")
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The pack to write.")
@click.option("--full", is_flag=True, help="Every change, not only what the receiver lacks.")
def export_cmd(db: str, out: str, full: bool) -> None:
    """Write a pack of DB's changes (encrypted with the project key, signed by this device)."""
    from .packs import PackError, export_pack
    with open_registry(db) as reg:
        try:
            manifest = export_pack(reg, out, full=full)
        except (PackError, StoreError, OSError) as exc:
            raise Abort(str(exc)) from None
    counts = manifest["counts"]
    click.echo(f"wrote {out}: {counts['changes']} changes, {counts['blobs']} files"
               f"{' (full)' if manifest['full'] else ''}")


@main.command("merge")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("packs", nargs=-1, required=True, type=click.Path(dir_okay=False))
def merge_cmd(db: str, packs: tuple[str, ...]) -> None:
    """Merge packs into DB, each in one transaction; exit 1 if any pack was rejected."""
    from .merge import merge_pack, summary
    results = []
    with open_registry(db) as reg:
        total = sum(Path(p).stat().st_size for p in packs if Path(p).is_file())
        with click.progressbar(length=max(total, 1), label="merging",
                               file=_progress_file()) as bar:
            for path in packs:
                start = bar.pos
                results.append(merge_pack(reg, path, progress=bar.update))
                if Path(path).is_file():  # the rest of the file: header, trailer, or unread
                    bar.update(max(Path(path).stat().st_size - (bar.pos - start), 0))
    for r in results:
        click.echo(r.line(), err=not r.ok)
    if len(packs) > 1:
        click.echo(summary(results))
    if not all(r.ok for r in results):
        sys.exit(1)


def _progress_file():
    """Progress bars go to a terminal only; scripts stay quiet."""
    import io
    return sys.stderr if sys.stderr.isatty() else io.StringIO()


if __name__ == "__main__":
    main()
