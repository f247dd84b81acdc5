"""A processing job's fresh environment (made in the sandbox by ``pipl.ci.inside``): shaped
as a workspace so processing runs as it would in one, installing from the job's index;
and the distributions installed in it, read without importing them."""

from __future__ import annotations

import importlib.metadata as md
from dataclasses import dataclass
from pathlib import Path

from pipl.project.project import Project
from pipl.workspace.workspace import Workspace


@dataclass(frozen=True)
class JobEnv(Workspace):
    """A job's fresh environment, installing from the job's index (``url``)."""

    url: str = ""

    def index_url(self, project: Project) -> str:
        return self.url


def dists(env: JobEnv) -> list[md.Distribution]:
    """The distributions installed in ``env``."""
    site = sorted(Path(env.venv).glob("lib/python3*/site-packages"))
    return list(md.distributions(path=[str(p) for p in site]))
