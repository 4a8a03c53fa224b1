"""The offline install bundle: a folder that installs anju on a laptop with no network.

`build_bundle` builds anju's own wheel from the source checkout (`pip wheel --no-deps`), downloads
binary wheels of every dependency for CPython 3.11 on Linux x86_64, Windows x64 and macOS (x86_64
and arm64) into one `wheels/` folder (pure-Python wheels are shared by all), checks that each
platform's whole dependency tree is there (environment markers evaluated for that platform, which
`pip download --platform` does not do), and writes install.sh, install.bat and a README in Chinese.
The install scripts create a virtual environment and `pip install --no-index --find-links wheels`.
"""

from __future__ import annotations

import email
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from anju.registry.core.errors import AnjuError
from anju.registry.core.i18n import N_
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms
from packaging.utils import canonicalize_name, parse_wheel_filename

PYTHON = (3, 11)
SOURCE = Path(__file__).resolve().parent.parent.parent
# What a wheel of anju is built from (copied to a clean folder so the checkout stays untouched).
SOURCE_ITEMS = ("pyproject.toml", "README.md", "LICENSE", "registry", "collector", "plugins",
                "schema")
TEMPLATES = Path(__file__).resolve().parent / "bundle_files"


@dataclass(frozen=True)
class Platform:
    """A platform the bundle installs on: pip's --platform tags and its marker environment."""

    key: str
    title: str
    pip_platforms: tuple[str, ...]
    markers: dict

    def tags(self) -> set[Tag]:
        """Every wheel tag a CPython 3.11 on this platform accepts."""
        platforms = list(self.pip_platforms)
        abis = ["cp311", "abi3", "none"]
        found = set(cpython_tags(PYTHON, abis=abis, platforms=platforms))
        found |= set(compatible_tags(PYTHON, interpreter="cp311", platforms=platforms))
        return found


def _manylinux(max_minor: int = 28) -> tuple[str, ...]:
    # glibc 2.28 or later (Debian 10, Ubuntu 20.04, RHEL 8, recent UOS and Kylin).
    names = [f"manylinux_2_{m}_x86_64" for m in range(max_minor, 4, -1)]
    return (*names, "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64")


def _env(system: str, sys_platform: str, os_name: str, machine: str) -> dict:
    return {"platform_system": system, "sys_platform": sys_platform, "os_name": os_name,
            "platform_machine": machine, "python_version": "3.11",
            "python_full_version": "3.11.9", "implementation_name": "cpython",
            "platform_python_implementation": "CPython", "implementation_version": "3.11.9",
            "platform_release": "", "platform_version": "", "extra": ""}


PLATFORMS = {p.key: p for p in (
    Platform("linux", "Linux x86_64 (glibc 2.28+)", _manylinux(),
             _env("Linux", "linux", "posix", "x86_64")),
    Platform("windows", "Windows x64 (Windows 10/11)", ("win_amd64",),
             _env("Windows", "win32", "nt", "AMD64")),
    Platform("macos-x86_64", "macOS 11+ Intel", tuple(mac_platforms((11, 0), "x86_64")),
             _env("Darwin", "darwin", "posix", "x86_64")),
    Platform("macos-arm64", "macOS 11+ Apple silicon", tuple(mac_platforms((11, 0), "arm64")),
             _env("Darwin", "darwin", "posix", "arm64")),
)}


class BundleError(AnjuError):
    """A bundle that cannot be built; the message says why."""

    zh = N_("安装包未能生成：%(detail)s")


def build_bundle(out: Path, platforms: Iterable[str] | None = None,
                 log: Callable[[str], None] = lambda line: None) -> str:
    """Write the bundle into `out` (new or empty); return a one-line summary."""
    chosen = [PLATFORMS[k] for k in (platforms or PLATFORMS)]
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BundleError(f"{out}: exists and is not an empty folder")
    if not (SOURCE / "pyproject.toml").is_file():
        raise BundleError("anju bundle runs from a source checkout of anju (no pyproject.toml "
                          f"in {SOURCE})")
    wheels = out / "wheels"
    wheels.mkdir(parents=True)
    log("building the anju wheel")
    anju_wheel = build_anju_wheel(wheels)
    for platform in chosen:
        log(f"downloading wheels for {platform.title}")
        download(platform, [str(anju_wheel)], wheels)
        for _ in range(4):  # markers pip ignores for a foreign platform pull in more wheels
            missing = missing_requirements(platform, anju_wheel, wheels)
            if not missing:
                break
            log(f"  {platform.key}: adding {', '.join(missing)}")
            download(platform, missing, wheels)
        else:
            raise BundleError(f"{platform.key}: no wheel for " + ", ".join(missing))
    write_scripts(out, anju_wheel, chosen)
    if (SOURCE / "docs").is_dir():  # the operator's guide travels with the laptops' installer
        shutil.copytree(SOURCE / "docs", out / "docs")
    count = len(list(wheels.glob("*.whl")))
    size = sum(p.stat().st_size for p in wheels.glob("*.whl")) / 1e6
    return (f"{count} wheels ({size:.1f} MB) for " + ", ".join(p.key for p in chosen)
            + f"; anju {version_of(anju_wheel)}")


def _pip(*args: str) -> None:
    """Run pip of this Python; a failure becomes a BundleError with pip's last lines."""
    result = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise BundleError(f"pip {args[0]} failed:\n{tail}")


def build_anju_wheel(wheels: Path) -> Path:
    """Build anju's own wheel from a clean copy of the source tree."""
    with tempfile.TemporaryDirectory(prefix="anju-src-") as tmp:
        src = Path(tmp) / "anju"
        src.mkdir()
        for item in SOURCE_ITEMS:
            path = SOURCE / item
            if path.is_dir():
                shutil.copytree(path, src / item, ignore=shutil.ignore_patterns(
                    "__pycache__", "*.pyc", "*.db", "*.db-*", "*.secret"))
            elif path.is_file():
                shutil.copy2(path, src / item)
        _pip("wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels), str(src))
    built = sorted(wheels.glob("anju-*.whl"))
    if not built:
        raise BundleError("pip wheel built no anju wheel")
    return built[-1]


def download(platform: Platform, requirements: list[str], wheels: Path) -> None:
    """`pip download` binary wheels of requirements for one platform into the wheel folder."""
    args = ["download", "--quiet", "--dest", str(wheels), "--only-binary=:all:",
            "--python-version", "3.11", "--implementation", "cp", "--find-links", str(wheels)]
    for tag in platform.pip_platforms:
        args += ["--platform", tag]
    _pip(*args, *requirements)


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(zf.read(name))


def version_of(wheel: Path) -> str:
    return str(parse_wheel_filename(wheel.name)[1])


def missing_requirements(platform: Platform, root: Path, wheels: Path) -> list[str]:
    """Requirements of anju's tree on `platform` that no wheel in the folder satisfies."""
    accepted = platform.tags()
    available: dict[str, list[Path]] = {}
    for wheel in wheels.glob("*.whl"):
        name, _, _, tags = parse_wheel_filename(wheel.name)
        if tags & accepted:
            available.setdefault(canonicalize_name(name), []).append(wheel)
    missing, seen = [], set()
    todo: list[tuple[Requirement, str]] = [
        (Requirement(r), "") for r in _metadata(root).get_all("Requires-Dist") or []]
    while todo:
        req, extra = todo.pop()
        if req.marker and not req.marker.evaluate({**platform.markers, "extra": extra}):
            continue
        key = (canonicalize_name(req.name), tuple(sorted(req.extras)))
        if key in seen:
            continue
        seen.add(key)
        match = [w for w in available.get(key[0], [])
                 if req.specifier.contains(version_of(w), prereleases=True)]
        if not match:
            missing.append(str(Requirement(f"{req.name}{req.specifier}")))
            continue
        meta = _metadata(max(match, key=lambda w: w.name))
        for line in meta.get_all("Requires-Dist") or []:
            sub = Requirement(line)
            if not sub.marker or "extra" not in str(sub.marker):
                todo.append((sub, ""))
            for wanted in req.extras:
                if sub.marker and Marker(str(sub.marker)).evaluate(
                        {**platform.markers, "extra": wanted}):
                    todo.append((sub, wanted))
    return sorted(set(missing))


def write_scripts(out: Path, anju_wheel: Path, platforms: list[Platform]) -> None:
    """Write the install scripts, the Chinese README and a manifest with checksums."""
    version = version_of(anju_wheel)
    values = {"VERSION": version,
              "PLATFORMS": "\n".join(f"  - {p.title}" for p in platforms)}
    for name, newline in (("install.sh", "\n"), ("install.bat", "\r\n"),
                          ("README.txt", "\r\n")):
        text = (TEMPLATES / name).read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        data = text.replace("\r\n", "\n").replace("\n", newline).encode("utf-8")
        if name == "README.txt":
            data = b"\xef\xbb\xbf" + data  # Notepad on older Windows needs the BOM for UTF-8
        (out / name).write_bytes(data)
    (out / "install.sh").chmod(0o755)
    sums = []
    for wheel in sorted((out / "wheels").glob("*.whl")):
        sums.append(f"{hashlib.sha256(wheel.read_bytes()).hexdigest()}  wheels/{wheel.name}")
    (out / "SHA256SUMS.txt").write_text("\n".join(sums) + "\n", encoding="utf-8")
    (out / "bundle.json").write_text(json.dumps({
        "anju": version, "python": "3.11", "platforms": [p.key for p in platforms],
        "wheels": len(sums)}, indent=2) + "\n", encoding="utf-8")
