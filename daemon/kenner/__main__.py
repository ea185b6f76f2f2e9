"""``python -m kenner``."""

from kenner.cli import main

main()
