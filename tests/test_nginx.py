"""``pipl proj nginx-config``: devpi-gen-config's nginx configuration, adapted so that no
cache hides a release promoted a second ago; checked through a real nginx (``.ci/run``
installs it and sets ``PIPL_REQUIRE_NGINX=1``, so there it cannot skip)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from conftest import free_port
from helpers import make_wheel, run

from pipl.index.client import IndexClient
from pipl.project.project import Project

PIP = {"User-Agent": "pip/24.0 CPython/3.11"}  # devpi's caching configuration caches these


def test_the_configuration_caches_no_simple_page(project: Project) -> None:
    result = run(["proj", "nginx-config", "--listen", "8080"], project=project.root)
    text = result.output
    assert result.exit_code == 0, text
    assert "listen 8080;" in text
    assert f"proxy_pass {project.url};" in text
    assert f"root {project.serverdir};" in text  # release files served from the folder
    proxy = text[text.index("location @proxy_to_app {") :]
    assert "proxy_cache off;" in proxy
    assert "add_header Cache-Control $pipl_cache_control always;" in proxy
    assert "proxy_cache_valid" not in text and "proxy_cache_path" not in text


def _nginx() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None
    )
    if found is None:
        if os.environ.get("PIPL_REQUIRE_NGINX"):
            pytest.fail("no nginx on this machine: install the 'nginx' package")
        pytest.skip("no nginx on this machine (install the 'nginx' package)")
    return found


@contextmanager
def _nginx_serving(server_block: str, folder: Path) -> Iterator[None]:
    """A real nginx in ``folder`` with ``server_block`` in its http block."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "site.conf").write_text(server_block)
    user = "user root;\n" if os.geteuid() == 0 else ""
    temps = "".join(
        f"{kind}_temp_path {folder / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (folder / "nginx.conf").write_text(
        f"{user}daemon off;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'};\n"
        f"events {{}}\nhttp {{\naccess_log off;\n{temps}include {folder / 'site.conf'};\n}}\n"
    )
    proc = subprocess.Popen(
        [_nginx(), "-p", str(folder), "-c", str(folder / "nginx.conf")],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _get(url: str) -> httpx.Response:
    deadline = time.monotonic() + 20
    while True:
        try:
            return httpx.get(url, headers=PIP, timeout=10, follow_redirects=True)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _publish_twice(owner: IndexClient, project: Project, tmp: Path, url: str, name: str) -> str:
    """Upload 1.0, read the simple page through ``url``, upload 1.1, read it again."""
    dev = project.stage_index()
    owner.upload(dev, make_wheel(tmp / "a", name, "1.0"))
    page = f"{url}/{dev}/+simple/{name}/"
    assert "-1.0-" in _get(page).text
    assert "-1.0-" in _get(page).text  # a second read: now in any cache
    owner.upload(dev, make_wheel(tmp / "b", name, "1.1"))
    return _get(page).text


def test_a_release_shows_through_nginx_at_once(
    project: Project, owner: IndexClient, tmp_path: Path
) -> None:
    _nginx()
    port = free_port()
    conf = run(["proj", "nginx-config", "--listen", str(port)], project=project.root).output
    url = f"http://127.0.0.1:{port}"
    with _nginx_serving(conf, tmp_path / "pipl"):
        text = _publish_twice(owner, project, tmp_path, url, "ngx-fresh")
        assert "ngx_fresh-1.1-py3-none-any.whl" in text
        page = _get(f"{url}/{project.stage_index()}/+simple/ngx-fresh/")
        assert page.headers["cache-control"] == "no-cache"
        # release files still come through, with devpi's long lifetime
        link = re.search(r'href="([^"]+ngx_fresh-1\.1-py3-none-any\.whl)', page.text)
        assert link is not None
        file_url = page.url.join(link.group(1)).copy_with(fragment=None)
        wheel = _get(str(file_url))
        assert wheel.status_code == 200 and wheel.content[:2] == b"PK"
        assert "no-cache" not in wheel.headers.get("cache-control", "")


def test_devpis_caching_configuration_would_hide_it(
    project: Project, owner: IndexClient, tmp_path: Path
) -> None:
    """The same steps through devpi's own caching configuration serve the old page: the
    check above can fail."""
    _nginx()
    gen = tmp_path / "gen"
    gen.mkdir()
    subprocess.run(
        [Path(sys.executable).with_name("devpi-gen-config"),
         "--serverdir", project.serverdir, "--port", str(project.config.port)],
        cwd=gen, check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    text = (gen / "gen-config" / "nginx-devpi-caching.conf").read_text()
    text = text.replace("/var/cache/nginx", str(tmp_path / "cache"))
    text = re.sub(r"listen \d+;", f"listen {port};", text)
    text = re.sub(r"proxy_pass http://[^;]+;", f"proxy_pass {project.url};", text)
    with _nginx_serving(text, tmp_path / "devpi"):
        stale = _publish_twice(owner, project, tmp_path, f"http://127.0.0.1:{port}", "ngx-stale")
    assert "ngx_stale-1.1-py3-none-any.whl" not in stale
