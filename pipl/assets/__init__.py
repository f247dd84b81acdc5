"""The project's asset store, seen from pipl: open it, and collect its garbage.

The store itself (content-addressed, atomic, verified) is pipl-pipe's
``pipl_pipe.assets.store``; this package adds what needs the project index: which objects
published products still reference.
"""
