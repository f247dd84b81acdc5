"""A re-processing, as its ``process`` job runs it (queued by ``pipl.ci.downstream``).

The job installs the task release with the upstream releases it runs for
(``--upstream NAME==VERSION``) and tells the processing its number N (``--remake N``):
one more than the highest ``.postN`` among the products jobs of this release made, so the
products ``X.postN`` sort after every earlier one (``pipl_pipe.process`` decides the
version). A product whose files, built at the last version of its line, are the ones
published already is not published again, and N does not move.

A task may opt out in its pyproject (read from the release's sdist): ``[tool.pipl]
follow = false``, or ``follow = ["NAME", ...]`` for the upstream names it follows.
"""

from __future__ import annotations

import tarfile
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import InvalidVersion, Version

from pipl import names
from pipl.ci.builtin.files import download, release_files
from pipl.ci.handlers import HandlerFailed, JobContext, is_sdist

if TYPE_CHECKING:
    from pipl.product.build import ProductSpec

MAX_PYPROJECT = 1024 * 1024  # bytes of a pyproject read from an sdist


@dataclass(frozen=True)
class Plan:
    """What one re-processing job runs for."""

    reason: str
    pins: list[str]  # the upstream releases followed, "NAME==VERSION"
    ignored: list[str]  # those the task does not follow
    number: int  # N of the products' ".postN"

    @property
    def options(self) -> list[str]:
        """The arguments of ``python -m pipl.ci.inside process``."""
        extra = ["--remake", str(self.number)]
        for pin in self.pins:
            extra += ["--upstream", pin]
        return extra


def plan(ctx: JobContext) -> Plan | None:
    """The re-processing this job runs (None: it runs for its release's own upload), as
    the runner wrote it in the job's spec (``downstream.recorded``), less the upstream
    names the release does not follow. The same on a Dask worker's build part as in the
    runner's host: the spec and the release's sdist are all it reads."""
    recorded = ctx.remake
    if not recorded:
        return None
    follows = followed(ctx)
    pins: list[str] = []
    ignored: list[str] = []
    for pin in recorded["pins"]:
        name = names.normalize_dist(str(pin).split("==", 1)[0])
        (pins if follows is None or name in follows else ignored).append(str(pin))
    return Plan(str(recorded["reason"]), pins, ignored, int(recorded["number"]))


def followed(ctx: JobContext) -> set[str] | None:
    """The upstream names the release follows (None: every one), from ``[tool.pipl]
    follow`` in its sdist's pyproject (no sdist: every one)."""
    sdists = [lk for lk in release_files(ctx) if is_sdist(lk.basename)]
    if not sdists or not sdists[0].basename.endswith(".tar.gz"):
        return None
    data = _pyproject(download(ctx, sdists[0]))
    follow = ((data.get("tool") or {}).get("pipl") or {}).get("follow", True)
    if follow is True:
        return None
    if follow is False:
        return set()
    if isinstance(follow, list) and all(isinstance(n, str) for n in follow):
        return {names.normalize_dist(n) for n in follow}
    raise HandlerFailed(
        f"{ctx.name} {ctx.version}: [tool.pipl] follow must be true, false or a list of names"
    )


def _pyproject(sdist: Path) -> dict[str, Any]:
    """The top-level pyproject.toml of an sdist, read without unpacking it ({}: none)."""
    try:
        with tarfile.open(sdist) as tar:
            for member in tar:
                parts = member.name.split("/")
                if len(parts) == 2 and parts[1] == "pyproject.toml" and member.isfile():
                    if member.size > MAX_PYPROJECT:
                        return {}
                    handle = tar.extractfile(member)
                    return tomllib.loads(handle.read().decode()) if handle else {}
    except (tarfile.TarError, OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise HandlerFailed(f"the pyproject of {sdist.name} cannot be read: {exc}") from None
    return {}


def _line(version: Version) -> tuple[Any, ...]:
    """What stays when a version is re-made: all but its post part."""
    return (version.epoch, version.release, version.pre, version.dev, version.local)


def last_of_line(published: list[str], version: str) -> str | None:
    """The highest of ``published`` below ``version`` that only differs from it in its
    ``.postN`` part (the product this re-make follows)."""
    target = Version(version)
    found = []
    for text in published:
        try:
            other = Version(text)
        except InvalidVersion:
            continue
        if _line(other) == _line(target) and other < target:
            found.append((other, text))
    return max(found)[1] if found else None


def unchanged(
    ctx: JobContext,
    spec: ProductSpec,
    outputs: Path,
    last: str,
    *,
    store: Any,
    index: str,
    first: str,
) -> bool:
    """True when ``spec``'s product built at version ``last`` gives the files published
    as ``last`` (on ``first``, which sees every stage), sha256 for sha256."""
    from pipl.index.distfile import sha256_of
    from pipl.product.build import build_product

    built = build_product(
        outputs,
        replace(spec, version=last),
        store=store,
        workdir=ctx.workdir / "compare",
        index_url=ctx.simple_url,
        client=ctx.client,
        index=index,
    )
    mine = {path.name: sha256_of(path) for path in built.files}
    there = {lk.basename: lk.sha256 for lk in ctx.client.release_files(first, spec.name, last)}
    return bool(mine) and all(there.get(name) == sha for name, sha in mine.items())
