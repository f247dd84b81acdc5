"""The lifecycle of a release on a real server: yanked (PEP 592) and restored on a stage,
removed from the first stage, and what was made from it, transitively."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipl import Client
from pipl.index.client import IndexClient
from pipl.index.session import connect
from pipl.index.wheelpack import write_wheel
from pipl.index.yank import set_yanked, yank_state
from tests.ci_support import handled_index, run_until_idle
from tests.helpers import fails, make_wheel, run

STRANGER = "life-stranger"
STRANGER_PASSWORD = "stranger-secret-1"


@pytest.fixture(scope="module")
def stranger(project) -> Iterator[str]:
    """A user who maintains nothing."""
    with connect(project, "admin") as admin:
        if STRANGER not in admin.users():
            admin.create_user(STRANGER, STRANGER_PASSWORD)
        yield STRANGER
        admin.delete_user(STRANGER)


def pip_install(project, index: str, requirement: str, target: Path) -> str:
    """Install ``requirement`` from ``index`` with pip into ``target``; the version
    installed."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            "--index-url",
            project.simple_url(index),
            requirement,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    name = requirement.split("=")[0].replace("-", "_")
    [dist] = target.glob(f"{name}-*.dist-info")
    return dist.name.removesuffix(".dist-info").split("-")[1]


def cli(project, *args: str):
    return run(["proj", "index", *args], project=project.root)


def test_a_yanked_release_is_installed_only_when_pinned(project, owner, tmp_path):
    qa = project.stage_index("qa")
    for version in ("1.0.0", "2.0.0"):
        owner.upload(qa, make_wheel(tmp_path / version, "life-yank", version))

    yanked = cli(project, "yank", "life-yank", "2.0.0", "--stage", "qa", "--reason", "broken")
    assert yanked.exit_code == 0, yanked.output
    page = httpx.get(f"{project.simple_url(qa)}life-yank/").text
    assert 'data-yanked="broken"' in page and page.count("data-yanked") == 1
    assert pip_install(project, qa, "life-yank", tmp_path / "a") == "1.0.0"
    assert pip_install(project, qa, "life-yank==2.0.0", tmp_path / "b") == "2.0.0"
    state = yank_state(owner, qa, "life-yank", "2.0.0")
    assert state.yanked and state.reason == "broken"

    restored = cli(project, "yank", "life-yank", "2.0.0", "--stage", "qa", "--undo", "--json")
    assert restored.exit_code == 0, restored.output
    assert json.loads(restored.output)["data"]["yanked"] is False
    assert "data-yanked" not in httpx.get(f"{project.simple_url(qa)}life-yank/").text
    assert pip_install(project, qa, "life-yank", tmp_path / "c") == "2.0.0"


def test_only_maintainers_yank(project, owner, stranger, tmp_path):
    qa = project.stage_index("qa")
    owner.upload(qa, make_wheel(tmp_path, "life-mine", "1.0.0"))
    with IndexClient(project.url) as other:
        other.login(stranger, STRANGER_PASSWORD)
        with pytest.raises(Exception, match=f"{stranger} may not yank or restore life-mine"):
            set_yanked(other, qa, "life-mine", "1.0.0", reason="not mine")
    assert not yank_state(owner, qa, "life-mine", "1.0.0").yanked
    assert "data-yanked" not in httpx.get(f"{project.simple_url(qa)}life-mine/").text


def test_remove_is_for_the_first_stage_only(project, owner, tmp_path):
    dev, qa = project.stage_index(), project.stage_index("qa")
    owner.upload(dev, make_wheel(tmp_path / "dev", "life-gone", "1.0.0"))
    owner.upload(qa, make_wheel(tmp_path / "qa", "life-kept", "1.0.0"))

    refused = cli(project, "remove", "life-kept", "1.0.0", "--stage", "qa", "--yes")
    fails(refused, 2, "keeps its releases", "pipl proj index yank life-kept 1.0.0 --stage qa")
    assert "1.0.0" in owner.versions(qa, "life-kept", inherited=False)

    removed = cli(project, "remove", "life-gone", "1.0.0", "--yes")
    assert removed.exit_code == 0, removed.output
    assert "1.0.0" not in owner.versions(dev, "life-gone", inherited=False)


def product_wheel(tmp: Path, name: str, source: Path) -> Path:
    """Product NAME 1.0 whose manifest pins the release of wheel ``source``."""
    import hashlib

    src_name, src_version = source.name.split("-")[:2]
    pin = f"{src_name.replace('_', '-')}=={src_version}"
    doc = {
        "format": "pipl-product/2",
        "name": name,
        "version": "1.0",
        "type": "report",
        "description": f"made from {pin}",
        "sources": [pin],
        "source_files": {pin: {source.name: hashlib.sha256(source.read_bytes()).hexdigest()}},
        "assets": [],
    }
    module = name.replace("-", "_")
    metadata = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\nKeywords: pipl-product,report\n"
        f"Requires-Dist: {pin}\n"
    ).encode()
    files = {f"{module}/__init__.py": b"", f"{module}/pipl_manifest.json": json.dumps(doc).encode()}
    return write_wheel(tmp / name, name, "1.0", files, {"METADATA": metadata})


def test_derived_follows_products_of_products(project, owner, web, tmp_path):
    dev = project.stage_index()
    task = make_wheel(tmp_path / "task", "life-task", "1.0")
    first = product_wheel(tmp_path, "life-task-report", task)
    second = product_wheel(tmp_path, "life-task-summary", first)
    for wheel in (task, first, second):
        owner.upload(dev, wheel)

    found = cli(project, "derived", "life-task", "1.0", "--json")
    assert found.exit_code == 0, found.output
    assert [(d["project"], d["source"], d["depth"]) for d in json.loads(found.output)["data"]] == [
        ("life-task-report", "life-task==1.0", 1),
        ("life-task-summary", "life-task-report==1.0", 2),
    ]
    with Client(web) as client:
        assert [d.project for d in client.releases.derived("life-task-report", "1.0")] == [
            "life-task-summary"
        ]
        products = {p.name: p for p in client.releases.products(limit=500)}
    assert products["life-task-summary"].from_yanked == []

    set_yanked(owner, dev, "life-task", "1.0", reason="wrong frames")
    with Client(web) as client:
        products = {p.name: p for p in client.releases.products(limit=500)}
        release = client.releases.get("dev", "life-task-summary", "1.0")
    assert products["life-task-summary"].from_yanked == ["life-task==1.0"]
    assert release.from_yanked == ["life-task==1.0"]
    page = httpx.get(f"{web}/products", params={"limit": 500}).text
    assert "made from a yanked release" in page
    assert (
        "made from a yanked release" in httpx.get(f"{web}/releases/dev/life-task-summary/1.0").text
    )


def test_ci_does_not_promote_a_yanked_release(ciproj, tmp_path):
    with connect(ciproj, "admin") as admin:
        target = handled_index(admin, ciproj, "life-dst", [])
        source = handled_index(admin, ciproj, "life-src", ["qa", "promote"], promote_to=target)
    with connect(ciproj, "owner") as owner:
        owner.upload(source, make_wheel(tmp_path, "life-held", "1.0.0"))
        set_yanked(owner, source, "life-held", "1.0.0", reason="bad data")
    jobs = [j for j in run_until_idle(ciproj) if (j.index, j.project) == (source, "life-held")]
    [promote] = [j for j in jobs if j.handler == "promote"]
    assert promote.state == "failed", promote
    assert "not promoted: life-held 1.0.0 is yanked" in promote.message
    assert "--undo" in promote.message
    with connect(ciproj, "owner") as owner:
        assert "1.0.0" not in owner.versions(target, "life-held", inherited=False)
