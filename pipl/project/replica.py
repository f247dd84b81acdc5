"""Replicas: a project folder whose devpi-server follows another project's server.

A devpi replica (``devpi-server --primary-url``) streams the primary's changelog and
serves the same users, indexes and files; writes sent to it are passed on to the primary.
It signs its requests with the primary's server secret, so making one needs that secret:
from the primary project's folder on this machine, or a copy of its
``.pipl/secrets/devpi-secret``.
How far it is behind is the difference of the two servers' serials (its lag).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipl.errors import ServerError, UsageError
from pipl.project.config import check_primary_url
from pipl.project.create import Replica, create_project
from pipl.project.project import Project
from pipl.runner import Runner

PRIMARY_TIMEOUT = 5.0


def read_status(url: str, timeout: float = PRIMARY_TIMEOUT) -> dict[str, Any]:
    """``/+status`` of the devpi-server at ``url`` (no credentials sent)."""
    try:
        with urllib.request.urlopen(f"{url}/+status", timeout=timeout) as resp:  # noqa: S310 - http(s) URL checked by check_primary_url
            data = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ServerError(f"no devpi-server answers at {url} ({exc})") from None
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, dict) or "serial" not in result:
        raise ServerError(f"{url} does not answer like a devpi-server (no serial in /+status)")
    return result


def serves_replicas(url: str) -> bool:
    """False when the devpi-server at ``url`` refuses the replication protocol (devpi's
    standalone role); an unauthenticated request tells, without changing anything."""
    try:
        with urllib.request.urlopen(f"{url}/+changelog/0", timeout=PRIMARY_TIMEOUT):  # noqa: S310 - http(s) URL checked by check_primary_url
            return True
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        return not (exc.code == 403 and "Replication protocol disabled" in body)
    except (urllib.error.URLError, OSError):
        return True  # read_status has just reached it: let the replica tell


def read_secret(path: Path) -> bytes:
    """The primary's server secret from ``path`` (its ``.pipl/secrets/devpi-secret``)."""
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise UsageError(
            f"cannot read the primary's server secret {path}: {exc.strerror}"
        ) from None
    if len(secret) < 32:
        raise UsageError(f"{path} is not a devpi server secret (too short)")
    return secret


def create_replica(
    path: Path,
    *,
    primary_url: str,
    server_secret: bytes,
    name: str,
    stages: tuple[str, ...] | None = None,
    port: int | None = None,
    server_args: list[str] | None = None,
    runner: Runner | None = None,
) -> Project:
    """A new project at ``path`` whose server replicates the one at ``primary_url``
    (which must answer now). ``name`` and ``stages`` are the primary project's."""
    primary_url = check_primary_url(primary_url)
    status = read_status(primary_url)
    if status.get("role") == "REPLICA":
        raise UsageError(f"{primary_url} is itself a replica: give the URL of the primary's server")
    if not serves_replicas(primary_url):
        raise ServerError(
            f"the server at {primary_url} does not serve replicas (devpi runs it in its "
            "standalone role): restart it with 'pipl proj stop' then 'pipl proj start', "
            "which run a project's server in devpi's primary role"
        )
    return create_project(
        path,
        name=name,
        port=port,
        stages=list(stages) if stages else None,
        pypi_mirror=False,  # whatever the primary serves, the replica serves
        server_args=server_args,
        replica_of=Replica(primary_url, server_secret),
        runner=runner,
    )


@dataclass(frozen=True)
class ReplicaState:
    """What a replica reports about its primary."""

    primary_url: str
    primary_serial: int | None
    lag: int | None  # serials behind the primary; None while unknown
    primary_reachable: bool
    errors: int  # replication errors devpi reports


def replica_state(status: dict[str, Any]) -> ReplicaState:
    """A replica's lag: the primary's serial (asked now, else the one the replica last
    saw) minus the replica's own."""
    url = str(status.get("primary-url") or "")
    try:
        primary_serial: int | None = int(read_status(url)["serial"]) if url else None
        reachable = primary_serial is not None
    except ServerError:
        primary_serial, reachable = status.get("primary-serial"), False
    serial = status.get("serial")
    lag = None
    if isinstance(primary_serial, int) and isinstance(serial, int):
        lag = max(0, primary_serial - serial)
    return ReplicaState(
        url, primary_serial, lag, reachable, len(status.get("replication-errors") or {})
    )


@dataclass(frozen=True)
class FollowingReplica:
    """A replica polling a primary, as the primary reports it."""

    url: str  # the replica's outside URL, or its address when it gives none
    serial: int | None
    lag: int | None
    last_seen: float | None  # when it last asked (seconds since the epoch)


def following_replicas(status: dict[str, Any]) -> list[FollowingReplica]:
    """The replicas that polled a primary, with their lag (from the primary's status)."""
    serial = status.get("serial")
    found = []
    for uuid, info in sorted((status.get("polling_replicas") or {}).items()):
        if not isinstance(info, dict):
            continue
        rserial = info.get("serial")
        lag = None
        if isinstance(serial, int) and isinstance(rserial, int):
            lag = max(0, serial - rserial)
        where = info.get("outside-url") or info.get("remote-ip") or uuid
        seen = info.get("last-request")
        last_seen = float(seen) if isinstance(seen, (int, float)) else None
        found.append(FollowingReplica(str(where), rserial, lag, last_seen))
    return found
