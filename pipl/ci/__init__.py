"""CI on upload: durable upload events, a runner, and handlers run for each release.

- ``database``: ``ci.sqlite``, its one schema and its versioned migrations;
- ``outbox``: the events table written by pipl's devpi plugin (and by the runner's sweep);
- ``db``: the jobs table and its states (queued, running, passed, failed, cancelled);
- ``intake``: events become jobs, for the handlers each index names;
- ``runner``: ``pipl ci run``, bounded concurrency, timeouts, retries, recovery;
- ``retry``: when a job that did not finish runs again (infrastructure errors, kills);
- ``handlers``: the ``pipl.ci_handlers`` plugins and what a job gives them;
- ``gates``: what a release needs to enter a stage;
- ``promotion``: a person's promotion (``pipl proj index push``, the API), carried out once;
- ``service``: the runner started and stopped beside the server;
- ``supervisor``: the process that starts the runner again when it dies.
"""
