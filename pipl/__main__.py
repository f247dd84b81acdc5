"""``python -m pipl``: the same command line as ``pipl`` (for an environment whose
scripts folder is not on PATH)."""

from pipl.cli import main

main()
