"""Adding a 1 GiB asset to the store, next to a plain ``cp`` of the same file; and
(``assets-s3``) the store on S3 beside the local store.

All runs use the same file on the same file system, page cache warm (as after writing the
file). ``durable`` is the store's default (objects are fsync'ed before they are used); the
non-durable figure is the one comparable with ``cp``, which does not fsync. The pipe row
feeds the same bytes through a named pipe, which the store reads once.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench.common import print_table

SIZE = 1 << 30
ROUNDS = 3


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    from pipl_pipe.assets.hashcache import HashCache
    from pipl_pipe.assets.objects import hash_file
    from pipl_pipe.assets.store import LocalStore

    base = Path(os.environ.get("PIPL_BENCH_DIR") or tempfile.gettempdir())
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        work = Path(tmp)
        src = work / "plate.bin"
        with src.open("wb") as fh:
            for _ in range(SIZE // (64 << 20)):
                fh.write(os.urandom(64 << 20))
        mb = SIZE / 1e6

        def cp(i: int) -> float:
            dst = work / f"copy{i}.bin"
            took = _timed(lambda: subprocess.run(["cp", src, dst], check=True))
            dst.unlink()
            return took

        def put(i: int, durable: bool) -> float:
            store = LocalStore(
                work / f"store{i}{durable}",
                durable=durable,
                hashes=HashCache(work / f"h{i}{durable}.sqlite"),
            )
            took = _timed(lambda: store.put(src))
            shutil.rmtree(store.root)
            return took

        def put_pipe(i: int) -> float:
            """The same content from a pipe: one read feeds the copy and the hash."""
            store = LocalStore(
                work / f"pipe{i}", durable=False, hashes=HashCache(work / f"p{i}.sqlite")
            )
            fifo = work / f"fifo{i}"
            os.mkfifo(fifo)

            def feed() -> None:
                with src.open("rb") as fin, fifo.open("wb") as fout:
                    shutil.copyfileobj(fin, fout, 8 << 20)

            feeder = threading.Thread(target=feed)
            feeder.start()
            took = _timed(lambda: store.put(fifo))
            feeder.join()
            shutil.rmtree(store.root)
            return took

        cp(-1)  # warm up
        cps = [cp(i) for i in range(ROUNDS)]
        fast = [put(i, False) for i in range(ROUNDS)]
        durable = [put(i, True) for i in range(ROUNDS)]
        piped = [put_pipe(i) for i in range(ROUNDS)]
        hashing = [_timed(lambda: hash_file(src)) for _ in range(ROUNDS)]
        cp_sum = [
            cp(i)
            + _timed(
                lambda: subprocess.run(["sha256sum", src], check=True, stdout=subprocess.DEVNULL)
            )
            for i in range(ROUNDS)
        ]
        store = LocalStore(work / "again", hashes=HashCache(work / "again.sqlite"))
        store.put(src)
        readd = [_timed(lambda: store.put(src)) for _ in range(ROUNDS)]

    med = statistics.median

    def row(samples: list[float]) -> str:
        return f"{med(samples):6.2f} s  {mb / med(samples):6.0f} MB/s"

    print_table(
        "add a 1 GiB file (median of 3, warm page cache)",
        [
            ("cp", row(cps)),
            ("asset store put (not fsync'ed)", row(fast) + f"   {med(fast) / med(cps):.1f}x cp"),
            (
                "asset store put (durable, default)",
                row(durable) + f"   {med(durable) / med(cps):.1f}x cp",
            ),
            (
                "asset store put from a pipe (not fsync'ed)",
                row(piped) + f"   {med(piped) / med(cps):.1f}x cp",
            ),
            ("sha256 of the file alone", row(hashing) + f"   {med(hashing) / med(cps):.1f}x cp"),
            ("cp + sha256sum (by hand)", row(cp_sum)),
            ("re-add the same file", f"{med(readd) * 1000:6.2f} ms"),
        ],
    )


if __name__ == "__main__":
    main()


# -- the store on S3 beside the local store -----------------------------------------------
SMALL = 1000  # small objects, of SMALL_SIZE bytes each
SMALL_SIZE = 4096


def _big_size() -> int:
    """1 GiB; ``PIPL_BENCH_ASSET_MB`` makes it smaller for a quick run."""
    return int(os.environ.get("PIPL_BENCH_ASSET_MB") or 1024) << 20


def _store_rounds(store, small: list[Path], folder: Path, big: Path, out: Path) -> dict[str, float]:
    """Seconds each operation takes on ``store``."""
    took: dict[str, float] = {}
    shas: list[str] = []
    took["add 1,000 small objects"] = _timed(
        lambda: shas.extend(store.put(p).sha256 for p in small)
    )
    took["add them again (already stored)"] = _timed(lambda: [store.put(p) for p in small])
    took["fetch them (verified)"] = _timed(
        lambda: [store.fetch(s, out / f"small{i}") for i, s in enumerate(shas)]
    )
    tree: list[str] = []
    took["add a folder of 1,000 small files"] = _timed(
        lambda: tree.append(store.put(folder).sha256)
    )
    took["fetch the folder (verified)"] = _timed(
        lambda: store.fetch(tree[0], out / "folder", "tree")
    )
    big_sha: list[str] = []
    took["add the big object"] = _timed(lambda: big_sha.append(store.put(big).sha256))
    took["add it again (already stored)"] = _timed(lambda: store.put(big))
    took["fetch it (verified)"] = _timed(lambda: store.fetch(big_sha[0], out / "big"))
    took["list the store"] = _timed(lambda: list(store.objects()))
    return took


def s3_main() -> None:
    """The asset store on S3 (moto's server on loopback, through s3fs) beside the local store."""
    from pipl_pipe.assets.hashcache import HashCache
    from pipl_pipe.assets.service import open_store
    from pipl_pipe.assets.store import LocalStore

    from tests.s3server import make_bucket, moto_server, s3_environment

    size = _big_size()
    base = Path(os.environ.get("PIPL_BENCH_DIR") or tempfile.gettempdir())
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        work = Path(tmp)
        (work / "small").mkdir()
        (work / "folder").mkdir()
        small = []
        for i in range(SMALL):
            path = work / "small" / f"f{i:04d}.bin"
            path.write_bytes(os.urandom(SMALL_SIZE))
            small.append(path)
            (work / "folder" / f"frame.{i:04d}.bin").write_bytes(os.urandom(SMALL_SIZE))
        big = work / "big.bin"
        with big.open("wb") as fh:
            for _ in range(max(1, size // (64 << 20))):
                fh.write(os.urandom(min(size, 64 << 20)))
        results = {}
        local = LocalStore(work / "local-store", hashes=HashCache(work / "local.sqlite"))
        (work / "out-local").mkdir()
        results["local"] = _store_rounds(local, small, work / "folder", big, work / "out-local")
        shutil.rmtree(work / "local-store")
        with moto_server(work / "moto.log") as endpoint:
            os.environ.update(s3_environment(endpoint, work))
            make_bucket("pipl-bench")
            s3 = open_store("s3://pipl-bench/assets", hashes=HashCache(work / "s3.sqlite"))
            (work / "out-s3").mkdir()
            results["s3"] = _store_rounds(s3, small, work / "folder", big, work / "out-s3")

    def cell(op: str, seconds: float) -> str:
        if "small" in op or "them" in op or "folder" in op:
            return f"{seconds:7.2f} s {SMALL / seconds:6.0f}/s"
        if op.startswith(("add the big", "fetch it")):
            return f"{seconds:7.2f} s {size / 1e6 / seconds:4.0f} MB/s"
        return f"{seconds * 1000:7.1f} ms"

    print_table(
        f"asset store: local folder vs S3 (moto server on loopback), {SMALL:,} objects of "
        f"{SMALL_SIZE} B and one of {size >> 20} MiB",
        [("operation", f"{'local':>20}   {'S3 (moto)':>20}")]
        + [
            (op, f"{cell(op, results['local'][op]):>20}   {cell(op, results['s3'][op]):>20}")
            for op in results["local"]
        ],
    )
