"""An nginx configuration in front of the project's server (a primary or a replica).

It starts from what ``devpi-gen-config`` writes (``nginx-devpi.conf``: release files
served from the server folder, everything else proxied) and makes sure no cache hides a
release promoted a second ago: nginx caches no proxied answer (``proxy_cache off``), and
simple pages and the API go out with ``Cache-Control: no-cache``, so a browser or another
proxy asks again each time. Only ``+f/`` release files keep a long lifetime: their URLs
hold their hash and a released file never changes.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from pipl.errors import ServerError
from pipl.project.project import Project
from pipl.runner import Runner

_MAP = """\
# pipl: every answer but a release file (immutable, its URL holds its hash) is revalidated,
# so a release promoted a second ago shows at once
map $uri $pipl_cache_control {
    ~/\\+f/  "";
    default  "no-cache";
}

"""
_PROXY = """\
        # pipl: nginx keeps no copy of a proxied answer (simple pages change with promotions)
        proxy_cache off;
        add_header Cache-Control $pipl_cache_control always;
"""


def generate(
    project: Project,
    *,
    outside_url: str | None = None,
    listen: int = 80,
    runner: Runner | None = None,
) -> str:
    """The nginx configuration for ``project``'s server, adapted from devpi-gen-config."""
    devpi_gen = Path(sys.executable).with_name("devpi-gen-config")
    argv: list[str] = [
        str(devpi_gen),
        "--serverdir",
        str(project.serverdir),
        "--host",
        project.config.host,
        "--port",
        str(project.config.port),
    ]
    if outside_url:
        argv += ["--outside-url", outside_url]
    with tempfile.TemporaryDirectory(prefix="pipl-gen-config-") as tmp:
        (runner or Runner()).run(argv, cwd=Path(tmp))
        try:
            text = (Path(tmp) / "gen-config" / "nginx-devpi.conf").read_text()
        except FileNotFoundError:
            raise ServerError("devpi-gen-config wrote no nginx-devpi.conf") from None
    return adapt(text, listen=listen, upstream=project.url)


def adapt(text: str, *, listen: int, upstream: str) -> str:
    """devpi's nginx configuration with pipl's cache rules, port and upstream."""
    if "location @proxy_to_app {" not in text:
        raise ServerError("devpi-gen-config's nginx configuration has no @proxy_to_app block")
    text = text.replace("location @proxy_to_app {\n", "location @proxy_to_app {\n" + _PROXY, 1)
    text = re.sub(r"listen \d+;", f"listen {listen};", text, count=1)
    # devpi writes localhost: talk to the address the server listens on
    text = re.sub(r"proxy_pass http://[^;]+;", f"proxy_pass {upstream};", text, count=1)
    return _MAP + text
