"""The content-addressed asset store: atomic writes, verified reads, types, CLI, gc."""

import hashlib
import json
import os
import stat
import threading

import pytest
from pipl_pipe.assets.hashcache import HashCache
from pipl_pipe.assets.service import open_store
from pipl_pipe.assets.store import LocalStore
from pipl_pipe.assets.types import AssetType, asset_type, get_asset_type, known_types
from pipl_pipe.entrypoints import EntryPointIndex
from pipl_pipe.errors import AssetCorrupted, AssetError, AssetMissing

from pipl.assets.gc import collect
from pipl.product.build import ProductSpec, build_product
from tests.fakedists import forget_modules, make_dist
from tests.helpers import fails, run


@pytest.fixture
def store(tmp_path):
    return LocalStore(tmp_path / "store", hashes=HashCache(tmp_path / "hashes.sqlite"))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_files_are_stored_by_sha256_read_only(store, tmp_path):
    src = tmp_path / "plate.exr"
    src.write_bytes(b"pixels" * 1000)
    stored = store.put(src)
    assert (stored.sha256, stored.size, stored.kind, stored.added) == (
        sha(src.read_bytes()),
        6000,
        "file",
        True,
    )
    obj = store.object_path(stored.sha256)
    assert obj == store.root / "objects" / stored.sha256[:2] / stored.sha256
    assert stat.S_IMODE(obj.stat().st_mode) == 0o444
    assert store.put(src).added is False  # known by its stat: not even read again
    copy = tmp_path / "copy.exr"
    copy.write_bytes(src.read_bytes())
    assert store.put(copy).added is False  # same content, same object
    assert list(store.objects()) == [(stored.sha256, 6000)]
    assert not any((store.root / "incoming").iterdir())


def test_folders_are_trees_of_objects(store, tmp_path):
    folder = tmp_path / "textures"
    (folder / "sub").mkdir(parents=True)
    (folder / "wood.tex").write_bytes(b"wood")
    (folder / "sub" / "tool.sh").write_text("#!/bin/sh\necho hi\n")
    (folder / "sub" / "tool.sh").chmod(0o755)
    tree = store.put(folder)
    assert tree.kind == "tree" and tree.size == 4 + 18
    assert store.kind_of(tree.sha256) == "tree"
    assert {e["path"] for e in store.read_tree(tree.sha256)} == {"wood.tex", "sub/tool.sh"}
    assert store.put(folder).sha256 == tree.sha256  # canonical: same folder, same hash
    out = store.fetch(tree.sha256, tmp_path / "out", "tree")
    assert (out / "wood.tex").read_bytes() == b"wood"
    assert os.access(out / "sub" / "tool.sh", os.X_OK)


def test_reads_verify_and_corruption_is_named(store, tmp_path):
    src = tmp_path / "a.bin"
    src.write_bytes(b"original")
    stored = store.put(src)
    obj = store.object_path(stored.sha256)
    obj.chmod(0o644)
    obj.write_bytes(b"tampered")
    with pytest.raises(AssetCorrupted, match=f"object {stored.sha256} .* is corrupted"):
        store.verify(stored.sha256)
    with pytest.raises(AssetCorrupted):
        store.fetch(stored.sha256, tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.bin")]
    missing = "0" * 64
    with pytest.raises(AssetMissing, match=f"object {missing} is not in the asset store"):
        store.fetch(missing, tmp_path / "x")
    with pytest.raises(AssetError, match="is not a sha256"):
        store.fetch("../../etc/passwd", tmp_path / "x")
    with pytest.raises(AssetMissing, match="no such file"):
        store.put(tmp_path / "nope")


def test_concurrent_writers_of_the_same_content(tmp_path):
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 << 20))
    errors = []

    def add(n):
        try:
            # no shared hash cache: every writer hashes and copies for real
            LocalStore(tmp_path / "store", hashes=HashCache(tmp_path / f"h{n}.sqlite")).put(src)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    store = LocalStore(tmp_path / "store")
    assert [s for s, _ in store.objects()] == [sha(src.read_bytes())]
    store.verify(sha(src.read_bytes()))
    assert not any((tmp_path / "store" / "incoming").iterdir())


def test_a_failed_write_leaves_nothing(store, tmp_path, monkeypatch):
    src = tmp_path / "a.bin"
    src.write_bytes(b"content")

    def boom(*args):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        store.put(src)
    monkeypatch.undo()
    assert list(store.objects()) == []
    assert not any((store.root / "incoming").iterdir())
    assert store.put(src).added is True  # the hash cache did not remember a failed add


def test_fsspec_store(tmp_path):
    remote = open_store("memory://pipl-test-store", hashes=HashCache(tmp_path / "h.sqlite"))
    src = tmp_path / "f.bin"
    src.write_bytes(b"remote bytes")
    stored = remote.put(src)
    assert remote.has(stored.sha256) and remote.put(src).added is False
    assert remote.fetch(stored.sha256, tmp_path / "back.bin").read_bytes() == b"remote bytes"
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "x").write_text("x")
    tree = remote.put(folder)
    assert remote.kind_of(tree.sha256) == "tree"
    assert (remote.fetch(tree.sha256, tmp_path / "dir2", "tree") / "x").read_text() == "x"
    assert {s for s, _ in remote.objects()} >= {stored.sha256, tree.sha256}
    remote.fs.pipe_file(remote._key(stored.sha256), b"evil")
    with pytest.raises(AssetCorrupted):
        remote.verify(stored.sha256)


def test_asset_types_own_their_file_names(tmp_path, monkeypatch):
    @asset_type
    class Alembic(AssetType):
        name = "test-alembic"
        extension = "abc"

    assert get_asset_type("test-alembic") is Alembic
    assert Alembic.filename("chair-model", "cache") == "chair-model.cache.abc"
    assert get_asset_type("file").filename("p", "notes", ".txt") == "p.notes.txt"
    assert get_asset_type("folder").filename("p", "frames", ".x") == "p.frames"
    with pytest.raises(AssetError, match="unknown asset type 'nope'"):
        get_asset_type("nope", EntryPointIndex([]))

    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    make_dist(
        site,
        "fx-types",
        modules={
            "fx_types": (
                "from pipl_pipe.assets.types import AssetType, asset_type\n"
                "@asset_type\nclass Vdb(AssetType):\n    name = 'test-vdb'\n    extension = 'vdb'\n"
                "SIMPLE = {'test-bgeo': 'bgeo'}\n"
            )
        },
        entry_points={"pipl_pipe.asset_type": {"fx": "fx_types", "simple": "fx_types:SIMPLE"}},
    )
    index = EntryPointIndex([str(site)])
    assert {"test-vdb", "test-bgeo"} <= set(known_types(index))
    assert get_asset_type("test-bgeo", index).filename("p", "sim") == "p.sim.bgeo"
    forget_modules("fx_types")


def test_cli_add_ls_get_verify(project, tmp_path):
    src = tmp_path / "model.ma"
    src.write_text("//Maya ASCII\n")
    result = run(["asset", "add", str(src), "--json"], project=project.root)
    [row] = json.loads(result.output)["data"]
    assert row["sha256"] == sha(src.read_bytes()) and row["added"] is True
    assert "already stored" in run(["asset", "add", str(src)], project=project.root).output
    listing = json.loads(run(["asset", "ls", "--json"], project=project.root).output)["data"]
    assert row["sha256"] in {o["sha256"] for o in listing["objects"]}
    assert listing["store"] == str(project.root / "assets")
    out = tmp_path / "back.ma"
    assert run(["asset", "get", row["sha256"], str(out)], project=project.root).exit_code == 0
    assert out.read_text() == "//Maya ASCII\n"
    assert run(["asset", "verify", row["sha256"]], project=project.root).exit_code == 0
    obj = project.root / "assets" / "objects" / row["sha256"][:2] / row["sha256"]
    obj.chmod(0o644)
    obj.write_text("broken")
    fails(
        run(["asset", "verify", row["sha256"]], project=project.root),
        9,
        "1 of 1 objects are corrupted",
        row["sha256"],
    )
    fails(
        run(["asset", "get", row["sha256"], str(tmp_path / "again")], project=project.root),
        9,
        "is corrupted",
    )
    obj.unlink()
    fails(
        run(["asset", "get", "f" * 64, str(tmp_path / "x")], project=project.root),
        9,
        "not in the asset store",
    )


def test_gc_keeps_what_published_products_reference(project, owner, tmp_path):
    store = LocalStore(tmp_path / "gc-store", hashes=HashCache(tmp_path / "h.sqlite"))
    outputs = tmp_path / "out"
    outputs.mkdir()
    (outputs / "geo.abc").write_bytes(b"geometry")
    (outputs / "maps").mkdir()
    (outputs / "maps" / "a.tex").write_bytes(b"map a")
    built = build_product(
        outputs,
        ProductSpec("gc-probe", "model", "1.0.0"),
        store=store,
        workdir=tmp_path / "work",
        index_url=project.simple_url(),
    )
    for path in built.files:
        owner.upload(project.stage_index(), path)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"nobody needs me")
    junk_sha = store.put(junk).sha256
    recent = collect(owner, store, grace_seconds=3600, dry_run=True)
    assert junk_sha in recent.kept_recent and not recent.removed
    report = collect(owner, store, grace_seconds=0)
    assert [s for s, _ in report.removed] == [junk_sha]
    assert any("gc-probe 1.0.0" in p for p in report.products)
    kept = {s for s, _ in store.objects()}
    assert {a.sha256 for a in built.assets} <= kept
    assert sha(b"map a") in kept  # a file of a referenced folder (tree)
    assert junk_sha not in kept
