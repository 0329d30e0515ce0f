"""``python -m hanoinet``: the same as the ``hanoinet`` command."""

from hanoinet.entrypoints.cli import main

main()
