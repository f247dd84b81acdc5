"""``pipl.toml``: the project's marker file, and the one model of everything it says.

The file is read in one place (``PiplToml.read``) and each table has one typed model:
``[project]``, ``[server]`` and ``[stages]`` (``ProjectConfig``, checked whenever a project
is loaded), ``[ci]`` (``CiConfig``, ``SandboxConfig``), ``[web]`` (``WebConfig``),
``[gates.STAGE]`` (``Gate``), ``[reviews]`` (``ReviewConfig``) and ``[qa]``
(``QaSettings``), each checked when the code that needs it asks for it, so that a typo in
``[gates]`` does not stop ``pipl proj stop``. ``[services]`` and ``[config.NAME]`` belong
to pipl-pipe (``pipl_pipe.config``), which reads them itself.

A bad value is a ``SettingError`` naming the table and the key (``[ci] workers must be an
integer from 1 to 64``); ``PiplToml`` turns it into one ``ProjectError`` line with the
file's path. An unknown key is looked up in one place (``unknown_in``): in a table that
guards something (``STRICT_TABLES``) it is an error, elsewhere a warning the CLI shows.

Where each part lives (every name is importable from here too):

- ``values``: ``SettingError`` and the typed readers every table uses (``integer``, ...)
- ``keys``: the known tables and keys, and the unknown-key check
- ``server``: ``[server]``'s checks (pipl's own devpi-server flags, PostgreSQL, a primary)
- ``project``: ``ProjectConfig`` (``[project]``, ``[server]``, ``[stages]``)
- ``ci``: ``CiConfig`` and ``SandboxConfig``
- ``web``: ``WebConfig``
- ``gates``: ``Gate``, ``ReviewConfig`` and ``QaSettings``
- ``file``: ``PiplToml``, the file read once
"""

from pipl.project.config.ci import (
    CI_EXECUTORS,
    DEFAULT_HANDLERS,
    CiConfig,
    SandboxConfig,
    parse_ci,
    parse_sandbox,
)
from pipl.project.config.file import PiplToml
from pipl.project.config.gates import (
    DEFAULT_GATES,
    Gate,
    QaSettings,
    ReviewConfig,
    parse_gates,
    parse_qa,
    parse_reviews,
)
from pipl.project.config.keys import (
    KNOWN_KEYS,
    KNOWN_TABLES,
    STRICT_TABLES,
    check_known,
    unknown_in,
    unknown_keys,
)
from pipl.project.config.project import DEFAULT_PORT, DEFAULT_STAGES, ProjectConfig
from pipl.project.config.server import (
    RESERVED_FLAGS,
    STORAGES,
    PostgresConfig,
    check_primary_url,
    check_server_args,
    reserved_flag,
)
from pipl.project.config.values import (
    FILENAME,
    SettingError,
    checked_names,
    flag,
    integer,
    table_of,
    text,
    text_list,
)
from pipl.project.config.web import WebConfig, parse_web

__all__ = [
    "CI_EXECUTORS",
    "DEFAULT_GATES",
    "DEFAULT_HANDLERS",
    "DEFAULT_PORT",
    "DEFAULT_STAGES",
    "FILENAME",
    "KNOWN_KEYS",
    "KNOWN_TABLES",
    "RESERVED_FLAGS",
    "STORAGES",
    "STRICT_TABLES",
    "CiConfig",
    "Gate",
    "PiplToml",
    "PostgresConfig",
    "ProjectConfig",
    "QaSettings",
    "ReviewConfig",
    "SandboxConfig",
    "SettingError",
    "WebConfig",
    "check_known",
    "check_primary_url",
    "check_server_args",
    "checked_names",
    "flag",
    "integer",
    "parse_ci",
    "parse_gates",
    "parse_qa",
    "parse_reviews",
    "parse_sandbox",
    "parse_web",
    "reserved_flag",
    "table_of",
    "text",
    "text_list",
    "unknown_in",
    "unknown_keys",
]
