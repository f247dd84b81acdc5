"""The content-addressed asset store: atomic writes, verified reads, types, CLI, gc."""

import hashlib
import json
import os
import shutil
import stat
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pipl_pipe.assets.hashcache import HashCache
from pipl_pipe.assets.objects import tree_document
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
    first = tmp_path / "first.bin"
    first.write_bytes(b"already there")
    kept = store.put(first).sha256
    src = tmp_path / "a.bin"
    src.write_bytes(b"content")

    def boom(*args):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        store.put(src)
    monkeypatch.undo()
    assert list(store.objects()) == [(kept, 13)]
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


def _stores(tmp_path):
    hashes = HashCache(tmp_path / "h.sqlite")
    return {
        "local": LocalStore(tmp_path / "store", hashes=hashes),
        "fsspec": open_store(f"memory://pipl-test-{uuid.uuid4().hex}", hashes=hashes),
    }


def _fifo(tmp_path, data):
    """A named pipe fed ``data`` by a thread: it can be read once, and only once."""
    fifo = tmp_path / "stream"
    os.mkfifo(fifo)

    def feed():
        with fifo.open("wb") as fh:
            fh.write(data)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    return fifo, feeder


@pytest.mark.parametrize("kind", ["local", "fsspec"])
def test_one_read_feeds_the_copy_and_the_hash(tmp_path, kind):
    store = _stores(tmp_path)[kind]
    data = os.urandom((20 << 20) + 12345)  # several chunks: the hash runs beside the copy
    fifo, feeder = _fifo(tmp_path, data)
    try:
        stored = store.put(fifo)
    finally:
        feeder.join(timeout=10)
        if feeder.is_alive():  # the store did not read it: unblock the feeder
            # a reader opened without waiting: a feeder that already left never blocks it
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
            os.set_blocking(fd, True)
            with os.fdopen(fd, "rb") as fh:
                fh.read()
        feeder.join()
    assert (stored.sha256, stored.size, stored.kind) == (sha(data), len(data), "file")
    store.verify(stored.sha256)
    assert store.fetch(stored.sha256, tmp_path / "back.bin").read_bytes() == data


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs /proc")
@pytest.mark.parametrize("kind", ["local", "fsspec"])
def test_a_file_whose_stat_tells_nothing_is_stored_under_its_real_hash(tmp_path, kind):
    store = _stores(tmp_path)[kind]
    stored = store.put(Path("/proc/self/status"))  # size 0 in stat; content on read
    assert stored.size > 0
    store.verify(stored.sha256)  # the name is the hash of the bytes stored


def test_a_file_changing_while_it_is_added_is_never_misnamed(store, tmp_path):
    src = tmp_path / "cache.abc"
    versions = [bytes([n]) * (24 << 20) for n in range(4)]
    src.write_bytes(versions[0])
    stop = threading.Event()

    def keep_rewriting():  # in place, as a tool still writing its output would
        n = 0
        while not stop.is_set():
            with src.open("r+b") as fh:
                fh.write(versions[n % 4])
            n += 1

    writer = threading.Thread(target=keep_rewriting, daemon=True)
    writer.start()
    outcomes = []
    try:
        for _ in range(5):
            try:
                outcomes.append(store.put(src).sha256)
            except AssetError as exc:
                assert "changed while it was being added" in str(exc)
                outcomes.append("refused")
    finally:
        stop.set()
        writer.join()
    assert all(store.has(o) for o in outcomes if o != "refused")
    for obj, _ in store.objects():
        store.verify(obj)  # every stored object hashes to its name
    assert not any((store.root / "incoming").iterdir())


def test_the_copy_is_hashed_when_the_kernel_cannot_copy(store, tmp_path, monkeypatch):
    src = tmp_path / "plate.exr"
    data = os.urandom((40 << 20) + 7)
    src.write_bytes(data)
    real = os.copy_file_range
    calls = []

    def once_then_refuse(*args):
        calls.append(args)
        if len(calls) > 1:
            raise OSError(18, "Invalid cross-device link")
        return real(*args)

    monkeypatch.setattr(os, "copy_file_range", once_then_refuse)
    stored = store.put(src)
    assert (stored.sha256, stored.size) == (sha(data), len(data)) and len(calls) == 2
    store.verify(stored.sha256)


def test_adding_again_makes_an_object_young(store, tmp_path):
    src = tmp_path / "plate.exr"
    src.write_bytes(b"frame")
    folder = tmp_path / "textures"
    folder.mkdir()
    (folder / "wood.tex").write_bytes(b"wood")
    file_sha, tree_sha = store.put(src).sha256, store.put(folder).sha256

    def age_all():
        old = time.time() - 7200
        for obj, _ in store.objects():
            os.utime(store.object_path(obj), (old, old))

    def young(obj):
        return store.mtime(obj) > time.time() - 60

    age_all()
    assert store.put(src).added is False  # known by its stat
    assert young(file_sha)
    age_all()
    copy = tmp_path / "copy.exr"
    copy.write_bytes(b"frame")
    assert store.put(copy).added is False  # read and hashed: the same content
    assert young(file_sha)
    age_all()
    assert store.put(folder).added is False
    assert young(tree_sha) and young(sha(b"wood"))
    assert store.remove(sha(b"wood"), older_than=3600) is False  # young: kept
    assert store.has(sha(b"wood"))
    assert not any((store.root / "incoming").iterdir())
    assert store.remove(file_sha, older_than=3600) is True
    assert not store.has(file_sha)
    assert store.put(src).added is True  # the stat cache does not fool a re-add


def test_adding_again_makes_an_object_young_in_an_fsspec_store(tmp_path):
    remote = _stores(tmp_path)["fsspec"]
    src = tmp_path / "plate.exr"
    src.write_bytes(b"frame")
    stored = remote.put(src).sha256
    remote.fs.store[remote._key(stored)].created = datetime.fromtimestamp(time.time() - 7200, UTC)
    assert remote.mtime(stored) < time.time() - 3600
    assert remote.put(src).added is False
    assert remote.mtime(stored) > time.time() - 60
    assert remote.remove(stored, older_than=3600) is False and remote.has(stored)
    assert remote.remove(stored, older_than=0) is True
    assert not remote.has(stored) and list(remote.objects()) == []
    assert remote.put(src).added is True


@pytest.mark.parametrize("kind", ["local", "fsspec"])
def test_objects_are_told_apart_by_what_the_store_recorded(tmp_path, kind):
    store = _stores(tmp_path)[kind]
    member = tmp_path / "member.txt"
    member.write_bytes(b"member")
    member_sha = store.put(member).sha256
    notes = tmp_path / "notes.json"
    notes.write_text('{"files": ["member.txt"], "owner": "lighting"}')
    # byte for byte the tree document of a folder holding member.txt
    lookalike = tmp_path / "lookalike.json"
    lookalike.write_bytes(
        tree_document([{"path": "member.txt", "sha256": member_sha, "size": 6, "exec": False}])
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    notes_sha, lookalike_sha = store.put(notes).sha256, store.put(lookalike).sha256
    tree_sha = store.put(empty).sha256
    assert store.kind_of(notes_sha) == "file"
    assert store.kind_of(lookalike_sha) == "file"
    assert store.kind_of(tree_sha) == "tree"
    assert store.fetch(notes_sha, tmp_path / "out.json").read_bytes() == notes.read_bytes()
    assert list(store.fetch(tree_sha, tmp_path / "out-dir", "tree").iterdir()) == []
    with pytest.raises(AssetError, match="is not a folder"):
        store.fetch(notes_sha, tmp_path / "nope", "tree")


def test_stores_written_before_kinds_were_recorded_keep_working(store, tmp_path):
    folder = tmp_path / "maps"
    folder.mkdir()
    (folder / "a.tex").write_bytes(b"map a")
    notes = tmp_path / "notes.json"
    notes.write_text('{"files": "not a tree"}')
    tree_sha, notes_sha = store.put(folder).sha256, store.put(notes).sha256
    # what a store written before kinds were recorded looks like
    shutil.rmtree(store.root / "trees")
    (store.root / "store.json").unlink()
    old = LocalStore(store.root, hashes=HashCache(tmp_path / "h2.sqlite"))
    assert old.kind_of(tree_sha) == "tree" and old.kind_of(notes_sha) == "file"
    assert not (store.root / "trees").exists()  # reading writes nothing
    later = tmp_path / "later.bin"
    later.write_bytes(b"added after the upgrade")
    old.put(later)  # the first write records the existing trees
    assert (store.root / "trees" / tree_sha[:2] / tree_sha).is_file()
    assert json.loads((store.root / "store.json").read_text()) == {"format": "pipl-store/2"}
    assert old.kind_of(tree_sha) == "tree" and old.kind_of(notes_sha) == "file"
    assert (old.fetch(tree_sha, tmp_path / "out", "tree") / "a.tex").read_bytes() == b"map a"


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
    notes = tmp_path / "shots.json"
    notes.write_text('{"files": ["sh010.ma"], "format": "pipl-tree/1"}')
    [note] = json.loads(run(["asset", "add", str(notes), "--json"], project=project.root).output)[
        "data"
    ]
    listing = json.loads(run(["asset", "ls", "--json"], project=project.root).output)["data"]
    assert {"sha256": note["sha256"], "size": 48, "kind": "file"} in listing["objects"]
    copy = tmp_path / "shots-back.json"
    assert run(["asset", "get", note["sha256"], str(copy)], project=project.root).exit_code == 0
    assert copy.read_bytes() == notes.read_bytes()
    assert run(["asset", "verify", row["sha256"]], project=project.root).exit_code == 0
    verified = json.loads(
        run(["asset", "verify", row["sha256"], "--json"], project=project.root).output
    )
    assert verified == {
        "version": 1,
        "kind": "assets-verified",
        "data": {
            "store": str(project.root / "assets"),
            "checked": 1,
            "corrupted": [],
            "missing": [],
        },
    }
    obj = project.root / "assets" / "objects" / row["sha256"][:2] / row["sha256"]
    obj.chmod(0o644)
    obj.write_text("broken")
    fails(
        run(["asset", "verify", row["sha256"]], project=project.root),
        9,
        "1 of 1 objects are corrupted",
        row["sha256"],
    )
    broken = run(["asset", "verify", row["sha256"], "f" * 64, "--json"], project=project.root)
    assert broken.exit_code == 9
    assert json.loads(broken.stdout)["data"] == {
        "store": str(project.root / "assets"),
        "checked": 2,
        "corrupted": [row["sha256"]],
        "missing": ["f" * 64],
    }
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
