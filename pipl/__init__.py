"""pipl: Package Index PipeLine.

A production pipeline made of Python packages (packls) living on a project's own
devpi-server. Importing this package is cheap: capabilities live in subpackages
(``pipl.project``, ``pipl.index``, ...) that are imported only when used.
"""

__version__ = "0.4.0.dev0"
