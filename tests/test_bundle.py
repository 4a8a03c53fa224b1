"""The offline install bundle: build it, install from it with no index, run anju from it."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from anju.registry.core.digest import digest
from anju.registry.core.store import Registry
from anju.registry.field.bundle import PLATFORMS, missing_requirements
from anju.registry.field.demo import build_demo

pytestmark = pytest.mark.slow


def run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=240, **kwargs)
    assert result.returncode == 0, f"{args}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result.stdout


def offline_env():
    """pip with its index off, the machine's pip.conf ignored, and no way out to a network."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS="", PIP_CONFIG_FILE=os.devnull,
               PIP_INDEX_URL="http://127.0.0.1:9/simple", HTTP_PROXY="http://127.0.0.1:9",
               HTTPS_PROXY="http://127.0.0.1:9", PYTHON=getattr(sys, "_base_executable",
                                                                   sys.executable))
    return env


ENCRYPT_CHECK = """
import sqlite3, sys
from anju.registry.core import atrest
from anju.registry.core.store import connect
path = sys.argv[1]
plain = sqlite3.connect(path)
plain.execute("CREATE TABLE t (x)")
plain.execute("INSERT INTO t VALUES ('11010519491231002X')")
plain.commit()
plain.close()
atrest.encrypt_file(path, "li", "a long passphrase")
atrest.forget_all()
assert b"11010519" not in open(path, "rb").read()
atrest.unlock(path, "a long passphrase")
print("encrypted", connect(path).execute("SELECT count(*) FROM t").fetchone()[0])
"""


def test_bundle_installs_and_runs_with_no_index(tmp_path):
    bundle = tmp_path / "bundle"
    # Only the Linux part, to keep the test short; the other platforms use the same code path.
    run([sys.executable, "-m", "anju.registry.cli", "bundle", "--out", str(bundle),
         "--platform", "linux"])
    wheels = bundle / "wheels"
    (anju_wheel,) = wheels.glob("anju-*.whl")
    assert missing_requirements(PLATFORMS["linux"], anju_wheel, wheels) == []
    # The check sees what another platform would lack (its compiled wheels are not there).
    assert "cryptography" in " ".join(missing_requirements(PLATFORMS["windows"], anju_wheel,
                                                           wheels))
    assert json.loads((bundle / "bundle.json").read_text())["platforms"] == ["linux"]
    # Every file anju needs at run time is in its wheel (templates, static files, schema/).
    source = Path(__file__).resolve().parent.parent
    tops = ("registry", "collector", "plugins", "schema")
    wanted = {"anju/" + p.relative_to(source).as_posix() for top in tops
              for p in (source / top).rglob("*") if p.is_file()
              and "__pycache__" not in p.parts and "bundle_files" not in p.parts}
    with zipfile.ZipFile(anju_wheel) as zf:
        assert wanted - set(zf.namelist()) == set()
    assert b"\r\n" in (bundle / "install.bat").read_bytes()
    assert "离线安装" in (bundle / "README.txt").read_text(encoding="utf-8-sig")
    assert (bundle / "docs" / "guide.md").is_file() and (bundle / "docs" / "img").is_dir()

    target = tmp_path / "laptop"
    out = run(["sh", str(bundle / "install.sh"), str(target)], env=offline_env(),
              cwd=tmp_path)
    assert "anju, version" in out
    python = target / "venv" / "bin" / "python"
    anju = target / "venv" / "bin" / "anju"
    where = run([str(python), "-c", "import anju.registry; print(anju.registry.__file__)"],
                cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(target), "anju must come from the bundle"

    assert "Usage" in run([str(anju), "--help"], cwd=tmp_path)
    # SQLCipher came from the bundle and encrypts a database there (encryption at rest).
    sealed = run([str(python), "-c", ENCRYPT_CHECK, str(tmp_path / "sealed.db")], cwd=tmp_path)
    assert sealed.split() == ["encrypted", "1"], sealed
    work = tmp_path / "work"
    work.mkdir()
    run([str(anju), "init", str(work / "central.db"), "--central", "--project", "测试"],
        cwd=work)
    run([str(anju), "demo", str(work / "demo"), "--households", "20", "--seed", "5"], cwd=work)
    installed = run([str(anju), "digest", str(work / "demo" / "registry.db")], cwd=work).strip()
    # The same demo built by this checkout has the same digest: the bundle is this code.
    build_demo(tmp_path / "here", households=20, seed=5)
    with Registry.open(tmp_path / "here" / "registry.db") as reg:
        assert installed == digest(reg)


def test_bundle_refuses_a_folder_with_files(tmp_path):
    (tmp_path / "x.txt").write_text("x")
    result = subprocess.run([sys.executable, "-m", "anju.registry.cli", "bundle", "--out",
                             str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "not an empty folder" in result.stderr
