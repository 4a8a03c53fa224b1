"""`anju encrypt`: turn a plain laptop database into an encrypted one (registry/core/atrest.py).

Its command registers on the `anju` group when registry/cli/__init__.py imports this module.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from anju.registry.cli.base import Abort, main, open_registry


@main.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--user", "user", required=True,
              help="An account of DB; its password will unlock the encrypted database.")
@click.option("--password-stdin", is_flag=True, help="Read that password from standard input.")
@click.option("--delete-plain-backups", is_flag=True,
              help="Delete this laptop's unencrypted backups once the database is encrypted.")
def encrypt(db: str, user: str, password_stdin: bool, delete_plain_backups: bool) -> None:
    """Encrypt the laptop database DB in place, without loss; USER's password unlocks it.

    Stop `anju collect` first. Other accounts get their key slot at their next login."""
    from anju.registry.core import atrest
    from anju.registry.core.users import authenticate
    from anju.registry.field.backup import configured_folder, list_backups
    if atrest.is_encrypted(db):
        raise Abort(f"{db}: 已经加密 (already encrypted)")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(f"{user} 的密码 (password)", hide_input=True, err=True)
    with open_registry(db) as reg:
        if reg.meta("role") == "central":
            raise Abort(f"{db}: 中心库保持明文，其备份加密 (the central registry stays plain on "
                        "the office's server; its backups are encrypted: anju backup-key)")
        if authenticate(reg, user, password) is None:
            raise Abort(f"{db}: {atrest.WRONG_TEXT}")
        folders = {f for f in (configured_folder(reg), Path(reg.path).parent / "backups") if f}
        plain = [b.path for f in folders for b in list_backups(f, reg.device_id)
                 if not atrest.is_encrypted(b.path)]
    atrest.encrypt_file(db, user, password)
    click.echo(f"encrypted {db} (key slots in {atrest.keys_path(db).name}); {user}'s password "
               "unlocks it, other accounts get theirs at their next login")
    if plain and delete_plain_backups:
        from anju.registry.field.backup import backup_now
        for folder in sorted({p.parent for p in plain}):
            made = backup_now(db, folder, reason="manual", keep=1000)  # an encrypted one first
            click.echo(f"encrypted backup {made}")
        for path in plain:
            path.unlink(missing_ok=True)
        click.echo(f"deleted {len(plain)} unencrypted backup(s)")
    elif plain:
        click.echo(f"warning: {len(plain)} unencrypted backup(s) remain, e.g. {plain[0]}; "
                   "delete them (--delete-plain-backups) once a new backup is made", err=True)


@main.command("backup-key")
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True,
              help="Where to write the private key (keep it off the server: a stick, a safe).")
@click.option("--password-stdin", is_flag=True, help="Read its passphrase from standard input.")
def backup_key(db: str, out: str, password_stdin: bool) -> None:
    """Central: make the office's backup key pair; backups are encrypted to it from now on.

    The registry keeps only the public key; the private key goes to OUT, encrypted with a
    passphrase. Restoring a central backup: anju --backup-key OUT restore BACKUP DB."""
    from anju.registry.core import atrest
    from anju.registry.core.store import StoreError
    from anju.registry.core.users import check_password
    target = Path(out)
    if target.exists():
        raise Abort(f"{target}: exists already; not overwriting a key")
    if password_stdin:
        passphrase = sys.stdin.readline().rstrip("\r\n")
    else:
        passphrase = click.prompt("备份密钥口令 (passphrase)", hide_input=True,
                                  confirmation_prompt=True, err=True)
    try:
        check_password(passphrase)
    except StoreError as exc:
        raise Abort(str(exc)) from None
    with open_registry(db) as reg:
        if reg.meta("role") != "central":
            raise Abort(f"{db}: 笔记本的备份用账户密码加密，无需备份密钥 (a laptop's backups are "
                        "encrypted with its accounts' passwords; no backup key needed)")
        pem, public = atrest.new_backup_key(passphrase)
        import os
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise Abort(f"{target}: cannot write ({exc.strerror})") from None
        reg.set_meta("backup_public_key", public)
    click.echo(f"backup key {atrest.backup_key_fingerprint(public)} written to {target}; "
               "central backups are encrypted to it from now on")
