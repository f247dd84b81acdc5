"""pipl's devpi-server plugin, loaded by devpi through the ``devpi_server`` entry point.

It runs inside devpi-server's process, so it stays small, imports nothing heavy and never
raises into devpi. It declares pipl's index options:

- ``pipl_handlers``: names of the CI handlers run for a release uploaded to the index;
- ``pipl_promote_to``: the index a release that passed its handlers is pushed to;
- ``pipl_maintainers``: who maintains each project of the index (``pipl.devpi_rules``);
- ``pipl_yanked``: the index's yanked releases (``pipl.devpi_yank``);
- ``pipl_allowed_names``: public names the owner let past the first stage
  (``pipl.devpi_names``);

it enforces pipl's release rules for every client before devpi stores or removes a file
(``devpiserver_pyramid_configure`` adds ``pipl.devpi_guard``'s view deriver and its
maintainers route; a refusal is the one exception it lets devpi answer with),

and records upload events for the CI runner in the project's outbox (``pipl.ci.outbox``),
only for indexes whose ``pipl_handlers`` is not empty and never on a replica:

- ``devpiserver_on_upload`` (devpi's notification thread, after commit, replayed after a
  crash): one event per file, idempotent;
- ``devpiserver_on_upload_sync`` (before commit, under devpi's write lock) does no work: it
  registers a callback that, once the commit succeeded and the lock is released, notes a
  hint (index, project, version, serial) so the runner need not wait for the notification
  thread, which can stall for seconds on a fresh file.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from pluggy import HookimplMarker

hookimpl = HookimplMarker("devpiserver")
log = logging.getLogger("pipl")

FEATURE = "pipl"
INDEX_OPTIONS: dict[str, Any] = {
    "pipl_handlers": [],
    "pipl_promote_to": "",
    "pipl_maintainers": {},
    "pipl_yanked": {},
    "pipl_allowed_names": [],
}
_local = threading.local()


@hookimpl
def devpiserver_get_features() -> set[str]:
    return {FEATURE}


@hookimpl
def devpiserver_indexconfig_defaults(index_type: str) -> dict[str, Any]:
    if index_type != "stage":
        return {}
    return {
        key: (type(value)(value) if isinstance(value, (list, dict)) else value)
        for key, value in INDEX_OPTIONS.items()
    }


@hookimpl
def devpiserver_pyramid_configure(config: Any, pyramid_config: Any) -> None:
    from pipl import devpi_names, devpi_yank
    from pipl.devpi_guard import configure

    configure(pyramid_config)
    devpi_yank.configure(pyramid_config)
    devpi_names.configure(pyramid_config)


def _outbox(stage: Any) -> Any:
    """This thread's connection to the project's outbox, or None (replica, no handlers,
    a server pipl did not set up)."""
    if not stage.ixconfig.get("pipl_handlers") or stage.xom.is_replica():
        return None
    from pipl.ci import outbox

    folder = outbox.ci_dir_for_serverdir(Path(stage.xom.config.server_path))
    if folder is None:
        return None
    conn = getattr(_local, "conn", None)
    if conn is None or getattr(_local, "folder", None) != folder:
        conn = _local.conn = outbox.connect(folder)
        _local.folder = folder
    return outbox, conn


@hookimpl
def devpiserver_on_upload(stage: Any, project: str, version: str, link: Any) -> None:
    try:
        found = _outbox(stage)
        if found is None or link.rel != "releasefile":
            return
        outbox, conn = found
        sha256 = link.hashes.get("sha256")
        if not sha256:
            return
        outbox.record_event(
            conn,
            index=stage.name,
            project=project,
            version=version,
            filename=link.basename,
            sha256=sha256,
            serial=int(stage.keyfs.tx.at_serial),
            source="hook",
        )
    except Exception:  # never raise into devpi: the runner's sweep finds what is missed
        log.exception("pipl: could not record the upload of %s %s", project, version)


@hookimpl
def devpiserver_on_upload_sync(
    log: Any, application_url: str, stage: Any, project: str, version: str
) -> None:
    try:
        if not stage.ixconfig.get("pipl_handlers") or stage.xom.is_replica():
            return
        tx = stage.keyfs.tx
        name = stage.name

        def after_commit() -> None:
            try:
                found = _outbox(stage)
                if found is not None:
                    outbox, conn = found
                    outbox.record_hint(
                        conn,
                        index=name,
                        project=project,
                        version=version,
                        serial=int(getattr(tx, "commit_serial", -1)),
                    )
            except Exception:
                logging.getLogger("pipl").exception("pipl: could not note %s", project)

        tx.on_commit_success(after_commit)
    except Exception:
        logging.getLogger("pipl").exception("pipl: could not watch %s %s", project, version)
