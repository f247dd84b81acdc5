"""The ``--json`` contract: every command that takes ``--json`` is run here and its output
checked against the shape documented in docs/json.md.

A command that gains ``--json`` fails ``test_every_json_command_is_covered`` until it has a
case below and a row in docs/json.md.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from tests.helpers import cli_commands, run

DOC = Path(__file__).resolve().parent.parent / "docs" / "json.md"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# A shape: a type (or tuple of types), [shape] for a list of items, {"*": shape} for a
# mapping keyed by names, or {key: shape} for an object with at least these keys.
S, INT, B, N = str, int, bool, type(None)
OPT_S = (str, type(None))

FLOAT, OPT_F, OPT_I = (int, float), (int, float, type(None)), (int, type(None))
CI_JOB = {
    "id": INT,
    "handler": S,
    "index": S,
    "project": S,
    "version": S,
    "filename": S,
    "sha256": S,
    "state": S,
    "attempts": INT,
    "created": FLOAT,
    "started": OPT_F,
    "finished": OPT_F,
    "seconds": OPT_F,
    "message": S,
}
INDEX_CONFIG = {
    "type": S,
    "bases": [S],
    "volatile": B,
    "acl_upload": [S],
    "pipl_handlers": [S],
    "pipl_promote_to": S,
}
REVIEW = {
    "id": INT,
    "stage": S,
    "index": S,
    "project": S,
    "version": S,
    "user": S,
    "decision": S,
    "comment": S,
    "files": {"*": S},
    "at": FLOAT,
    "valid": B,
}
SHAPES: dict[str, Any] = {
    "status": {
        "project": S,
        "root": S,
        "url": S,
        "running": B,
        "pid": (int, N),
        "serial": (int, N),
        "event_serial": (int, N),
        "log": S,
        "plugin": B,
        "indexes": [{"name": S, "bases": [S], "volatile": B, "projects": INT}],
        "storage": S,
        "replica": N,  # the session's project is a primary
        "replicas": [{"url": S, "serial": OPT_I, "lag": OPT_I, "last_seen": OPT_F}],
        "ci": {
            "running": B,
            "pid": OPT_I,
            "log": S,
            "jobs": {"*": INT},
            "web": OPT_S,
            "events": {"recorded": INT, "taken": INT, "pending": INT},
            "metrics": OPT_S,
        },
        "health": {"ok": B, "problems": [S]},
    },
    "ci-jobs": [CI_JOB],
    "ci-job": {**CI_JOB, "log": S},
    "default-indexes": {
        "changes": [{"name": S, "action": S, "bases": [S]}],
        "bootstrap": [{"filename": S, "index": S, "uploaded": B}],
    },
    "indexes": {"*": INDEX_CONFIG},
    "index": {"name": S, **INDEX_CONFIG, "projects": [S]},
    "users": [{"name": S, "email": S, "indexes": [S]}],
    "workspaces": [
        {
            "name": S,
            "area": S,
            "stage": OPT_S,
            "path": S,
            "packls": [S],
            "created": OPT_S,
            "created_by": OPT_S,
            "error": OPT_S,
        }
    ],
    "maintainers": {"index": S, "project": S, "maintainers": [S], "implicit": [S]},
    "review": REVIEW,
    "reviews": {
        "stage": S,
        "index": S,
        "project": S,
        "version": S,
        "files": {"*": S},
        "uploaders": [S],
        "reviews": [REVIEW],
        "approved_by": [S],
        "may_approve": B,
        "may_reject": B,
    },
    "yank": {"stage": S, "index": S, "project": S, "version": S, "yanked": B, "reason": S},
    "derived": [
        {"project": S, "version": S, "stages": [S], "source": S, "depth": INT, "yanked": [S]}
    ],
    "allowed-names": {"stage": S, "index": S, "names": [S], "retried": [INT]},
    "flow": [
        {
            "stage": S,
            "index": S,
            "processing": B,
            "paused": B,
            "since": OPT_F,
            "by": OPT_S,
            "skipped": [S],
            "queued": [INT],
        }
    ],
    "packls": [{"name": S, "version": OPT_S, "kind": OPT_S, "path": S, "error": OPT_S}],
    "packl": {
        "name": S,
        "version": S,
        "kind": S,
        "path": S,
        "dependencies": [S],
        "entry_points": {"*": {"*": S}},
        "description": S,
        "optional_dependencies": {"*": [S]},
        "history": [{"at": S, "by": S, "action": S, "detail": S}],
        "installed": OPT_S,
    },
    "commands": [{"name": S, "target": S, "packl": S, "version": S, "installed": B}],
    "envsets": {"env": {"*": S}, "changes": list, "conflicts": list, "order": [S]},
    "assets-added": [{"path": S, "sha256": S, "size": INT, "kind": S, "added": B}],
    "assets": {"store": S, "objects": [{"sha256": S, "size": INT, "kind": S}]},
    "assets-verified": {"store": S, "checked": INT, "corrupted": [S], "missing": [S]},
    "assets-gc": {
        "store": S,
        "dry_run": B,
        "grace_hours": (int, float),
        "products": [S],
        "referenced": INT,
        "removed": [{"sha256": S, "size": INT}],
        "freed": INT,
        "kept_recent": [S],
    },
    "pipe-run": {
        "ok": B,
        "status": S,
        "seconds": (int, float),
        "dry_run": B,
        "segments": [
            {
                "segment": S,
                "key": S,
                "instances": INT,
                "reused": INT,
                "ran": INT,
                "failed": INT,
                "retried": INT,
                "blocked": S,
                "failures": [{"instance": S, "error": S, "log": S}],
                "path": S,
                "skipped": B,
                "forced": B,
            }
        ],
    },
    "pipe-status": {
        "segments": [
            {
                "segment": S,
                "key": S,
                "done": INT,
                "failed": INT,
                "path": S,
                "failures": [{"instance": S, "error": S}],
            }
        ],
        "runs": [
            {
                "id": INT,
                "started": (int, float),
                "finished": (int, float, N),
                "executor": S,
                "status": S,
                "ran": INT,
                "reused": INT,
                "failed": INT,
            }
        ],
    },
    "pipe-publish": {"name": S, "version": S, "key": S, "index": S, "already": B},
    "promotion": {
        "project": S,
        "version": S,
        "source": S,
        "target": S,
        "dry_run": B,
        "with_deps": B,
        "moves": [
            {
                "project": S,
                "version": S,
                "from": S,
                "files": [S],
                "required_by": OPT_S,
                "requirement": OPT_S,
            }
        ],
        "missing": [{"requirement": S, "required_by": S, "available": OPT_S}],
        "pushed": [{"project": S, "version": S, "copied": [S]}],
    },
}

# command path -> arguments after it (the workspace and packl made by the fixture)
CASES: dict[str, list[str]] = {
    "proj status": [],
    "proj index create-default": [],
    "proj index list": [],
    "proj index show": ["dev"],
    "proj index maintainers": ["contract-lib"],
    "proj index review": [
        *("reject", "contract-lib", "0.1.0", "--stage", "dev"),
        *("--comment", "made by the JSON contract test"),
    ],
    "proj index reviews": ["contract-lib", "0.1.0", "--stage", "dev"],
    "proj index yank": ["contract-lib", "0.1.0", "--stage", "dev", "--undo"],
    "proj index derived": ["contract-lib", "0.1.0"],
    "proj index names list": [],
    "proj index flow status": [],
    "proj user list": [],
    "work list": [],
    "work commands": ["-w", "contract"],
    "work env": ["-w", "contract"],
    "packl list": ["-w", "contract"],
    "packl show": ["-p", "contract-lib", "-w", "contract"],
    "asset add": ["{asset}"],
    "asset ls": [],
    "asset verify": [],
    "asset gc": ["--dry-run"],
    "proj index push": ["contract-lib", "0.1.0", "--to", "qa", "--dry-run"],
    "ci list": ["--packl", "contract-lib"],
    "ci show": ["{job}"],
    "pipe run": ["-P", "{knights}", "-j", "1"],
    "pipe status": ["-P", "{knights}"],
    "pipe publish": ["summary", "-P", "{knights}"],
}


def _a_ci_job(project: Any) -> int:
    """A CI job for the published contract-lib, made as the runner's sweep would make it
    (recorded, queued), then cancelled so that no runner takes it."""
    from pipl.ci import db, outbox
    from pipl.index.session import connect

    with connect(project, "anonymous") as client:
        [link, *_] = client.links(project.stage_index(), "contract-lib", "0.1.0")
    conn = db.open_db(Path(project.root))
    try:
        outbox.record_event(
            conn,
            index=project.stage_index(),
            project="contract-lib",
            version="0.1.0",
            filename=link.basename,
            sha256=link.sha256,
            serial=0,
            source="sweep",
        )
        (event_id,) = conn.execute(
            "SELECT id FROM events WHERE project = 'contract-lib' ORDER BY id LIMIT 1"
        ).fetchone()
        event = outbox.get_event(conn, event_id)
        assert event is not None
        db.add_job(conn, handler="qa", rank=1, event=event, key="contract-lib 0.1.0")
        [job] = db.list_jobs(conn, project="contract-lib")
        db.cancel(conn, job.id, "made by the JSON contract test")
        return job.id
    finally:
        conn.close()


def json_commands() -> Iterator[tuple[str, click.Command]]:
    """Every command of the CLI tree that takes ``--json``."""
    for path, command in cli_commands():
        if any("--json" in p.opts for p in command.params if isinstance(p, click.Option)):
            yield path, command


def check_shape(value: Any, shape: Any, where: str) -> None:
    if isinstance(shape, list):
        assert isinstance(value, list), f"{where}: expected a list, got {value!r}"
        for n, item in enumerate(value):
            check_shape(item, shape[0], f"{where}[{n}]")
    elif isinstance(shape, dict) and set(shape) == {"*"}:
        assert isinstance(value, dict), f"{where}: expected a mapping, got {value!r}"
        for key, item in value.items():
            check_shape(item, shape["*"], f"{where}.{key}")
    elif isinstance(shape, dict):
        assert isinstance(value, dict), f"{where}: expected an object, got {value!r}"
        for key, item_shape in shape.items():
            assert key in value, f"{where}: missing key {key!r} in {sorted(value)}"
            check_shape(value[key], item_shape, f"{where}.{key}")
    else:
        assert isinstance(value, shape), f"{where}: {value!r} is not {shape}"


def documented_kinds() -> dict[str, str]:
    """``{kind: command}`` from the table rows of docs/json.md."""
    rows = re.findall(
        r"^\| `pipl ([a-z -]+?)(?: [A-Z.]+)* --json` \| `([a-z-]+)` \|", DOC.read_text(), re.M
    )
    return {kind: command for command, kind in rows}


def test_every_json_command_is_covered() -> None:
    found = {path for path, _ in json_commands()}
    assert found == set(CASES), "add a case (and a docs/json.md row) for each --json command"
    documented = set(documented_kinds().values())
    assert documented == found, f"docs/json.md rows differ: {sorted(documented ^ found)}"
    assert set(documented_kinds()) == set(SHAPES)


@pytest.fixture(scope="module")
def contract_ws(project: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = Path(project.root)
    result = run(["work", "create", "contract"], project=root)
    assert result.exit_code == 0, result.output
    result = run(
        ["packl", "create", "contract-lib", "--kind", "lib", "-w", "contract"], project=root
    )
    assert result.exit_code == 0, result.output
    data = tmp_path_factory.mktemp("contract")
    result = run(["packl", "publish", "-p", "contract-lib", "-w", "contract"], project=root)
    assert result.exit_code == 0, result.output
    (data / "job").write_text(str(_a_ci_job(project)))
    asset = data / "plate.exr"
    asset.write_bytes(b"pixels" * 100)
    shutil.copytree(EXAMPLES / "knights", data / "knights")
    result = run(["pipe", "run", "-P", str(data / "knights"), "-j", "1", "-q"], project=root)
    assert result.exit_code == 0, result.output
    yield data
    run(["work", "remove", "contract", "--yes"], project=root)


@pytest.mark.parametrize("command", sorted(CASES))
def test_json_output_has_its_documented_shape(
    project: Any, contract_ws: Path, command: str
) -> None:
    kind_of = {cmd: kind for kind, cmd in documented_kinds().items()}
    args = [
        a.replace("{asset}", str(contract_ws / "plate.exr"))
        .replace("{knights}", str(contract_ws / "knights"))
        .replace("{job}", (contract_ws / "job").read_text())
        for a in CASES[command]
    ]
    result = run([*command.split(), *args, "--json"], project=Path(project.root))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {"version", "kind", "data"}
    assert payload["version"] == 1
    assert payload["kind"] == kind_of[command]
    check_shape(payload["data"], SHAPES[payload["kind"]], payload["kind"])
