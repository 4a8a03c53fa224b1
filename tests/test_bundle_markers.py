"""The bundle's completeness check reads environment markers for each target platform."""

import zipfile

from anju.registry.field.bundle import PLATFORMS, missing_requirements


def fake_wheel(folder, filename, requires=()):
    name, version = filename.split("-")[:2]
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(folder / filename, "w") as zf:
        zf.writestr(f"{name}-{version}.dist-info/METADATA", meta)
    return folder / filename


def test_markers_are_evaluated_for_the_target_platform(tmp_path):
    root = fake_wheel(tmp_path, "anju-0.1.0-py3-none-any.whl", [
        'click>=8', 'colorama; platform_system == "Windows"',
        'uvloop; sys_platform != "win32"', 'speedups[fast]>=1',
        'oldthing; python_version < "3.11"'])
    fake_wheel(tmp_path, "click-8.1.0-py3-none-any.whl")
    fake_wheel(tmp_path, "uvloop-1.0-cp311-cp311-manylinux_2_17_x86_64.whl")
    fake_wheel(tmp_path, "speedups-1.2-cp311-cp311-win_amd64.whl",
               ['cffi; extra == "fast"', 'unused; extra == "slow"'])
    fake_wheel(tmp_path, "cffi-1.0-cp311-cp311-win_amd64.whl")
    assert missing_requirements(PLATFORMS["windows"], root, tmp_path) == ["colorama"]
    # On Linux no colorama is needed, but uvloop is there and speedups has no Linux wheel.
    assert missing_requirements(PLATFORMS["linux"], root, tmp_path) == ["speedups>=1"]
    fake_wheel(tmp_path, "colorama-0.4.6-py2.py3-none-any.whl")
    assert missing_requirements(PLATFORMS["windows"], root, tmp_path) == []
    assert "uvloop" in missing_requirements(PLATFORMS["macos-arm64"], root, tmp_path)
