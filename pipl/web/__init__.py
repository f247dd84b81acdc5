"""pipl's web dashboard: server-rendered pages and the HTTP JSON API, served by the
project's CI runner process (``pipl ci run``, started by ``pipl proj start``)."""
