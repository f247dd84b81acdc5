"""A client for the project's devpi-server REST API.

One ``IndexClient`` holds one HTTP connection pool and, after ``login``, devpi's login
token: passwords cross the wire once, every later request carries the token (devpi
verifies a raw password with argon2, which costs about 0.2 s per request). Every error
devpi answers becomes a ``PiplError`` carrying devpi's own message.
"""

from __future__ import annotations

import base64
import functools
import ssl
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from pipl import names
from pipl.devpi_rules import REPLACE_HEADER
from pipl.errors import (
    AuthError,
    Conflict,
    IndexServerError,
    NotFound,
    ServerNotRunning,
)
from pipl.index.admin import ServerAdmin
from pipl.index.distfile import DistFile, read_distfile
from pipl.index.http import describe, error_for, multidict, transport
from pipl.index.identity import ServerAnswer, answer_of
from pipl.index.links import Link, PushResult, UploadResult, links_of
from pipl.project.secrets import Token

JSON = "application/json"
__all__ = ["IndexClient", "Link", "PushResult", "ServerAnswer", "UploadResult"]

# set by pipl's devpi plugin on the answer to a request whose login token a later password
# change revoked (see pipl.devpi_auth)
AUTH_HEADER = "X-Pipl-Auth"
AUTH_HEADER_NAME = "X-Devpi-Auth"


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi, or SSL_CERT_FILE/SSL_CERT_DIR), made once per
    process: making it loads the CA bundle, which costs more than most requests."""
    return httpx.create_ssl_context()


class IndexClient(ServerAdmin):
    """Talks to one devpi-server. Use as a context manager, or call ``close()``.
    Users and indexes are managed with the methods of ``ServerAdmin``."""

    def __init__(self, url: str, *, timeout: float = 60.0, token: Token | None = None) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout,
            headers={"Accept": JSON},
            follow_redirects=False,
            verify=tls_context(),
        )
        self.token: Token | None = None
        self._answer: ServerAnswer | None = None
        if token is not None:
            self.use_token(token)

    def __enter__(self) -> IndexClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing -------------------------------------------------------------------------
    def _send(
        self, method: str, path: str, what: str, *, ok: Iterable[int] = (200, 201), **kwargs: Any
    ) -> httpx.Response:
        with transport(self.url, what):
            response = self._http.request(method, path, **kwargs)
        if response.headers.get(AUTH_HEADER) == "revoked" and self.token is not None:
            user = self.token.user
            raise AuthError(
                f"the login of {user!r} is no longer valid: the password changed after it "
                f"was made; log in again with 'pipl proj login {user}'",
            )
        if response.status_code not in tuple(ok):
            raise error_for(response, what)
        return response

    def _json(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        response = self._send(method, path, what, **kwargs)
        if not response.content:
            return None
        body = response.json()
        return body.get("result", body) if isinstance(body, dict) else body

    # -- authentication -------------------------------------------------------------------
    def login(self, user: str, password: str) -> Token:
        """Log in once; later requests carry devpi's token instead of the password."""
        names.check_user(user)
        try:
            result = self._json(
                "POST", "/+login", f"login as {user!r}", json={"user": user, "password": password}
            )
        except AuthError:
            raise AuthError(f"login as {user!r} failed: wrong user name or password") from None
        token = Token(user, result["password"], time.time() + float(result["expiration"]))
        self.use_token(token)
        return token

    def use_token(self, token: Token) -> None:
        raw = f"{token.user}:{token.token}".encode()
        self._http.headers[AUTH_HEADER_NAME] = base64.b64encode(raw).decode()
        self.token = token

    def logout(self) -> None:
        self._http.headers.pop(AUTH_HEADER_NAME, None)
        self.token = None

    def identify(self) -> ServerAnswer:
        """What answers at this client's URL, asked once per client and without credentials
        (``/+status`` of a devpi-server reports the uuid of its server folder)."""
        if self._answer is not None:
            return self._answer
        request = self._http.build_request("GET", "/+status")
        request.headers.pop(AUTH_HEADER_NAME, None)
        try:
            response = self._http.send(request)
        except httpx.ConnectError:
            raise ServerNotRunning(
                f"no server answers at {self.url}: start it with 'pipl proj start --detach'"
            ) from None
        except httpx.TimeoutException:
            raise IndexServerError(f"the server at {self.url} did not answer in time") from None
        except httpx.HTTPError as exc:
            self._answer = ServerAnswer(False, detail=f"no HTTP answer: {describe(exc)}")
            return self._answer
        self._answer = answer_of(response)
        return self._answer

    @property
    def user(self) -> str | None:
        return self.token.user if self.token else None

    def whoami(self) -> str | None:
        """The user the server sees for this client's token (None: anonymous or expired)."""
        status = self.api().get("authstatus") or []
        return status[1] if len(status) > 1 and status[0] == "ok" else None

    # -- server ---------------------------------------------------------------------------
    def api(self) -> dict[str, Any]:
        return dict(self._json("GET", "/+api", "read the server API"))

    def status(self) -> dict[str, Any]:
        return dict(self._json("GET", "/+status", "read the server status"))

    # -- projects, versions, files --------------------------------------------------------
    def projects(self, index: str) -> list[str]:
        return sorted(self.get_index(index).get("projects") or [])

    def versions(self, index: str, project: str, *, inherited: bool = True) -> dict[str, Any]:
        """``{version: versiondata}`` of ``project`` on ``index`` (and its bases)."""
        names.check_index(index)
        project = names.normalize_dist(names.check_dist(project))
        params = {} if inherited else {"ignore_bases": "1"}
        if not inherited and project not in self.projects(index):
            # answered from the index alone: devpi would otherwise ask its PyPI mirror
            return {}
        try:
            return dict(
                self._json(
                    "GET", f"/{index}/{project}", f"read {project} on {index}", params=params
                )
                or {}
            )
        except NotFound:
            return {}

    def stage_versions(self, index: str, project: str) -> dict[str, Any]:
        """``{version: versiondata}`` of ``project`` stored on ``index`` itself, for a
        ``project`` that ``projects(index)`` listed (one request, no mirror asked)."""
        names.check_index(index)
        key = names.normalize_dist(names.check_dist(project))
        try:
            data = self._json(
                "GET", f"/{index}/{key}", f"read {key} on {index}", params={"ignore_bases": "1"}
            )
        except NotFound:
            return {}
        return dict(data or {})

    def version_data(self, index: str, project: str, version: str) -> dict[str, Any]:
        """One release's data as ``index`` serves it (from the first index of its chain
        holding it; links name the index of each file), ``{}`` when there is none."""
        names.check_index(index)
        key = names.normalize_dist(names.check_dist(project))
        try:
            data = self._json(
                "GET", f"/{index}/{key}/{version}", f"read {key} {version} on {index}"
            )
        except NotFound:
            return {}
        return dict(data or {})

    def links(
        self, index: str, project: str, version: str, *, inherited: bool = False
    ) -> list[Link]:
        """Files of one release; only those stored on ``index`` itself unless ``inherited``."""
        data = self.versions(index, project, inherited=inherited).get(version) or {}
        return links_of(data)

    def release_files(
        self, index: str, project: str, version: str, *, mirrors: bool = False
    ) -> list[Link]:
        """Release files of one version on ``index`` and every index it inherits from, in
        devpi's lookup order (of two files with one name, the first is the one installed).

        Mirrors (PyPI) are left out unless ``mirrors``: devpi does not consult them for a
        project its own indexes hold, and leaving them out never reaches the network."""
        names.check_index(index)
        if mirrors:
            data = self.versions(index, project).get(version) or {}
            links = links_of(data)
            for shadowed in data.get("+shadowing") or []:
                links += links_of(shadowed)
        else:
            key = names.normalize_dist(names.check_dist(project))
            links = []
            for stage, config in self.stage_chain(index):
                if key in (config.get("projects") or []):
                    data = self._json(
                        "GET",
                        f"/{stage}/{key}",
                        f"read {key} on {stage}",
                        params={"ignore_bases": "1"},
                    )
                    links += links_of((data or {}).get(version) or {})
        return [lk for lk in links if lk.rel == "releasefile"]

    def stage_chain(self, index: str) -> list[tuple[str, dict[str, Any]]]:
        """``index`` and the non-mirror indexes it inherits from, in devpi's lookup order."""
        chain: list[tuple[str, dict[str, Any]]] = []
        todo, seen = [index], set()
        while todo:
            name = todo.pop(0)
            if name in seen:
                continue
            seen.add(name)
            config = self.get_index(name)
            if config.get("type") != "mirror":
                chain.append((name, config))
                todo += [str(b) for b in config.get("bases") or []]
        return chain

    def check_upload(self, index: str, dist: DistFile, *, replace: bool = False) -> str:
        """What uploading ``dist`` to ``index`` does: ``upload``, ``identical`` (nothing to
        send) or ``replace``. A released file never changes: a file of the same name with
        other content on ``index`` or an index it inherits from is refused; ``replace``
        allows replacing it on ``index`` itself when ``index`` is volatile."""
        names.check_index(index)
        same = [
            lk
            for lk in self.release_files(index, dist.name, dist.version)
            if lk.basename == dist.filename
        ]
        here = next((lk for lk in same if lk.index == index), None)
        if here is not None and here.sha256 == dist.sha256:
            return "identical"
        changed = [lk for lk in same if lk.sha256 != dist.sha256]
        if not changed:
            return "upload"
        bump = f"bump the version of {dist.name} and publish again"
        released = next((lk.index for lk in changed if lk.index != index), None)
        if not replace:
            where = here.index if here is not None else changed[0].index
            raise Conflict(
                f"{dist.filename} is already on {where} with other content, "
                f"and a released file never changes: {bump}",
            )
        if released is not None:
            raise Conflict(
                f"cannot replace {dist.filename} on {index}: {released} holds it too "
                f"(it was promoted): {bump}",
            )
        if not self.get_index(index).get("volatile", False):
            raise Conflict(
                f"cannot replace {dist.filename} on {index}, a non-volatile index: {bump}",
            )
        return "replace"

    def upload(self, index: str, path: Path | DistFile, *, replace: bool = False) -> UploadResult:
        """Upload a wheel or sdist. An identical file already there is not sent again; a
        file that would change a released one is refused (see ``check_upload``)."""
        dist = path if isinstance(path, DistFile) else read_distfile(Path(path))
        action = self.check_upload(index, dist, replace=replace)
        if action == "identical":
            return UploadResult(dist.filename, index, uploaded=False)
        # on a volatile index devpi replaces a file of the same name in one transaction
        with dist.path.open("rb") as fh:
            fields = [(":action", "file_upload"), ("protocol_version", "1"), *dist.form_fields()]
            try:
                self._send(
                    "POST",
                    f"/{index}/",
                    f"upload {dist.filename} to {index}",
                    data=multidict(fields),
                    files={"content": (dist.filename, fh, "application/octet-stream")},
                    # the server lets a maintainer replace a file on a volatile index
                    headers={REPLACE_HEADER: "1"} if action == "replace" else {},
                )
            except AuthError as exc:
                if "maintainers" in str(exc):  # the server named the project's maintainers
                    raise
                who = repr(self.user) if self.user else "an anonymous client"
                raise type(exc)(
                    f"{who} may not upload to {index}: log in as a user allowed there "
                    "(pipl proj login USER)",
                    status=exc.status,
                ) from None
        return UploadResult(dist.filename, index, uploaded=True, replaced=action == "replace")

    def upload_checked(
        self, index: str, dists: list[DistFile], *, replace: bool = False
    ) -> list[UploadResult]:
        """Upload several files, all checked (``check_upload``) before any is sent."""
        for dist in dists:
            self.check_upload(index, dist, replace=replace)
        return [self.upload(index, dist, replace=replace) for dist in dists]

    def file_size(self, href: str) -> int | None:
        """The size of a file the server serves (None when it does not say)."""
        try:
            with transport(self.url, f"read the size of {href}"):
                response = self._http.head(href, headers={"Accept": "*/*"})
        except IndexServerError:
            return None
        length = response.headers.get("content-length", "")
        return int(length) if response.status_code == 200 and length.isdigit() else None

    def download(self, href: str, dest: Path) -> Path:
        """Stream ``href`` into ``dest``; a failed download leaves no partial file."""
        what = f"download {href}"
        try:
            with (
                transport(self.url, what),
                self._http.stream("GET", href, headers={"Accept": "*/*"}) as response,
            ):
                if response.status_code != 200:
                    response.read()
                    raise error_for(response, what)
                with dest.open("wb") as fh:
                    for chunk in response.iter_bytes(1 << 20):
                        fh.write(chunk)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        return dest

    def release_on(self, index: str, project: str, version: str) -> list[Link]:
        """The files of release ``project version`` that ``index`` serves (its own, or of
        the indexes it inherits from); ``NotFound`` when it serves none."""
        names.check_index(index)
        found = self.release_files(index, project, version, mirrors=True)
        if not found:
            raise NotFound(
                f"no files of {project} {version} on {index} or the indexes it inherits "
                f"from: publish or push it to {index} first",
            )
        return found

    def compare_release(
        self, source: str, target: str, project: str, version: str
    ) -> tuple[str, list[Link], set[str]]:
        """A release's files on ``source``'s chain against ``target``: the index holding
        them, those files, and the names ``target`` itself has already. A file of the same
        name with other content on ``target``'s chain is refused (a released file never
        changes)."""
        names.check_index(target)
        found = self.release_on(source, project, version)
        holder = found[0].index
        files = [lk for lk in found if lk.index == holder]
        on_target = self.release_files(target, project, version)
        for lk in files:
            for other in on_target:
                if other.basename == lk.basename and other.sha256 != lk.sha256:
                    raise Conflict(
                        f"{lk.basename} exists on {other.index} with other content: bump "
                        f"the version of {project} (a released file never changes; "
                        f"{holder} has other bytes under that name)",
                    )
        return holder, files, {lk.basename for lk in on_target if lk.index == target}

    def push(
        self, source: str, project: str, version: str, target: str, *, workdir: Path | None = None
    ) -> PushResult:
        """Copy a release from ``source`` (or the index it inherits it from) to ``target``,
        skipping files already there. Unchecked: ``pipl.index.promote`` checks promotions.

        A file of the same name with other content on ``target`` or an index it inherits
        from is refused before anything moves (a released file never changes).
        """
        holder, files, there = self.compare_release(source, target, project, version)
        missing = [lk for lk in files if lk.basename not in there]
        skipped = sorted(there & {lk.basename for lk in files})
        if not missing:
            return PushResult(project, version, source, target, [], skipped)
        if not there and self.get_index(holder).get("type") != "mirror":
            self._json(
                "POST",
                f"/{holder}",
                f"push {project} {version} to {target}",
                json={"name": project, "version": version, "targetindex": target},
            )
        else:
            self._copy_files(missing, target, workdir)
        copied = sorted(lk.basename for lk in missing)
        return PushResult(project, version, source, target, copied, skipped)

    def _copy_files(self, links: list[Link], target: str, workdir: Path | None) -> None:
        import tempfile

        with tempfile.TemporaryDirectory(dir=workdir) as tmp:
            for link in links:
                local = self.download(link.href, Path(tmp) / link.basename)
                self.upload(target, local)

    def upload_toxresult(self, link: Link | str, result: dict[str, Any]) -> str:
        """Attach a tox result (tox's ``--result-json`` data) to a release file."""
        href = link.href if isinstance(link, Link) else link
        path = httpx.URL(href).path
        return str(
            self._json(
                "POST", path, f"upload tox result for {href.rsplit('/', 1)[-1]}", json=result
            )
        )

    def delete_version(
        self, index: str, project: str, version: str, *, force: bool = False
    ) -> None:
        """Remove a release; ``force`` also on a non-volatile index (its uploaders and root)."""
        names.check_index(index)
        project = names.normalize_dist(names.check_dist(project))
        self._json(
            "DELETE",
            f"/{index}/{project}/{version}",
            f"remove {project} {version} from {index}",
            params={"force": ""} if force else {},
        )

    def delete_file(self, link: Link, *, force: bool = False) -> None:
        """Remove one file; ``force`` also on a non-volatile index (its uploaders and root)."""
        self._json(
            "DELETE",
            link.href,
            f"remove {link.basename} from {link.index}",
            params={"force": ""} if force else {},
        )
