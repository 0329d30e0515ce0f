"""``python -m hanoinet``: the same as the ``hanoinet`` command."""

from hanoinet.app.quick_read import main

main()
