"""The operator's guide (docs/guide.md) points at real screenshots and real commands."""

import re
from pathlib import Path

from anju.registry.cli import main

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_screenshot_exists_and_is_used():
    text = (DOCS / "guide.md").read_text(encoding="utf-8")
    referenced = set(re.findall(r"\(img/([^)]+\.png)\)", text))
    on_disk = {p.name for p in (DOCS / "img").glob("*.png")}
    assert referenced and referenced == on_disk


def test_every_command_in_the_guide_exists():
    text = (DOCS / "guide.md").read_text(encoding="utf-8")
    used = re.findall(r"anju(?:\.bat)? ([a-z]+)(?: ([a-z]+))?", text)
    assert len(used) > 10
    for command, sub in used:
        assert command in main.commands, f"anju {command} is in the guide, not in the CLI"
        group = main.commands[command]
        if command in ("device", "survey", "user"):  # groups whose next word is a command
            assert sub in group.commands, f"anju {command} {sub} is in the guide, not the CLI"
