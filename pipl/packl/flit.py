"""Build with this process's flit_core, in process, when that is the same build.

Packls build with flit_core (``templates/_common``). uv builds them in an isolated
environment it resolves and fills first, which costs far more than the build itself. When
a source asks for ``flit_core.buildapi`` with requirements the flit_core installed here
satisfies, and flit_core needs no code of the source to read its metadata (its version
and description are written in ``[project]``, not read from the module), building here
makes the same files without running anything of the source's: flit_core only reads
``pyproject.toml`` and copies files. Anything else builds with uv, as before.
"""

from __future__ import annotations

import os
import threading
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from pipl.errors import PacklError

BACKEND = "flit_core.buildapi"
SOURCE_DATE_EPOCH = "315532800"  # 1980-01-01, as for every build pipl makes: byte-identical
_ENV = threading.Lock()


def version() -> str | None:
    try:
        import flit_core
    except ImportError:
        return None
    return str(flit_core.__version__)


def applies(source: Path) -> bool:
    """True when ``source`` builds the same with this process's flit_core, in process,
    without running any of its code."""
    have = version()
    if have is None:
        return False
    try:
        data: dict[str, Any] = tomllib.loads((source / "pyproject.toml").read_text())
        system = data["build-system"]
        requires = [Requirement(r) for r in system["requires"]]
        project = data["project"]
        dynamic = set(project.get("dynamic") or [])
    except (OSError, KeyError, TypeError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    except InvalidRequirement:
        return False
    if system.get("build-backend") != BACKEND or not requires:
        return False
    for req in requires:
        if req.name.replace("-", "_").lower() != "flit_core" or req.marker or req.extras:
            return False
        if req.url or not req.specifier.contains(have, prereleases=True):
            return False
    # without these flit_core would import the module to read them
    return (
        isinstance(project.get("version"), str)
        and isinstance(project.get("description"), str)
        and not dynamic & {"version", "description"}
    )


def build(source: Path, out_dir: Path, *, sdist: bool = True, wheel: bool = True) -> list[Path]:
    """Build the sdist and/or wheel of ``source`` (for which ``applies`` is True) into
    ``out_dir``; return the files made."""
    from flit_core.sdist import SdistBuilder
    from flit_core.wheel import make_wheel_in

    out_dir.mkdir(parents=True, exist_ok=True)
    ini = source / "pyproject.toml"
    made: list[Path] = []
    # flit_core reads the timestamp of reproducible builds from the environment only
    with _ENV:
        saved = os.environ.get("SOURCE_DATE_EPOCH")
        os.environ["SOURCE_DATE_EPOCH"] = SOURCE_DATE_EPOCH
        try:
            if sdist:
                made.append(Path(SdistBuilder.from_ini_path(ini).build(out_dir)))
            if wheel:
                made.append(Path(make_wheel_in(ini, out_dir).file))
        except Exception as exc:
            raise PacklError(f"building {source.name} with flit_core failed: {exc}") from None
        finally:
            if saved is None:
                os.environ.pop("SOURCE_DATE_EPOCH", None)
            else:
                os.environ["SOURCE_DATE_EPOCH"] = saved
    return made
