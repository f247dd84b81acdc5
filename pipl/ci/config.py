"""The ``[ci]`` table of ``pipl.toml``: handlers per stage, runner settings, webhooks.

::

    [ci]
    workers = 2                 # jobs run at once
    timeout = 600               # seconds a job may run
    retries = 3                 # attempts after an infrastructure error
    executor = "local"          # "dask": handlers with a worker part build on a Dask cluster
    scheduler = "tcp://farm:8786"   # the Dask scheduler (needed with executor = "dask")
    [ci.resources]              # Dask worker resources a handler's jobs ask for
    wheel = {abi-cp312 = 1}     # (dask worker --resources "abi-cp312=1")
    [ci.handlers]               # per stage (defaults shown)
    dev = ["qa", "wheel", "promote"]
    qa = ["process", "promote"]
    [ci.webhook]
    urls = ["https://ci.example/hook"]   # each receives every event of a handled index
    [ci.sandbox]                # where code from the index runs (pipl.ci.sandbox)
    enabled = true              # false: unsandboxed, with a warning in every status
    network = true              # false: tests and processing run with no network
    memory_mb = 4096            # per process
    processes = 1024            # of the runner's OS user
    file_size_mb = 4096         # largest file written
    landlock = true             # where the kernel has it: writes only in its own folders
"""

from __future__ import annotations

from pathlib import Path

from pipl import names
from pipl.project.config import DEFAULT_HANDLERS, CiConfig, PiplToml
from pipl.project.project import CI_USER_SUFFIX, WEBHOOK_SECRET, Project

__all__ = [
    "CI_USER_SUFFIX",
    "DEFAULT_HANDLERS",
    "WEBHOOK_SECRET",
    "CiConfig",
    "ci_user",
    "ensure_ci_secrets",
    "load_ci_config",
    "webhook_secret_file",
]


def load_ci_config(project: Project) -> CiConfig:
    """The ``[ci]`` table of the project's ``pipl.toml`` (defaults when absent), read now."""
    return PiplToml.of(project.root).ci()


def ci_user(project: Project) -> str:
    """The devpi user the runner acts as."""
    return names.check_user(project.ci_user)


def webhook_secret_file(project: Project) -> Path:
    return project.secrets.path / WEBHOOK_SECRET


def ensure_ci_secrets(project: Project) -> None:
    """Generate the CI user's password and the webhook secret (0600 files) if missing."""
    project.ensure_ci_secrets()
