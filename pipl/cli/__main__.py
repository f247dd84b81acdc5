"""``python -m pipl.cli``: the same as the ``pipl`` command."""

from pipl.cli import main

main()
