"""``pipl.Client``: one object for a project, local or remote, with typed results.

::

    from pipl import Client

    client = Client.from_project("~/projects/studio")     # this machine's project
    client = Client("http://pipl.example:3142", token=TOKEN)  # over the HTTP API

    client.health().runner_running
    for job in client.jobs.list(state="failed"):
        print(job.id, job.release, job.message)

Operations are grouped like the project: ``client.jobs``, ``client.releases``,
``client.pipelines``, ``client.users``; the everyday ones (``health``, ``whoami``,
``login``, ``promote``, ``wait``, ``transaction``) are on the client itself. Every failure
is a ``pipl.PiplError`` with a one-line message, of the class of ``pipl.errors`` the
project raised (over HTTP too: a ``CiError`` is a ``CiError``).

Each method is an operation's function of ``pipl.api.client.operations`` (``remote``),
or calls one: parameters, results and docstrings are those of the function of
``pipl.api.service`` that carries the operation out, in this process (``from_project``)
or behind the HTTP API.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipl.api.admin import Login
from pipl.api.client import operations as op
from pipl.api.client.flow import FlowApi
from pipl.api.client.jobs import JobsApi
from pipl.api.client.pipelines import PipelinesApi
from pipl.api.client.releases import ReleasesApi, Transaction
from pipl.api.client.remote import Domain, remote
from pipl.api.client.users import UsersApi
from pipl.api.jobs import Triggered
from pipl.api.ops import Route
from pipl.api.releases import Promotion
from pipl.api.transport import HttpTransport, LocalTransport, Transport


class Client(Domain):
    """A pipl project, reached over its HTTP API at ``url`` (see ``from_project`` for a
    project on this machine). ``token`` is a login's token (``Client.login`` or
    ``pipl proj token``); without one the client is an anonymous visitor."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 60.0) -> None:
        self._transport: Transport = HttpTransport(url, token, timeout=timeout)
        self._setup()

    @classmethod
    def from_project(cls, path: str | os.PathLike[str] = ".") -> Client:
        """The project at or above ``path``, reached directly: its files and its server,
        as this machine's user ('pipl proj login', else the owner if the project's secrets
        are readable, else anonymous)."""
        client = cls.__new__(cls)
        client._transport = LocalTransport(Path(path).expanduser())
        client._setup()
        return client

    def _setup(self) -> None:
        self._client = self
        self.jobs = JobsApi(self)
        self.flow = FlowApi(self)
        self.releases = ReleasesApi(self)
        self.pipelines = PipelinesApi(self)
        self.users = UsersApi(self)

    def send(self, route: Route, params: dict[str, Any]) -> Any:
        """Send operation ``route`` with ``params``; its JSON answer (the functions of
        ``pipl.api.client.operations`` type it)."""
        return self._transport.call(route, params)

    def download(self, url: str) -> Iterator[bytes]:
        """The bytes at ``url`` (a path of the project's web server), in chunks."""
        return self._transport.download(url)

    # -- admin and auth -------------------------------------------------------------------
    health = remote(op.health)
    whoami = remote(op.whoami)

    def login(self, user: str, password: str) -> Login:
        """Log in as ``user``; later calls carry the token (``.token`` of the answer)."""
        answer = op.login(self, user=user, password=password)
        self._transport.set_token(answer.token)
        return answer

    def logout(self) -> None:
        """Forget this client's token: it is anonymous afterwards."""
        self._transport.set_token(None)

    # -- CI -------------------------------------------------------------------------------
    def wait(self, project: str, version: str, *, timeout: float = 600.0) -> Triggered:
        """Return once every CI job the upload of ``project version`` set going has
        ended: its jobs on every stage it was promoted to, the jobs of the products its
        processing published, and the re-processings it set going downstream (and so on
        from their products). The answer lists them all with their states (``.ok``: all
        passed); a ``pipl.errors.WaitTimeout`` when some are still busy after ``timeout``
        seconds."""
        return self.jobs.wait(project, version, timeout=timeout)

    # -- promotion ------------------------------------------------------------------------
    def promote(
        self,
        project: str,
        version: str,
        to: str | None = None,
        *,
        source: str | None = None,
        with_deps: bool = False,
        dry_run: bool = False,
        skip_stage: bool = False,
    ) -> Promotion:
        """Push a release to stage ``to`` (default: the stage after the furthest one
        holding it) once its requirements are there; ``with_deps`` pushes the missing ones
        with it, all or nothing; ``skip_stage`` lets ``to`` be past the next stage. The
        owner's (or root's) right."""
        return op.releases_promote(
            self,
            project=project,
            version=version,
            to=to,
            source=source,
            with_deps=with_deps,
            dry_run=dry_run,
            skip_stage=skip_stage,
        )

    def transaction(self, *, with_deps: bool = False) -> Transaction:
        """Promotions as one: ``with client.transaction() as tx: tx.promote(...)`` sends
        them when the block ends; if one cannot be done, none is."""
        return Transaction(self, with_deps=with_deps)

    # -- lifetime -------------------------------------------------------------------------
    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
