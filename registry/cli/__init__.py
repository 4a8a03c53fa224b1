"""The `anju` command: the group and its foundation commands live in base; each command group's
module registers its commands on `main` when imported here. Nothing imports this package but the
console script, so no module below it depends on another's registration."""

from anju.registry.cli import (  # noqa: F401  (register)
    central,
    encrypt,
    field,
    flats,
    publish,
    survey,
    sync,
)
from anju.registry.cli.base import main

__all__ = ["main"]
