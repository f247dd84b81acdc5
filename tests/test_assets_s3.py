"""The asset store on S3, against a real S3 API: moto's server on loopback, through s3fs.

The store reaches the server as it would reach AWS: credentials and endpoint from the
environment (the ``s3_bucket`` fixture sets them as a user would).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import types

import botocore.session
import pytest
from pipl_pipe.assets import remote
from pipl_pipe.assets.hashcache import HashCache
from pipl_pipe.assets.s3 import S3Store
from pipl_pipe.assets.service import from_config, open_store
from pipl_pipe.errors import AssetCorrupted, AssetError, AssetMissing

from pipl.assets.gc import collect
from pipl.product.build import ProductSpec, build_product
from tests.helpers import fails, run


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def s3_client():
    return botocore.session.get_session().create_client("s3")


def keys(bucket: str) -> list[str]:
    listing = s3_client().list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def open_s3(bucket: str, tmp_path, name: str = "h") -> S3Store:
    store = open_store(f"s3://{bucket}/store", hashes=HashCache(tmp_path / f"{name}.sqlite"))
    assert isinstance(store, S3Store)
    return store


class Calls:
    """The S3 requests a store makes (method and key), recorded as they are sent, and
    the threads that sent the uploads."""

    def __init__(self, store: S3Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.made: list[tuple[str, str]] = []
        self.threads: set[str] = set()
        call = store.fs.call_s3

        def recording(method, *args, **kwargs):
            self.made.append((method, kwargs.get("Key", "")))
            if method == "put_object":
                self.threads.add(threading.current_thread().name)
            return call(method, *args, **kwargs)

        monkeypatch.setattr(store.fs, "call_s3", recording)
        monkeypatch.setattr(store.fs, "_call_s3", _async_recording(store.fs._call_s3, self))

    def writes(self) -> list[tuple[str, str]]:
        return [(m, k) for m, k in self.made if not m.startswith(("head", "get", "list"))]


def _async_recording(call, calls: Calls):
    async def recording(method, *args, **kwargs):
        calls.made.append((method, kwargs.get("Key", "")))
        return await call(method, *args, **kwargs)

    return recording


def test_files_folders_and_pipes_round_trip_through_s3(s3_bucket, tmp_path):
    store = open_s3(s3_bucket, tmp_path)
    src = tmp_path / "plate.exr"
    src.write_bytes(b"frame 1001")
    stored = store.put(src)
    assert (stored.sha256, stored.size, stored.added) == (sha(b"frame 1001"), 10, True)
    assert f"store/objects/{stored.sha256[:2]}/{stored.sha256}" in keys(s3_bucket)
    assert store.put(src).added is False
    back = store.fetch(stored.sha256, tmp_path / "back.exr")
    assert back.read_bytes() == b"frame 1001"

    folder = tmp_path / "maps"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.tex").write_bytes(b"map a")
    (folder / "sub" / "b.tex").write_bytes(b"map b")
    tree = store.put(folder)
    assert store.kind_of(tree.sha256) == "tree" and store.kind_of(stored.sha256) == "file"
    copy = store.fetch(tree.sha256, tmp_path / "maps-back", "tree")
    assert (copy / "sub" / "b.tex").read_bytes() == b"map b"
    assert {s for s, _ in store.objects()} == {
        stored.sha256,
        tree.sha256,
        sha(b"map a"),
        sha(b"map b"),
    }

    fifo = tmp_path / "stream"
    os.mkfifo(fifo)
    feeder = threading.Thread(target=lambda: fifo.write_bytes(b"piped bytes"))
    feeder.start()
    piped = store.put(fifo)
    feeder.join()
    assert piped.sha256 == sha(b"piped bytes") and store.has(piped.sha256)

    with pytest.raises(AssetMissing, match="not in the asset store"):
        store.fetch("0" * 64, tmp_path / "nothing")
    s3_client().put_object(
        Bucket=s3_bucket, Key=f"store/objects/{stored.sha256[:2]}/{stored.sha256}", Body=b"evil"
    )
    with pytest.raises(AssetCorrupted):
        store.verify(stored.sha256)
    with pytest.raises(AssetCorrupted):
        store.fetch(stored.sha256, tmp_path / "evil.exr")
    assert not (tmp_path / "evil.exr").exists()


@pytest.mark.parametrize("size", [1000, 12 << 20], ids=["one-put", "multipart"])
def test_objects_are_written_once_to_their_final_key(s3_bucket, tmp_path, monkeypatch, size):
    store = open_s3(s3_bucket, tmp_path)
    store.part_size = 5 << 20  # S3's smallest part: 12 MiB go in several
    warm = tmp_path / "warm"
    warm.write_bytes(b"the first add writes store.json")
    store.put(warm)
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(size))
    key = f"store/objects/{sha(src.read_bytes())[:2]}/{sha(src.read_bytes())}"
    calls = Calls(store, monkeypatch)
    assert store.put(src).added is True
    writes = calls.writes()
    assert {k for _, k in writes} == {key}, writes  # no temporary key
    assert not [m for m, _ in writes if "copy" in m or "delete" in m], writes
    if size > store.part_size:
        methods = [m for m, _ in writes]
        assert methods[0] == "create_multipart_upload" and methods[-1] == (
            "complete_multipart_upload"
        )
        assert set(methods[1:-1]) == {"upload_part"} and len(methods) >= 4
    else:
        assert [m for m, _ in writes] == ["put_object"]
    assert store.fetch(key.rsplit("/", 1)[1], tmp_path / "back").read_bytes() == src.read_bytes()


def test_a_folders_files_go_side_by_side(s3_bucket, tmp_path, monkeypatch):
    store = open_s3(s3_bucket, tmp_path)
    folder = tmp_path / "shot"
    folder.mkdir()
    for i in range(40):
        (folder / f"frame.{i:04d}.exr").write_bytes(b"frame %d" % i)
    for i in range(5):  # the same bytes five times: five concurrent creates of one key
        (folder / f"hold.{i}.exr").write_bytes(b"held frame")
    calls = Calls(store, monkeypatch)
    tree = store.put(folder)
    assert len(calls.threads) > 1, calls.threads  # not one upload after the other
    assert len(store.read_tree(tree.sha256)) == 45
    # (that one object is written once is shown without threads, below: moto's own check
    # of If-None-Match is not atomic between its threads, S3's is)
    assert store.has(sha(b"held frame")) and len(list(store.objects())) == 42
    back = store.fetch(tree.sha256, tmp_path / "back", "tree")
    assert sorted(p.name for p in back.iterdir()) == sorted(p.name for p in folder.iterdir())
    assert (back / "frame.0039.exr").read_bytes() == b"frame 39"


@pytest.mark.parametrize("size", [1000, 12 << 20], ids=["one-put", "multipart"])
def test_an_upload_that_does_not_hash_to_its_key_leaves_nothing(s3_bucket, tmp_path, size):
    store = open_s3(s3_bucket, tmp_path)
    store.part_size = 5 << 20
    src = tmp_path / "plate.exr"
    src.write_bytes(os.urandom(size))
    # what the file held when it was hashed, before it changed on disk (same stat)
    store.hashes.put(src.resolve(), src.stat(), sha(b"what it was"))
    with pytest.raises(AssetError, match="changed while it was being added"):
        store.put(src)
    assert not [k for k in keys(s3_bucket) if "/objects/" in k]
    assert not s3_client().list_multipart_uploads(Bucket=s3_bucket).get("Uploads")


def test_two_writers_of_new_content_make_one_object(s3_bucket, tmp_path, monkeypatch):
    s3_client().put_bucket_versioning(
        Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    first, second = open_s3(s3_bucket, tmp_path, "a"), open_s3(s3_bucket, tmp_path, "b")
    src = tmp_path / "scene.ma"
    src.write_bytes(b"//Maya ASCII")
    key = f"store/objects/{sha(b'//Maya ASCII')[:2]}/{sha(b'//Maya ASCII')}"
    real_touch = second._touch

    def looked_before_the_first_upload_completed(sha256):
        monkeypatch.setattr(second, "_touch", real_touch)  # only that first look is stale
        return False

    monkeypatch.setattr(second, "_touch", looked_before_the_first_upload_completed)
    assert first.put(src).added is True
    assert second.put(src).added is False  # refused by If-None-Match: *, then a re-add
    versions = s3_client().list_object_versions(Bucket=s3_bucket, Prefix=key)["Versions"]
    assert len(versions) == 1  # the object was never written twice
    assert second.age(sha(b"//Maya ASCII")) < 60


def test_gc_grace_counts_on_the_store_clock(s3_bucket, tmp_path, monkeypatch):
    store = open_s3(s3_bucket, tmp_path)
    src = tmp_path / "plate.exr"
    src.write_bytes(b"fresh")
    fresh = store.put(src).sha256
    # this machine's clock two hours ahead of the store's: the object is still young
    ahead = types.SimpleNamespace(time=lambda: time.time() + 7200)
    monkeypatch.setattr(remote, "time", ahead)
    skewed = open_s3(s3_bucket, tmp_path, "skewed")
    assert skewed.age(fresh) < 60
    assert skewed.remove(fresh, older_than=3600) is False and skewed.has(fresh)
    assert "store/clock" in keys(s3_bucket)
    time.sleep(2.2)  # LastModified counts whole seconds
    assert skewed.age(fresh) >= 1
    assert skewed.remove(fresh, older_than=1) is True
    assert not skewed.has(fresh) and list(skewed.objects()) == []
    assert not [k for k in keys(s3_bucket) if "/stamps/" in k or "/incoming/" in k]


def test_adding_again_refreshes_the_age_with_a_stamp(s3_bucket, tmp_path):
    store = open_s3(s3_bucket, tmp_path)
    src = tmp_path / "plate.exr"
    src.write_bytes(b"frame")
    stored = store.put(src).sha256
    time.sleep(2.2)
    assert store.age(stored) >= 2
    assert store.put(src).added is False
    assert store.age(stored) < 2
    assert f"store/stamps/{stored[:2]}/{stored}" in keys(s3_bucket)
    assert store.remove(stored, older_than=3600) is False and store.has(stored)


def test_credentials_come_from_the_environment_only(s3_bucket, tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(AssetError, match="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        open_store(f"s3://{s3_bucket}/store")
    with pytest.raises(AssetError, match="must not carry credentials") as refused:
        open_store(f"s3://AKIAEXAMPLE:hush@{s3_bucket}/store")
    assert "hush" not in str(refused.value)
    with pytest.raises(AssetError, match=r"\[config.asset_store\] secret: credentials"):
        from_config({"url": f"s3://{s3_bucket}/store", "secret": "hush"})


def test_a_missing_bucket_is_named(s3_bucket, tmp_path):
    src, big = tmp_path / "plate.exr", tmp_path / "big.exr"
    src.write_bytes(b"frame")
    big.write_bytes(os.urandom(12 << 20))
    gone = f"the bucket {s3_bucket}-gone .* does not exist"
    store = open_store(f"s3://{s3_bucket}-gone/store", hashes=HashCache(tmp_path / "h.sqlite"))
    with pytest.raises(AssetError, match=gone):
        store.put(src)  # its first write: store.json
    with pytest.raises(AssetError, match=gone):
        list(store.objects())
    store._kinds_known = True  # as if store.json were there: the uploads themselves fail
    store.part_size = 5 << 20
    for path in (src, big):  # one PUT, a multipart upload
        with pytest.raises(AssetError, match=gone):
            store.put(path)


def test_cli_uses_a_store_on_s3(project, s3_bucket, tmp_path, monkeypatch):
    monkeypatch.setenv("PIPL_ASSET_STORE", f"s3://{s3_bucket}/studio")
    src = tmp_path / "model.ma"
    src.write_text("//Maya ASCII\n")
    [row] = json.loads(run(["asset", "add", str(src), "--json"], project=project.root).output)[
        "data"
    ]
    assert row["added"] is True
    assert f"studio/objects/{row['sha256'][:2]}/{row['sha256']}" in keys(s3_bucket)
    listing = json.loads(run(["asset", "ls", "--json"], project=project.root).output)["data"]
    assert listing["store"] == f"s3://{s3_bucket}/studio"
    assert [o["sha256"] for o in listing["objects"]] == [row["sha256"]]
    out = tmp_path / "back.ma"
    assert run(["asset", "get", row["sha256"], str(out)], project=project.root).exit_code == 0
    assert out.read_text() == "//Maya ASCII\n"
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    fails(run(["asset", "ls"], project=project.root), 9, "AWS_SECRET_ACCESS_KEY")


def test_gc_on_s3_keeps_what_published_products_reference(project, owner, s3_bucket, tmp_path):
    store = open_s3(s3_bucket, tmp_path)
    outputs = tmp_path / "out"
    (outputs / "maps").mkdir(parents=True)
    (outputs / "geo.abc").write_bytes(b"s3 geometry")
    (outputs / "maps" / "a.tex").write_bytes(b"s3 map a")
    built = build_product(
        outputs,
        ProductSpec("s3-gc-probe", "model", "1.0.0"),
        store=store,
        workdir=tmp_path / "work",
        index_url=project.simple_url(),
    )
    for path in built.files:
        owner.upload(project.stage_index(), path)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"nobody needs me on s3")
    junk_sha = store.put(junk).sha256
    recent = collect(owner, store, grace_seconds=3600, dry_run=True)
    assert junk_sha in recent.kept_recent and not recent.removed
    assert collect(owner, store, grace_seconds=3600).removed == []
    report = collect(owner, store, grace_seconds=0)
    assert [s for s, _ in report.removed] == [junk_sha]
    kept = {s for s, _ in store.objects()}
    assert {a.sha256 for a in built.assets} | {sha(b"s3 map a")} <= kept
    assert junk_sha not in kept
