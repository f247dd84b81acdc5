"""What the project's server is doing: pid, devpi serials, indexes (read through its API)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from pipl.errors import ServerNotRunning
from pipl.index.client import IndexClient
from pipl.index.session import check_server
from pipl.project.project import Project
from pipl.project.replica import FollowingReplica, ReplicaState, following_replicas, replica_state
from pipl.project.server import read_pid


@dataclass(frozen=True)
class IndexSummary:
    name: str
    bases: list[str]
    volatile: bool
    projects: int


@dataclass(frozen=True)
class ServerStatus:
    project: str
    root: str
    url: str
    running: bool
    pid: int | None = None
    serial: int | None = None
    event_serial: int | None = None
    plugin: bool | None = None
    indexes: list[IndexSummary] = field(default_factory=list)
    log: str = ""
    storage: str = "sqlite"
    # set on a replica: its primary and how many serials it is behind
    replica: ReplicaState | None = None
    # on a primary: the replicas that follow it
    replicas: list[FollowingReplica] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def server_status(project: Project) -> ServerStatus:
    """The server's state; ``running`` is False when nothing answers. Raises
    ``WrongServer`` when another program answers at the project's port."""
    pid = read_pid(project)
    stopped = ServerStatus(
        project.name,
        str(project.root),
        project.url,
        running=False,
        pid=pid,
        log=str(project.logfile),
        storage=project.config.storage,
    )
    with IndexClient(project.url, timeout=10) as client:
        try:
            check_server(project, client)
            status = client.status()
            features = client.api().get("features") or []
            indexes = [
                IndexSummary(
                    name=name,
                    bases=list(config.get("bases") or []),
                    volatile=bool(config.get("volatile")),
                    projects=len(client.projects(name)) if config.get("type") == "stage" else 0,
                )
                for name, config in client.indexes().items()
            ]
        except ServerNotRunning:
            return stopped
    return replace(
        stopped,
        running=True,
        serial=status.get("serial"),
        event_serial=status.get("event-serial"),
        plugin="pipl" in features,
        indexes=indexes,
        replica=replica_state(status) if status.get("role") == "REPLICA" else None,
        replicas=following_replicas(status),
    )
