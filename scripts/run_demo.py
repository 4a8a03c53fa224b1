"""`make run`: start the surveyor web app and the public site on the demo project.

Until those exist this prints what the demo project holds.
"""

import sys
from pathlib import Path

from registry.digest import digest
from registry.store import Registry


def main(directory: str) -> None:
    """Print the demo project's counts and digest."""
    reg = Registry.open(Path(directory) / "registry.db")
    for name in reg.definition.records:
        count = reg.conn.execute(f"SELECT count(*) FROM [{name}]").fetchone()[0]
        print(f"{name:12} {count}")
    print(f"digest       {digest(reg)}")
    print("demo logins: admin / supervisor / surveyor1, password anju-demo")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "demo")
