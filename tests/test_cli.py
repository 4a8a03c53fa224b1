"""The `anju` command as a user runs it: real processes, real files, exit statuses."""

import subprocess
import sys

import pytest


def anju(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "anju.registry.cli", *args], input=stdin,
                          capture_output=True, text=True, timeout=300)


def test_init_user_digest(tmp_path):
    db = str(tmp_path / "r.db")
    result = anju("init", db, "--central", "--project", "示范")
    assert result.returncode == 0, result.stderr
    assert anju("user", "add", db, "li", "--role", "surveyor", "--password-stdin",
                stdin="secret-pass\n").returncode == 0
    dup = anju("user", "add", db, "li", "--role", "surveyor", "--password-stdin",
               stdin="secret-pass\n")
    assert dup.returncode == 2 and "already exists" in dup.stderr
    short = anju("user", "add", db, "wang", "--role", "admin", "--password-stdin", stdin="x\n")
    assert short.returncode == 2 and "password" in short.stderr
    out = anju("digest", db)
    assert out.returncode == 0 and len(out.stdout.strip()) == 64
    from anju.registry.core.store import Registry
    from anju.registry.core.users import authenticate
    with Registry.open(db) as reg:
        assert authenticate(reg, "li", "secret-pass") == {"name": "li", "role": "surveyor"}
        assert authenticate(reg, "li", "wrong") is None
        stored = reg.conn.execute("SELECT password_hash FROM user").fetchone()[0]
        assert "secret-pass" not in stored


@pytest.mark.parametrize("args, words", [
    (["init", "{d}/r.db"], "either --central"),
    (["init", "{d}/r.db", "--central"], "--project"),
    (["init", "{d}/nodir/r.db", "--central", "--project", "p"], "no such directory"),
    (["digest", "{d}/missing.db"], "no such database"),
    (["demo", "/proc/anju-demo"], "cannot write"),
    (["demo", "{d}/x", "--households", "0"], "households"),
])
def test_bad_arguments_give_one_line_and_status_2(tmp_path, args, words):
    result = anju(*[a.format(d=tmp_path) for a in args])
    assert result.returncode == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_init_refuses_to_overwrite(tmp_path):
    db = str(tmp_path / "r.db")
    assert anju("init", db, "--central", "--project", "p").returncode == 0
    again = anju("init", db, "--central", "--project", "p")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_demo_is_deterministic_and_holds_the_planted_abuses(tmp_path):
    outs = []
    for name in ("a", "b"):
        result = anju("demo", str(tmp_path / name), "--households", "300", "--seed", "7")
        assert result.returncode == 0, result.stderr
        outs.append(anju("digest", str(tmp_path / name / "registry.db")).stdout)
    assert outs[0] == outs[1]
    other = anju("demo", str(tmp_path / "c"), "--households", "300", "--seed", "8")
    assert other.returncode == 0
    assert anju("digest", str(tmp_path / "c" / "registry.db")).stdout != outs[0]
    from anju.registry.core.store import Registry
    with Registry.open(tmp_path / "a" / "registry.db") as reg:
        q = reg.conn.execute
        assert q("SELECT count(*) FROM household").fetchone()[0] == 300
        assert q("SELECT count(DISTINCT status) FROM household").fetchone()[0] >= 6
        assert q("SELECT count(*) FROM household WHERE hardship IS NOT NULL").fetchone()[0] > 0
        assert q("SELECT count(*) FROM visit").fetchone()[0] > 0
        shared_id = q("SELECT id_no FROM member GROUP BY id_no "
                      "HAVING count(DISTINCT household_id) > 1").fetchall()
        assert len(shared_id) >= 1
        shared_cert = q("SELECT property_cert_no FROM household WHERE property_cert_no IS NOT "
                        "NULL GROUP BY property_cert_no HAVING count(*) > 1").fetchall()
        assert len(shared_cert) >= 1
        freeze = reg.settings["freeze_date"]
        late = q("SELECT count(*) FROM member WHERE registered_on > ?", (freeze,)).fetchone()[0]
        assert late >= 1
        assert len(reg.settings["zones"]) >= 3
        assert {"target", "deadline"} <= set(reg.settings["zones"][0])
