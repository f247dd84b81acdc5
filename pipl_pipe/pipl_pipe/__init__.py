"""pipl-pipe: the pipeline framework installed in every pipl workspace and CI environment.

It is light on purpose: no devpi-server, no pipl CLI, no third-party dependency.
"""

__version__ = "0.4.0.dev0"
