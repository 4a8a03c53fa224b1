"""The `anju` command: a thin layer over the registry package.

Errors a person can fix (a bad path, a bad argument) print one plain line and exit with status 2;
a rejected pack exits with 1. The words of each command are a contract (DESIGN.md).

This module holds the group `main`, the foundation commands and the survey definition; the
other commands live beside it in registry/cli/ (central, field, publish, sync); the package
imports them so that they register on `main`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from anju.registry.core.errors import AnjuError
from anju.registry.core.store import Registry, StoreError


class Abort(click.ClickException):
    """One clear line on stderr and exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        # One line even when a message quotes a parser's multi-line report (YAML, a workbook).
        click.echo(f"anju: {' '.join(str(self.message).split())}", err=True)


def open_registry(path: str) -> Registry:
    """Open a database for a command, turning failures into one line; an encrypted laptop
    database is unlocked first with a user's password (asked for, or `anju --password-stdin`)."""
    unlock(path)
    try:
        return Registry.open(path)
    except StoreError as exc:
        raise Abort(describe(exc)) from None


def unlock(path: str | Path) -> None:
    """Unlock an encrypted database (or backup) for this command, if it is one and still locked:
    the password of `anju --as USER` (any user with a key slot by default), from a prompt or from
    the first line of stdin with `anju --password-stdin`. A wrong one: one line, status 2."""
    from anju.registry.core import atrest
    if not atrest.is_encrypted(path) or atrest.is_unlocked(path):
        return
    ctx = click.get_current_context(silent=True)
    obj = (ctx.find_root().obj if ctx else None) or {}
    user = obj.get("user")
    try:
        if obj.get("backup_key"):  # a central backup: the office's private backup key
            try:
                pem = Path(obj["backup_key"]).read_bytes()
            except OSError as exc:
                raise Abort(f"{obj['backup_key']}: cannot read ({exc.strerror})") from None
            atrest.unlock_with_backup_key(path, pem, _secret(obj, "备份密钥口令 (passphrase)"))
            return
        if user is not None and not atrest.has_slot(path, user):
            raise Abort(f"{path}: {user} 没有本数据库的密钥槽 ({user} has no key slot here: "
                        "log in once in the web app while the database is open)")
        password = _secret(obj, f"{Path(path).name} 已加密，请输入{user or '账户'}的密码 "
                                "(password)", path)
        atrest.unlock(path, password, user)
    except atrest.AtRestError as exc:
        raise Abort(f"{path}: {exc}") from None


def _secret(obj: dict, prompt: str, path: str | Path = "") -> str:
    """The password of this command: read once from stdin (--password-stdin) or asked for."""
    if obj.get("password_stdin"):
        if "password" not in obj:
            obj["password"] = sys.stdin.readline().rstrip("\r\n")
        return obj["password"]
    if sys.stdin.isatty():
        return click.prompt(prompt, hide_input=True, err=True)
    raise Abort(f"{path}: 数据库已加密；请在终端输入密码，或用 anju --password-stdin "
                "(encrypted: type the password on a terminal or use --password-stdin)")


def describe(exc: BaseException) -> str:
    """One line for a failure: what the machine did wrong and what to do (registry.core.failures),
    or the exception's own message."""
    from anju.registry.core.failures import explain
    # Another refusal's message is already written for people (its cause is no machine failure).
    machine = not isinstance(exc, AnjuError) or isinstance(exc, StoreError)
    failure = explain(exc) if machine else None
    if failure:
        return f"{failure.line()} [{exc}]"
    return exc.line() if isinstance(exc, AnjuError) else str(exc)


class Commands(click.Group):
    """The `anju` group, the command line's one error handler: an AnjuError (every refusal
    anju raises for people), a database error or a file-system error a command lets through
    (a locked, full, read-only or damaged database, a full disk, a port in use) becomes one
    plain line and status 2, never a traceback. Commands catch only to add words."""

    def invoke(self, ctx: click.Context):
        import sqlite3
        try:
            return super().invoke(ctx)
        except (AnjuError, sqlite3.Error, OSError) as exc:
            raise Abort(describe(exc)) from None


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="anju")
@click.option("--as", "as_user", metavar="USER",
              help="Whose password unlocks an encrypted laptop database (default: anyone's).")
@click.option("--password-stdin", is_flag=True,
              help="Read that password from the first line of stdin instead of a prompt.")
@click.option("--backup-key", type=click.Path(dir_okay=False), metavar="FILE",
              help="The central office's private backup key (restore or read a central "
                   "backup); its passphrase is asked for or read with --password-stdin.")
@click.pass_context
def main(ctx: click.Context, as_user: str | None, password_stdin: bool,
         backup_key: str | None) -> None:
    """anju (安居): offline-first household survey and registry for shantytown renovation."""
    ctx.obj = {"user": as_user, "password_stdin": password_stdin, "backup_key": backup_key}


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
        from anju.registry.core.definition import load
        survey_text = load(survey).source
    try:
        if central:
            Registry.create(db, project=project.strip(), role="central", device_name="central",
                            survey_text=survey_text).close()
        else:
            from anju.registry.sync.enrollment import init_laptop
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
    from anju.registry.core.users import add_user
    unlock(db)  # with `anju --password-stdin`, the first line unlocks and the second is new
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with open_registry(db) as reg:
        add_user(reg, name, password, role)
    click.echo(f"added {role} {name}")


@user.command("passwd")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
def user_passwd(db: str, name: str, password_stdin: bool) -> None:
    """Give account NAME a new password; its open sessions end at once."""
    from anju.registry.core.users import set_password
    unlock(db)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    with open_registry(db) as reg:
        set_password(reg, name, password)
    click.echo(f"new password for {name}; its sessions ended")


@user.command("disable")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("name")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
def user_disable(db: str, name: str, enable: bool) -> None:
    """Disable account NAME (it can no longer log in; its sessions end at once)."""
    from anju.registry.core.users import set_disabled
    with open_registry(db) as reg:
        set_disabled(reg, name, not enable)
    click.echo(f"enabled {name}" if enable else f"disabled {name}; its sessions ended")


@user.command("role")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("name")
@click.argument("role", type=click.Choice(["surveyor", "supervisor", "admin"]))
def user_role(db: str, name: str, role: str) -> None:
    """Give account NAME another ROLE; its sessions end at once."""
    from anju.registry.core.users import set_role
    with open_registry(db) as reg:
        set_role(reg, name, role)
    click.echo(f"{name} is now {role}; its sessions ended")


@user.command("list")
@click.argument("db", type=click.Path(dir_okay=False))
def user_list(db: str) -> None:
    """List the accounts of DB with their role and state."""
    from anju.registry.core.users import list_users
    with open_registry(db) as reg:
        for u in list_users(reg):
            state = "disabled" if u["disabled"] else f"{u['sessions']} session(s)"
            click.echo(f"{u['name']}\t{u['role']}\t{state}")


@main.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--all", "everything", is_flag=True,
              help="Add a second line over the change set and the open conflicts.")
def digest(db: str, everything: bool) -> None:
    """Print the order-independent content hash of DB's records."""
    from anju.registry.core.digest import digest as compute
    from anju.registry.core.digest import knowledge
    with open_registry(db) as reg:
        click.echo(compute(reg))
        if everything:
            click.echo(knowledge(reg))


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--households", type=click.IntRange(1, 1_000_000), default=2000, show_default=True)
@click.option("--devices", type=click.IntRange(1, 100), default=3, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
def demo(directory: str, households: int, devices: int, seed: int) -> None:
    """Build a realistic synthetic project into DIRECTORY (registry.db and more)."""
    from anju.registry.field.demo import build_demo
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
    with click.progressbar(length=households, label="building demo", file=progress_file()) as bar:
        path = build_demo(target, households=households, devices=devices, seed=seed,
                          progress=bar.update)
    with open_registry(str(path)) as reg:
        counts = {name: reg.conn.execute(f"SELECT count(*) FROM [{name}]").fetchone()[0]
                  for name in reg.definition.records}
    click.echo(f"built {path}: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    from anju.registry.publication.publish import publish as publish_db
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
    from anju.collector import create_app
    from anju.registry.core import atrest
    from anju.registry.core.failures import check_port
    if atrest.is_encrypted(db):  # it opens at the first login, with that user's password
        try:
            atrest.read_slots(db)
        except atrest.AtRestError as exc:
            raise Abort(f"{db}: {exc}") from None
    else:
        open_registry(db).close()
    check_port(host, port)  # a port in use: one line now, not a traceback from the server
    app = create_app(db)
    from waitress import serve
    click.echo(f"anju web app on http://{host}:{port}/ (Ctrl+C stops it)")
    # waitress: a production WSGI server in pure Python, threads and no fork, so it runs the
    # same on Windows laptops; the app's own size limit (MAX_CONTENT_LENGTH) still applies.
    # waitress buffers a whole body before the app sees it: cap it at the app's own limit.
    serve(app, host=host, port=port, threads=8, ident="anju", _quiet=True,
          max_request_body_size=app.config["MAX_CONTENT_LENGTH"])


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
    from anju.registry.core.definition import load
    from anju.registry.sync.merge import adopt_definition
    with open_registry(db) as reg:
        if reg.meta("role") != "central":
            raise Abort("only the central registry adopts a survey definition; a laptop takes "
                        "it from the central pack")
        new = load(file)
        old = reg.definition
        if new.hash == old.hash:
            click.echo("survey definition unchanged")
            return
        if new.version <= old.version:
            raise Abort(f"{file}: version {new.version} is not above the current "
                        f"{old.version}; raise 'version' so that laptops move to it")
        adopt_definition(reg, new.source)
    before = {(r, f.name) for r, t in old.records.items() for f in t.columns}
    added = [f"{r}.{f}" for r, t in new.records.items() for f in (x.name for x in t.columns)
             if (r, f) not in before]
    click.echo(f"adopted survey definition version {new.version}; added fields: "
               + (", ".join(added) or "none") + "; laptops move to it with the next central pack")


def progress_file():
    """Progress bars go to a terminal only; scripts stay quiet."""
    import io
    return sys.stderr if sys.stderr.isatty() else io.StringIO()
