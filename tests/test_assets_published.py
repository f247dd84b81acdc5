"""The asset store against published products and real environments: garbage collection
that fails closed, manifests that cannot write outside a workspace, and the studio's own
store provider used by pipl's commands as by the packls."""

import hashlib
import json
import os
import subprocess
import time

import pytest
from pipl_pipe.assets.hashcache import HashCache
from pipl_pipe.assets.store import LocalStore

from pipl.assets.gc import collect
from pipl.index.wheelpack import write_wheel
from pipl.workspace.shell import workspace_env
from pipl.workspace.workspace import create_workspace, remove_workspace
from tests.helpers import fails, run

PROBE_INDEX = "gcprobe"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def product_wheel(dest, name, version, manifest, *, keywords="pipl-product,model"):
    """A product packl's wheel, as a tool other than this pipl could have written it."""
    module = name.replace("-", "_")
    metadata = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nKeywords: {keywords}\n"
        "Requires-Dist: pipl-pipe\n"
    ).encode()
    files = {
        f"{module}/__init__.py": (
            b"from pipl_pipe.products import Product\nPRODUCT = Product.from_package(__name__)\n"
        ),
        f"{module}/pipl_manifest.json": json.dumps(manifest).encode(),
    }
    entry_points = f"[pipl_pipe.product]\n{name} = {module}:PRODUCT\n".encode()
    return write_wheel(
        dest, name, version, files, {"METADATA": metadata, "entry_points.txt": entry_points}
    )


def manifest(name, asset_sha, *, fmt="pipl-product/1", suffix=".ma"):
    return {
        "format": fmt,
        "name": name,
        "version": "1.0.0",
        "type": "model",
        "description": "",
        "sources": [],
        "assets": [
            {
                "name": "scene",
                "type": "file",
                "sha256": asset_sha,
                "size": 6,
                "kind": "file",
                "suffix": suffix,
            }
        ],
    }


def aged(store, sha256, hours=2.0):
    old = time.time() - hours * 3600
    os.utime(store.object_path(sha256), (old, old))


def test_gc_keeps_what_was_added_again_within_the_grace(owner, tmp_path):
    store = LocalStore(tmp_path / "store", hashes=HashCache(tmp_path / "h.sqlite"))
    src = tmp_path / "frame.exr"
    src.write_bytes(b"a frame a product being built is about to reference")
    stored = store.put(src).sha256
    aged(store, stored)
    assert store.put(src).added is False  # a build stores its outputs again
    report = collect(owner, store, grace_seconds=3600)
    assert stored in report.kept_recent and not report.removed
    assert store.has(stored)
    aged(store, stored)
    report = collect(owner, store, grace_seconds=3600, dry_run=True)
    assert [s for s, _ in report.removed] == [stored]  # unreferenced and old: it would go


def test_gc_refuses_a_manifest_format_it_does_not_know(project, admin, owner, tmp_path):
    store = project.root / "assets"
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"old and unreferenced")
    added = json.loads(run(["asset", "add", str(junk), "--json"], project=project.root).output)
    junk_sha = added["data"][0]["sha256"]
    aged(LocalStore(store), junk_sha)
    index = f"{project.owner}/{PROBE_INDEX}"
    admin.create_index(index, acl_upload=[project.owner])
    try:
        wheel = product_wheel(
            tmp_path / "dist",
            "future-prod",
            "1.0.0",
            manifest("future-prod", "b" * 64, fmt="pipl-product/9"),
        )
        owner.upload(index, wheel)
        fails(
            run(["asset", "gc"], project=project.root),
            9,
            "product future-prod 1.0.0 on " + index,
            "format 'pipl-product/9'",
            "Nothing was removed",
        )
        fails(run(["asset", "gc", "--json"], project=project.root), 9, "future-prod")
        assert LocalStore(store).has(junk_sha)
    finally:
        admin.delete_index(index)
    report = json.loads(
        run(["asset", "gc", "--dry-run", "--grace", "1", "--json"], project=project.root).output
    )
    assert report["kind"] == "assets-gc" and report["data"]["dry_run"] is True
    data = report["data"]
    assert {"sha256": junk_sha, "size": 20} in data["removed"]
    assert set(data) == {
        "store",
        "dry_run",
        "grace_hours",
        "products",
        "referenced",
        "removed",
        "freed",
        "kept_recent",
    }
    assert data["store"] == str(store) and data["grace_hours"] == 1
    assert data["freed"] == sum(r["size"] for r in data["removed"])


def test_fetch_refuses_a_published_manifest_that_escapes_the_workspace(project, owner, tmp_path):
    payload = tmp_path / "payload"
    payload.write_bytes(b"pwned\n")
    assert run(["asset", "add", str(payload)], project=project.root).exit_code == 0
    evil = manifest("escape-prod", sha(b"pwned\n"), suffix="/../../../../home/x/.bashrc")
    wheel = product_wheel(tmp_path / "dist", "escape-prod", "1.0.0", evil)
    dev = project.stage_index()
    owner.upload(dev, wheel)
    ws = None
    try:
        ws = create_workspace(project, "escape", requirements=["escape-prod"])
        # where the suffix points: WS/assets/escape-prod/escape-prod.scene/../../../../
        outside = ws.path.parent / "home" / "x" / ".bashrc"
        fails(
            run(["work", "fetch-assets", "-w", "escape"], project=project.root),
            7,
            "escape-prod",
            "suffix '/../../../../home/x/.bashrc' is not a file extension",
        )
        assert not outside.exists() and not (ws.path.parent / "home").exists()
        assert not (ws.path / "assets").exists()
    finally:
        owner.delete_version(dev, "escape-prod", "1.0.0")
        if ws is not None:
            remove_workspace(ws)


STUDIO_STORE = """
from pathlib import Path

from pipl_pipe.assets.store import LocalStore


def make(config):
    print("studio-store: opening", config["url"])  # chatter must not reach pipl's channel
    return LocalStore(Path(config["url"]) / "studio", durable=False)
"""


def test_cli_uses_the_store_provider_named_in_pipl_toml(project, owner, tmp_path):
    elsewhere = tmp_path / "studio-assets"
    provider = write_wheel(
        tmp_path / "dist",
        "studio-store",
        "1.0.0",
        {"studio_store/__init__.py": STUDIO_STORE.encode()},
        {
            "METADATA": b"Metadata-Version: 2.1\nName: studio-store\nVersion: 1.0.0\n"
            b"Requires-Dist: pipl-pipe\n",
            "entry_points.txt": b"[pipl_pipe.services]\nasset_store = studio_store:make\n",
        },
    )
    dev = project.stage_index()
    owner.upload(dev, provider)
    toml = project.root / "pipl.toml"
    before = toml.read_text()
    toml.write_text(
        before + '\n[services]\nasset_store = "studio-store"\n\n'
        f'[config.asset_store]\nurl = "{elsewhere}"\n'
    )
    ws = None
    try:
        src = tmp_path / "plate.exr"
        src.write_bytes(b"studio pixels")

        def cli(*args):
            return run(["asset", *args], project=project.root)

        result = cli("add", str(src), "--json")
        assert result.exit_code == 0, result.output
        [row] = json.loads(result.output)["data"]
        assert row["sha256"] == sha(b"studio pixels") and row["added"] is True
        studio = elsewhere / "studio"
        assert (studio / "objects" / row["sha256"][:2] / row["sha256"]).is_file()
        assert (
            not (project.root / "assets" / "objects" / row["sha256"][:2])
            .joinpath(row["sha256"])
            .exists()
        )
        listing = json.loads(cli("ls", "--json").output)["data"]
        assert listing["store"] == str(studio)
        assert listing["objects"] == [{"sha256": row["sha256"], "size": 13, "kind": "file"}]
        verified = json.loads(cli("verify", "--json").output)["data"]
        assert verified == {"store": str(studio), "checked": 1, "corrupted": [], "missing": []}
        # gc reads ages through the provider's own store: a fresh object is kept
        kept = json.loads(cli("gc", "--dry-run", "--json").output)["data"]
        assert kept["kept_recent"] == [row["sha256"]] and kept["removed"] == []
        assert cli("get", row["sha256"], str(tmp_path / "back.exr")).exit_code == 0
        assert (tmp_path / "back.exr").read_bytes() == b"studio pixels"
        fails(cli("get", "e" * 64, str(tmp_path / "x")), 9, "not in the asset store " + str(studio))

        # a workspace's packls see the same store and read what the CLI stored
        ws = create_workspace(project, "studio", requirements=["studio-store"])
        code = (
            "from pipl_pipe.services import get_services; import sys\n"
            "store = get_services().asset_store\n"
            f"store.fetch({row['sha256']!r}, sys.argv[1])\n"
            "sys.stderr.write(store.url)\n"
        )
        done = subprocess.run(
            [ws.python, "-c", code, tmp_path / "ws-copy.exr"],
            env=workspace_env(project, ws),
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stderr == str(studio)
        assert (tmp_path / "ws-copy.exr").read_bytes() == b"studio pixels"
    finally:
        toml.write_text(before)
        owner.delete_version(dev, "studio-store", "1.0.0")
        if ws is not None:
            remove_workspace(ws)


def test_a_provider_that_is_not_on_the_index_is_named(project):
    pick = "no-such-store"
    toml = project.root / "pipl.toml"
    before = toml.read_text()
    toml.write_text(before + f'\n[services]\nasset_store = "{pick}"\n')
    try:
        result = run(["asset", "ls"], project=project.root)
        assert result.exit_code != 0
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error: ") and pick in lines[0], lines
    finally:
        toml.write_text(before)


def test_gc_reads_manifests_from_sdists_and_refuses_what_it_cannot_read(tmp_path):
    import io
    import tarfile

    from pipl.assets.gc import GcRefused, manifest_from_dist

    data = json.dumps(manifest("shot-prod", "c" * 64)).encode()
    sdist = tmp_path / "shot_prod-1.0.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tf:
        member = tarfile.TarInfo("shot_prod-1.0.0/shot_prod/pipl_manifest.json")
        member.size = len(data)
        tf.addfile(member, io.BytesIO(data))
    product = manifest_from_dist(sdist, "product shot-prod 1.0.0 on demo/dev")
    assert [a.sha256 for a in product.assets] == ["c" * 64]
    bare = write_wheel(
        tmp_path,
        "bare-prod",
        "1.0.0",
        {"bare_prod/__init__.py": b""},
        {"METADATA": b"Metadata-Version: 2.1\nName: bare-prod\nVersion: 1.0.0\n"},
    )
    with pytest.raises(GcRefused, match="bare-prod 1.0.0 on demo/dev is marked pipl-product"):
        manifest_from_dist(bare, "product bare-prod 1.0.0 on demo/dev")
