"""pipl: Package Index PipeLine.

A production pipeline made of Python packages (packls) living on a project's own
devpi-server. Importing this package is cheap: capabilities live in subpackages
(``pipl.project``, ``pipl.index``, ...) that are imported only when used.
"""

__version__ = "0.4.0.dev0"


def __getattr__(name: str) -> object:
    # ``from pipl import Client`` loads the client API on first use only
    if name in ("Client", "PiplError"):
        import pipl.api

        return getattr(pipl.api, name)
    raise AttributeError(f"module 'pipl' has no attribute {name!r}")
