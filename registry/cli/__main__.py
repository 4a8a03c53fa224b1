"""`python -m anju.registry.cli`: the same command as the console script `anju`."""

from anju.registry.cli import main

main()
