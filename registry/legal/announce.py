"""Opening a publication round together with the public.db it publishes.

`publish_round` opens the round (and moves households to 已公示 for a survey round), writes the
public database so that it already lists the round and the new statuses, then records the file's
SHA-256 in the round. If the publication fails, the round is withdrawn and the households put
back, each as a change of the log: nothing claims a publication that did not happen.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from anju.registry.core.store import Registry
from anju.registry.legal import rounds
from anju.registry.publication.publish import PublishError, publish


def publish_round(reg: Registry, out: str | Path, kind: str, days: int, *, by: str,
                  title: str | None = None,
                  progress: Callable[[int], None] | None = None) -> tuple[dict, dict]:
    """Open a round of `kind` for `days` days and publish it to `out`; return (round, summary)."""
    out = Path(out)
    if not out.parent.is_dir():  # refuse before anything is recorded
        raise PublishError(f"{out.parent}: no such directory")
    if out.exists() and out.resolve() == Path(reg.path).resolve():
        raise PublishError(f"{out}: is the registry itself; publish to another file")
    round_id, moved = rounds.open_round(reg, kind, days=days, by=by, title=title)
    try:
        summary = publish(reg, out, progress=progress)
    except BaseException:
        rounds.withdraw(reg, round_id, moved, reason="发布失败", by=by)
        raise
    rounds.record_digest(reg, round_id, out, by=by)
    row = next(r for r in rounds.rounds(reg) if r["id"] == round_id)
    return {**row, "moved": len(moved)}, summary
