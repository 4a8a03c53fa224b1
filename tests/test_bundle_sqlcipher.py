"""The offline bundle carries SQLCipher (encryption at rest) for every platform it serves."""

from pathlib import Path

import pytest
from anju.registry.field.bundle import PLATFORMS, download
from packaging.utils import parse_wheel_filename

pytestmark = pytest.mark.slow
SOURCE = Path(__file__).resolve().parent.parent


def test_anju_depends_on_sqlcipher():
    text = (SOURCE / "pyproject.toml").read_text(encoding="utf-8")
    assert '"sqlcipher3-wheels>=0.5.7"' in text


@pytest.mark.parametrize("key", sorted(PLATFORMS))
def test_a_sqlcipher_wheel_exists_for_each_bundle_platform(tmp_path, key):
    platform = PLATFORMS[key]
    download(platform, ["sqlcipher3-wheels>=0.5.7"], tmp_path)  # what `anju bundle` does
    fitting = [w for w in tmp_path.glob("sqlcipher3_wheels-*.whl")
               if parse_wheel_filename(w.name)[3] & platform.tags()]
    assert fitting, f"no sqlcipher3-wheels wheel for {platform.title}"
