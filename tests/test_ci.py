"""CI on upload against a real devpi-server: events, the runner, the handlers, the CLI."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from ci_support import handled_index, run_until_idle, task_sdist
from helpers import fails, make_wheel, run

from pipl.ci import db, outbox
from pipl.ci.config import webhook_secret_file
from pipl.index.session import connect
from pipl.project.project import Project

BIN = Path(sys.executable).parent


def events(project: Project, index: str) -> list[outbox.Event]:
    conn = outbox.connect(outbox.ci_dir(project.root))
    try:
        rows = conn.execute(
            "SELECT id, ix, project, version, filename, sha256, serial, source, recorded "
            "FROM events WHERE ix = ? ORDER BY id",
            (index,),
        ).fetchall()
    finally:
        conn.close()
    return [outbox.Event(*r) for r in rows]


def wait_events(project: Project, index: str, n: int, timeout: float = 15.0) -> list[outbox.Event]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = events(project, index)
        if len(found) >= n:
            return found
        time.sleep(0.05)
    return events(project, index)


def test_default_stages_get_handlers_and_the_ci_user(ciproj):
    with connect(ciproj, "admin") as admin:
        dev, qa = admin.get_index("cip/dev"), admin.get_index("cip/qa")
        assert dev["pipl_handlers"] == ["qa", "wheel", "promote"]
        assert qa["pipl_handlers"] == ["process", "promote"]
        assert (
            "cip-ci" in qa["acl_upload"]
            and "cip-ci" not in admin.get_index("cip/base")["acl_upload"]
        )
        assert "cip-ci" in admin.users()
    assert (ciproj.secrets.path / "cip-ci.password").stat().st_mode & 0o777 == 0o600
    assert webhook_secret_file(ciproj).stat().st_mode & 0o777 == 0o600


def test_upload_records_one_event_and_none_without_handlers(ciproj, tmp_path):
    with connect(ciproj, "admin") as admin:
        ix = handled_index(admin, ciproj, "ev", ["webhook"])
        plain = handled_index(admin, ciproj, "plain", [])
    wheel = make_wheel(tmp_path, "evpkg", "1.0")
    with connect(ciproj, "owner") as owner:
        owner.upload(ix, wheel)
        owner.upload(plain, wheel)
        found = wait_events(ciproj, ix, 1)
        # devpi fires the hook again for an identical upload to a volatile index
        owner._send(
            "POST",
            f"/{ix}/",
            "upload again",
            data={
                ":action": "file_upload",
                "name": "evpkg",
                "version": "1.0",
                "protocol_version": "1",
            },
            files={"content": (wheel.name, wheel.read_bytes())},
        )
    time.sleep(1.0)
    found = events(ciproj, ix)
    assert [(e.project, e.version, e.filename) for e in found] == [
        ("evpkg", "1.0", "evpkg-1.0-py3-none-any.whl")
    ]
    assert found[0].sha256 == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert events(ciproj, plain) == []


def test_twine_and_devpi_client_uploads_become_jobs(ciproj, tmp_path):
    with connect(ciproj, "admin") as admin:
        ix = handled_index(admin, ciproj, "clients", ["webhook"])
    password = ciproj.secrets.password(ciproj.owner)
    one = make_wheel(tmp_path / "a", "by-twine", "1.0")
    two = make_wheel(tmp_path / "b", "by-devpi", "1.0")
    subprocess.run(
        [
            BIN / "twine",
            "upload",
            "--non-interactive",
            "--repository-url",
            f"{ciproj.url}/{ix}/",
            one,
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "TWINE_USERNAME": ciproj.owner, "TWINE_PASSWORD": password},
    )
    client_dir = tmp_path / "devpi-client"
    env = {"DEVPI_CLIENTDIR": str(client_dir), "PATH": str(BIN), "HOME": str(tmp_path)}
    for argv in (
        ["use", f"{ciproj.url}/{ix}"],
        ["login", ciproj.owner, f"--password={password}"],
        ["upload", "--from-dir", two.parent],
    ):
        subprocess.run([BIN / "devpi", *argv], check=True, capture_output=True, env=env)
    jobs = [j for j in run_until_idle(ciproj) if j.index == ix]
    assert sorted((j.project, j.handler, j.state) for j in jobs) == [
        ("by-devpi", "webhook", "passed"),
        ("by-twine", "webhook", "passed"),
    ]


def test_the_loop_wheel_qa_promote_process_product_installs(ciproj, tmp_path):
    sdist = task_sdist(tmp_path, "loop-task", "0.1.0")
    with connect(ciproj, "owner") as owner:
        owner.upload("cip/dev", sdist)
    jobs = [j for j in run_until_idle(ciproj) if j.project == "loop-task"]
    seen = [(j.index, j.handler, j.state) for j in jobs]
    for expected in [
        ("cip/dev", "wheel", "passed"),
        ("cip/dev", "qa", "passed"),
        ("cip/dev", "promote", "passed"),
        ("cip/qa", "promote", "passed"),
        ("cip/qa", "process", "passed"),
    ]:
        assert expected in seen, (expected, seen)
    by = {(j.index, j.handler): j for j in jobs}
    assert by["cip/dev", "wheel"].finished <= by["cip/dev", "qa"].started
    assert by["cip/dev", "qa"].finished <= by["cip/dev", "promote"].started
    # products land beside their release (qa) and move on with it (prod)
    assert "published 2 file(s) to cip/qa" in by["cip/qa", "process"].message
    with connect(ciproj, "anonymous") as anon:
        dev_files = {lk.basename: lk for lk in anon.links("cip/dev", "loop-task", "0.1.0")}
        assert "loop_task-0.1.0-py3-none-any.whl" in dev_files
        results = [lk for lk in dev_files.values() if lk.rel == "toxresult"]
        assert results, "QA and the wheel's build log are attached as toxresults"
        assert anon.links("cip/prod", "loop-task-report", "0.1.0")
    # plain pip installs the product from the downstream index
    subprocess.run(
        [
            BIN / "pip",
            "install",
            "--quiet",
            "--target",
            tmp_path / "site",
            "--index-url",
            ciproj.simple_url("cip/prod"),
            "loop-task-report",
        ],
        check=True,
        capture_output=True,
    )
    assert (tmp_path / "site" / "loop_task_report").is_dir()
    # the same release processed again publishes nothing new
    conn = db.open_db(ciproj.root)
    conn.execute("UPDATE jobs SET state = 'failed' WHERE id = ?", (by["cip/qa", "process"].id,))
    db.retry(conn, by["cip/qa", "process"].id)
    conn.close()
    again = {j.id: j for j in run_until_idle(ciproj)}[by["cip/qa", "process"].id]
    log = (ciproj.root / ".pipl" / "ci" / "logs" / f"{again.id}.log").read_text()
    assert again.state == "passed", log
    assert "loop-task-report 0.1.0 published already" in again.message, log


def test_qa_failure_stops_promotion(ciproj, tmp_path):
    sdist = task_sdist(tmp_path, "bad-task", "0.1.0", ok=False)
    with connect(ciproj, "owner") as owner:
        owner.upload("cip/dev", sdist)
    jobs = {j.handler: j for j in run_until_idle(ciproj) if j.project == "bad-task"}
    assert jobs["qa"].state == "failed" and "QA of bad-task 0.1.0 failed" in jobs["qa"].message
    assert jobs["promote"].state == "cancelled" and "qa failed" in jobs["promote"].message
    with connect(ciproj, "anonymous") as anon:
        assert anon.links("cip/qa", "bad-task", "0.1.0") == []


class _Receiver(BaseHTTPRequestHandler):
    got: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    fail_first = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if _Receiver.fail_first > 0:
            _Receiver.fail_first -= 1
            self.send_response(503)
        else:
            _Receiver.got.append((dict(self.headers), body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_webhook_posts_signed_events_with_retries(ciproj, tmp_path):
    httpd = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    _Receiver.fail_first = 1
    toml = ciproj.root / "pipl.toml"
    before = toml.read_text()
    toml.write_text(before + f'\n[ci.webhook]\nurls = ["http://127.0.0.1:{httpd.server_port}/h"]\n')
    try:
        with connect(ciproj, "admin") as admin:
            ix = handled_index(admin, ciproj, "hooked", ["webhook"])
        wheel = make_wheel(tmp_path, "hooked-pkg", "2.0")
        with connect(ciproj, "owner") as owner:
            owner.upload(ix, wheel)
        jobs = [j for j in run_until_idle(ciproj) if j.index == ix]
    finally:
        toml.write_text(before)
        httpd.shutdown()
    assert [j.state for j in jobs] == ["passed"]
    assert len(_Receiver.got) == 1
    headers, body = _Receiver.got[0]
    secret = webhook_secret_file(ciproj).read_text().strip().encode()
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    assert headers["X-Pipl-Signature-256"] == expected
    data = json.loads(body)
    assert (data["index"], data["name"], data["version"]) == (ix, "hooked-pkg", "2.0")
    assert data["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()


def test_ci_cli_list_show_logs_retry_cancel(ciproj, tmp_path):
    with connect(ciproj, "admin") as admin:
        ix = handled_index(admin, ciproj, "cli", ["webhook"])
    with connect(ciproj, "owner") as owner:
        owner.upload(ix, make_wheel(tmp_path, "cli-pkg", "1.0"))
    jobs = [j for j in run_until_idle(ciproj) if j.index == ix]
    job = jobs[0]
    listed = run(["ci", "list", "--packl", "cli-pkg", "--json"], project=ciproj.root)
    data = json.loads(listed.output)["data"]
    assert [(d["handler"], d["state"]) for d in data] == [("webhook", "passed")]
    shown = run(["ci", "show", str(job.id)], project=ciproj.root)
    assert "cli-pkg 1.0 on cip/cli" in shown.output and "passed" in shown.output
    logs = run(["ci", "logs", str(job.id), "-f"], project=ciproj.root)
    assert "== passed" in logs.output
    fails(run(["ci", "retry", str(job.id)], project=ciproj.root), 2, "only failed or cancelled")
    fails(run(["ci", "cancel", str(job.id)], project=ciproj.root), 2, "passed already")
    fails(run(["ci", "show", "99999"], project=ciproj.root), 2, "no CI job 99999")


def test_ci_user_uploads_only_where_it_must(ciproj, tmp_path):
    from pipl.ci.login import ci_login
    from pipl.errors import AuthError
    from pipl.index.client import IndexClient

    wheel = make_wheel(tmp_path, "ci-acl", "1.0")
    with IndexClient(ciproj.url) as client:
        ci_login(ciproj, client)
        assert client.whoami() == "cip-ci"
        with pytest.raises(AuthError):
            client.upload("cip/base", wheel)
        assert client.upload("cip/prod", wheel).uploaded


def test_events_with_unsafe_names_make_no_job(ciproj):
    conn = outbox.connect(outbox.ci_dir(ciproj.root))
    for filename in ("../../etc/x-1.0.tar.gz", "x-1.0.tar.gz; rm -rf ~"):
        outbox.record_event(
            conn,
            index="cip/dev",
            project="x",
            version="1.0",
            filename=filename,
            sha256="a" * 64,
            serial=1,
            source="test",
        )
    outbox.record_event(
        conn,
        index="cip/dev",
        project="x",
        version="1.0 --index-url=evil",
        filename="x-1.0.tar.gz",
        sha256="b" * 64,
        serial=1,
        source="test",
    )
    conn.close()
    jobs = run_until_idle(ciproj)
    assert not [j for j in jobs if j.project == "x"]


def test_handlers_per_stage_come_from_pipl_toml(ciproj):
    toml = ciproj.root / "pipl.toml"
    before = toml.read_text()
    try:
        toml.write_text(before + '\n[ci.handlers]\ndev = ["webhook", "qa"]\nprod = ["webhook"]\n')
        result = run(["proj", "index", "create-default"], project=ciproj.root)
        assert result.exit_code == 0, result.output
        with connect(ciproj, "anonymous") as anon:
            assert anon.get_index("cip/dev")["pipl_handlers"] == ["webhook", "qa"]
            assert anon.get_index("cip/prod")["pipl_handlers"] == ["webhook"]
        toml.write_text(before + "\n[ci]\nworkers = 0\n")
        fails(run(["proj", "index", "create-default"], project=ciproj.root), 3, "[ci] workers")
    finally:
        toml.write_text(before)
        assert run(["proj", "index", "create-default"], project=ciproj.root).exit_code == 0


PIPELINE_MODULE = '''\
"""A pipeline packl: source -> double."""

PIPELINE = "source -> double;"
SEGMENTS = {{"double": {{"params": {{"factor": {factor}}}}}}}
PUSH = {{"source": [1, 2, 3]}}


def process(outdir):
    from pipl.pipe import load_module_pipeline, run  # pipl is not on the index

    run(load_module_pipeline(__name__, outdir / "pipe-data"))
    return []
'''
PIPELINE_SEGMENTS = {
    "segments/source.py": "seg_output = [get_input()]\n",
    "segments/double.py": (
        "import pipe_demo  # installed in the job's environment only\n"
        'value = get_input("source") * params["factor"]\n'
        'with open(get_data_fn("value.txt"), "w") as f:\n'
        '    f.write(f"{value}\\n")\n'
        "set_output(value)\n"
    ),
}


def test_process_runs_a_pipeline_packl_and_publishes_its_leaves_once(ciproj, tmp_path):
    def publish(version: str, factor: int) -> db.Job:
        wheel = make_wheel(
            tmp_path / version,
            "pipe-demo",
            version,
            requires=["pipl-pipe"],
            body=PIPELINE_MODULE.format(factor=factor),
            files=PIPELINE_SEGMENTS,
            entry_points={
                "pipl_pipe.pipeline": {"pipe-demo": "pipe_demo:PIPELINE"},
                "pipl.process": {"pipe-demo": "pipe_demo:process"},
            },
        )
        with connect(ciproj, "owner") as owner:
            owner.upload(index, wheel)
        return next(
            j
            for j in run_until_idle(ciproj)
            if (j.project, j.version, j.handler) == ("pipe-demo", version, "process")
        )

    index = ciproj.stage_index("qa")  # a stage whose CI runs process
    first = publish("0.1.0", 2)
    log = (ciproj.root / ".pipl" / "ci" / "logs" / f"{first.id}.log").read_text()
    assert first.state == "passed", log
    assert "pipeline pipe-demo: 6 instance(s) ran, 0 reused" in first.message
    product_version, *_, target = first.message.rpartition("pipe-demo-double ")[2].split(" ")
    with connect(ciproj, "anonymous") as anon:
        files = [lk.basename for lk in anon.links(target, "pipe-demo-double", product_version)]
    assert files, first.message
    data = ciproj.root / ".pipl" / "pipe-data" / "pipe-demo"
    assert sorted(p.read_text() for p in data.rglob("value.txt")) == ["2\n", "4\n", "6\n"]
    # the same release processed again computes nothing and publishes nothing new
    conn = db.open_db(ciproj.root)
    conn.execute("UPDATE jobs SET state = 'failed' WHERE id = ?", (first.id,))
    db.retry(conn, first.id)
    conn.close()
    again = {j.id: j for j in run_until_idle(ciproj)}[first.id]
    assert again.state == "passed", again.message
    assert again.message == (
        f"pipeline pipe-demo: 0 instance(s) ran, 6 reused; "
        f"pipe-demo-double {product_version} published already"
    )
    # a new release changing one segment's parameters recomputes that segment alone
    second = publish("0.2.0", 3)
    assert second.state == "passed", second.message
    assert "pipeline pipe-demo: 3 instance(s) ran, 3 reused; published pipe-demo-double" in (
        second.message
    )
    assert product_version not in second.message


def test_handlers_set_on_a_known_index_are_seen_without_a_restart(ciproj):
    from pipl.ci.intake import IndexCache

    with connect(ciproj, "admin") as admin:
        ix = handled_index(admin, ciproj, "late", [])
        cache = IndexCache(admin)
        cache.refresh()
        assert cache.handlers(ix) == []
        admin.modify_index(ix, pipl_handlers=["webhook"])
        time.sleep(1.1)  # the cache reads devpi again at most once a second
        assert cache.handlers(ix) == ["webhook"]


def test_an_index_made_just_after_a_read_of_the_indexes_is_seen_at_once(ciproj):
    """An upload to an index created a moment after the runner read the indexes makes
    its jobs: an unknown index is read again at once, not after the one-second pause."""
    from pipl.ci.intake import IndexCache

    with connect(ciproj, "admin") as admin:
        cache = IndexCache(admin)
        cache.refresh()
        ix = handled_index(admin, ciproj, "fresh", ["webhook"])
        assert cache.handlers(ix) == ["webhook"]
