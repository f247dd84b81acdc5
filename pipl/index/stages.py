"""The project's indexes: a non-volatile base index and the chain of stage indexes.

With stages ``dev, qa, prod`` owned by project ``demo``::

    demo/dev -> demo/qa -> demo/prod -> demo/base [-> root/pypi]

Each stage lists the next one in its devpi ``bases``, so installing from ``demo/dev``
sees every later stage. The first stage takes uploads from any logged-in user; later
stages and the base only from the project owner (CI promotion). Each stage's
``pipl_promote_to`` names the next stage. Only the first stage is volatile: a release
that reached a later stage (or the base) never changes or disappears there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipl.errors import Conflict, UsageError
from pipl.index.bootstrap import mirror_whitelist, publish_bootstrap
from pipl.index.client import IndexClient, UploadResult
from pipl.index.mirror import MIRROR_INDEX, set_up_mirror
from pipl.index.session import connect
from pipl.project.project import Project

AUTHENTICATED = ":AUTHENTICATED:"


@dataclass(frozen=True)
class IndexSpec:
    name: str
    bases: list[str]
    volatile: bool
    acl_upload: list[str]
    options: dict[str, Any] = field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        """Everything devpi is told about this index, as create/modify keywords."""
        return {
            "bases": self.bases,
            "volatile": self.volatile,
            "acl_upload": self.acl_upload,
            "acl_toxresult_upload": [AUTHENTICATED],
            # an index sees PyPI's versions of every name an index after it whitelists
            # (devpi's default, "intersection", would need the list on every stage)
            "mirror_whitelist_inheritance": "union",
            **self.options,
        }

    def differs_from(self, config: dict[str, Any]) -> bool:
        return any(_as_list(config.get(k)) != _as_list(v) for k, v in self.settings().items())


def _as_list(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


@dataclass(frozen=True)
class IndexChange:
    name: str
    action: str  # created | updated | unchanged
    bases: list[str]


@dataclass(frozen=True)
class DefaultIndexes:
    """What ``create_default`` did: index changes, then the base index's bootstrap files."""

    changes: list[IndexChange]
    bootstrap: list[UploadResult]


def default_specs(project: Project) -> list[IndexSpec]:
    """The base index then the stages from last to first (each one's bases exist before it)."""
    from pipl.project.config import PiplToml

    owner = project.owner
    ci = PiplToml.of(project.root).ci()
    specs = [
        IndexSpec(
            name=project.base_index,
            bases=[MIRROR_INDEX] if project.config.pypi_mirror else [],
            volatile=False,
            acl_upload=[owner],
            options={
                "pipl_handlers": [],
                "pipl_promote_to": "",
                # PyPI's versions of the bootstrap names stay visible beside the base's
                "mirror_whitelist": mirror_whitelist() if project.config.pypi_mirror else [],
            },
        )
    ]
    stages = project.stage_indexes
    for position in range(len(stages) - 1, -1, -1):
        name = stages[position]
        nxt = stages[position + 1] if position + 1 < len(stages) else project.base_index
        specs.append(
            IndexSpec(
                name=name,
                bases=[nxt],
                volatile=position == 0,
                # the CI runner's user pushes promoted releases and publishes products
                acl_upload=[AUTHENTICATED] if position == 0 else [owner, project.ci_user],
                options={
                    "pipl_handlers": ci.stage_handlers(project.config.stages[position]),
                    "pipl_promote_to": stages[position + 1] if position + 1 < len(stages) else "",
                },
            )
        )
    return specs


def check_replace_allowed(project: Project, index: str) -> None:
    """Replacing a released file works on the first stage only: later stages, the base
    and other indexes keep their releases."""
    first = project.stage_index()
    if index != first:
        raise UsageError(
            f"replacing a released file works on the first stage ({first}) only, "
            f"not on {index}: bump the version instead"
        )


def ensure_owner(project: Project, admin: IndexClient) -> bool:
    """Create the project's owner user if missing; return True when created."""
    password = project.secrets.password(project.owner)
    if password is None:
        raise Conflict(f"no password for the project user {project.owner!r} in the secrets")
    if project.owner in admin.users():
        return False
    admin.create_user(project.owner, password)
    return True


def create_default(project: Project, admin: IndexClient) -> DefaultIndexes:
    """Create (or bring back in line with pipl.toml) the owner and CI users, base and stage
    indexes (and the PyPI mirror's settings), and put pipl-pipe and the build backends on
    the base index."""
    from pipl.index.users import ensure_ci_user

    ensure_owner(project, admin)
    ensure_ci_user(project, admin)
    existing = admin.indexes()
    changes = []
    for spec in default_specs(project):
        current = existing.get(spec.name)
        if current is None:
            admin.create_index(spec.name, **spec.settings())
            action = "created"
        elif spec.differs_from(current):
            admin.modify_index(spec.name, **spec.settings())
            action = "updated"
        else:
            action = "unchanged"
        changes.append(IndexChange(spec.name, action, spec.bases))
    if project.config.pypi_mirror:
        changes.append(IndexChange(MIRROR_INDEX, set_up_mirror(admin), []))
    with connect(project, "owner") as owner:
        uploads = publish_bootstrap(project, owner)
    return DefaultIndexes(changes, uploads)
