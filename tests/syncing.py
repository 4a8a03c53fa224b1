"""A small project on real files for the sync tests: a central registry and enrolled laptops."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

from anju.registry.core.digest import digest
from anju.registry.core.store import Registry
from anju.registry.sync.enrollment import enroll_device, init_laptop
from anju.registry.sync.merge import merge_pack
from anju.registry.sync.packs import audience, export_pack

from tests.conftest import HOUSEHOLD

_serial = itertools.count(1)


class Project:
    """A central registry and N laptops enrolled the way a real project does it (with the
    field laptop's capabilities unless `capabilities` grants others)."""

    def __init__(self, root: Path, laptops: int = 2, households: int = 0,
                 capabilities: tuple[str, ...] | None = None):
        self.root = Path(root)
        (self.root / "packs").mkdir(parents=True, exist_ok=True)
        self.central = Registry.create(self.root / "central.db", project="测试项目",
                                       role="central", device_name="central")
        self.laptops: dict[str, Registry] = {}
        for i in range(laptops):
            name = f"lap{i + 1}"
            enrolment = self.root / f"{name}.enrol"
            enroll_device(self.central, name, enrolment, capabilities=capabilities)
            init_laptop(self.root / f"{name}.db", enrolment)
            enrolment.unlink()
            self.laptops[name] = Registry.open(self.root / f"{name}.db")
        self.households = [
            self.central.save("household", None, {**HOUSEHOLD, "house_no": f"A-{n:04d}"},
                              by="admin", full=True) for n in range(households)]
        if laptops:
            self.sync_back()  # every laptop starts with the households and the device list

    def lap(self, n: int) -> Registry:
        return self.laptops[f"lap{n}"]

    def pack(self, reg: Registry, *, full: bool = False) -> Path:
        """Export a pack from `reg` to a fresh file name."""
        path = self.root / "packs" / f"{reg.meta('device_name')}-{next(_serial)}.pack"
        export_pack(reg, path, full=full)
        return path

    def merge(self, reg: Registry, *packs: Path):
        """Merge packs that must be accepted; return the results."""
        results = [merge_pack(reg, p) for p in packs]
        for r in results:
            assert r.ok, r.reason
        return results

    def send(self, laptop: Registry) -> None:
        """A laptop's pack to the central registry."""
        self.merge(self.central, self.pack(laptop))

    def sync_back(self) -> Path:
        """The central pack to every laptop."""
        pack = self.pack(self.central)
        for laptop in self.laptops.values():
            self.merge(laptop, pack)
        return pack

    def close(self) -> None:
        for reg in (self.central, *self.laptops.values()):
            reg.close()

    def copy_to(self, root: Path) -> Project:
        """The same project (same keys and data) in another directory, opened."""
        self.close()
        shutil.copytree(self.root, root)
        clone = object.__new__(Project)
        clone.root = Path(root)
        clone.households = list(self.households)
        clone.central = Registry.open(clone.root / "central.db")
        clone.laptops = {n: Registry.open(clone.root / f"{n}.db") for n in self.laptops}
        self.__init_reopen()
        return clone

    def __init_reopen(self) -> None:
        self.central = Registry.open(self.root / "central.db")
        self.laptops = {n: Registry.open(self.root / f"{n}.db") for n in self.laptops}


def sealed_to(reg: Registry) -> list:
    """The (device id, X25519 public key) pairs `reg`'s next pack is sealed to, for tests that
    write packs by hand with PackWriter."""
    return [(r[0], r[2]) for r in audience(reg).recipients]


def conflicts(reg: Registry) -> list[tuple]:
    """The open conflicts as comparable rows."""
    return reg.conn.execute("SELECT record_type, record_id, field, winner, candidates "
                            "FROM conflict ORDER BY 1, 2, 3").fetchall()


def fingerprint(reg: Registry) -> tuple:
    """What must agree between databases after sync: the digest and the open conflicts."""
    return digest(reg), tuple(conflicts(reg))
