"""Shared fixtures: fresh registries on real SQLite files in a temporary directory."""

import pytest
from anju.registry.core.store import Registry

HOUSEHOLD = {"house_no": "A-0001", "zone": "东关片区A地块", "address": "东关街12号",
             "structure": "brick_concrete", "owner_name": "张伟"}


@pytest.fixture
def registry(tmp_path):
    """A new, empty central registry."""
    reg = Registry.create(tmp_path / "registry.db", project="测试项目", role="central",
                          device_name="central")
    yield reg
    reg.close()


@pytest.fixture
def household(registry):
    """The id of one saved household in `registry`."""
    return registry.save("household", None, dict(HOUSEHOLD), by="tester", full=True)
