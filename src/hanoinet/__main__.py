"""``python -m hanoinet``: the same as the ``hanoinet`` command."""

from hanoinet.app.cli import main

main()
