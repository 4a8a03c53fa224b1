"""Serve one public database on N identical Datasette processes, for any load balancer.

    python scripts/run_replicas.py public.db --replicas 4 --port 8101 [--host 127.0.0.1]

The output of `anju publish` needs nothing else: the file is opened immutable (read-only, no
locks, its counts computed once), so any number of processes can serve it, from one disk or from
copies. All replicas share one DATASETTE_SECRET (taken from the environment, else made here and
printed once), so a signed cookie or token made by one is accepted by the others and no session
needs to stick to a replica. Put any round-robin balancer in front, e.g. nginx:

    upstream anju { server 127.0.0.1:8101; server 127.0.0.1:8102; ... }
    server { listen 80; location / { proxy_pass http://anju; } }

To publish a new night's file without downtime: write it beside the old one with `anju publish`
(atomic rename), then restart the replicas one at a time (each restart reopens the new file).
Ctrl+C (or SIGTERM) stops every replica.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path


def start(db: Path, replicas: int, host: str, port: int, secret: str) -> list[subprocess.Popen]:
    """Start the replicas (ports port .. port+replicas-1); return their processes."""
    env = dict(os.environ, DATASETTE_SECRET=secret)
    processes = []
    for i in range(replicas):
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "anju.registry.cli", "serve", str(db), "--host", host,
             "--port", str(port + i)], env=env))
    return processes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    args = parser.parse_args(argv)
    if not args.db.is_file():
        print(f"{args.db}: no such database", file=sys.stderr)
        return 2
    if not 1 <= args.replicas <= 64:
        print("--replicas must be 1..64", file=sys.stderr)
        return 2
    secret = os.environ.get("DATASETTE_SECRET")
    if not secret:
        secret = secrets.token_hex(32)
        print(f"DATASETTE_SECRET={secret}  (set it to keep the same secret across restarts)")
    processes = start(args.db, args.replicas, args.host, args.port, secret)
    print(f"{args.replicas} replicas of {args.db} on {args.host}:{args.port}.."
          f"{args.port + args.replicas - 1}", flush=True)
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping and all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    for p in processes:
        if p.poll() is None:
            p.terminate()
    for p in processes:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
