"""Dashboard pages: functions registered with ``@page`` that fetch with the API's own
operations (``Page.call``) and render a Jinja template (``Page.render``).

Each domain has its module here (``jobs``, ``releases``, ``pipelines``), imported by
``load()``; a page module adds its routes when imported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from webob import Request, Response
from webob.exc import HTTPSeeOther

from pipl.api import service
from pipl.api.ops import _part_regex

if TYPE_CHECKING:
    from jinja2 import Environment

PageFunc = Callable[..., Response]
ROUTES: list[tuple[str, re.Pattern[str], PageFunc]] = []


def page(method: str, path: str) -> Callable[[PageFunc], PageFunc]:
    """Register a page at ``path`` (``{name}`` one segment, ``{name*}`` the rest)."""

    def register(func: PageFunc) -> PageFunc:
        regex = "".join(_part_regex(part) for part in re.split(r"(\{\w+\*?\})", path))
        ROUTES.append((method, re.compile(f"^{regex}$"), func))
        return func

    return register


def find(method: str, path: str) -> tuple[PageFunc, dict[str, str]] | None:
    for route_method, pattern, func in ROUTES:
        found = pattern.match(path)
        if found and (route_method == method or (route_method == "GET" and method == "HEAD")):
            return func, found.groupdict()
    return None


@dataclass
class Page:
    """One page request: the request, the caller's API context, and rendering."""

    request: Request
    ctx: service.Context
    templates: Environment
    csrf: str

    def call(self, op: str, **params: Any) -> Any:
        """Operation ``op`` of the API, as this page's visitor (the same access checks)."""
        return service.dispatch(self.ctx, op, params)

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        html = self.templates.get_template(template).render(
            user=self.ctx.caller.user,
            is_owner=self.ctx.is_owner,
            project=self.ctx.project.name,
            csrf=self.csrf,
            path=self.request.path_info,
            **values,
        )
        return Response(html, status=status, content_type="text/html", charset="utf-8")

    def redirect(self, location: str) -> Response:
        return HTTPSeeOther(location=location)


def load() -> None:
    """Import the page modules (each registers its routes)."""
    from pipl.web.pages import (
        home,  # noqa: F401
        jobs,  # noqa: F401
        pipelines,  # noqa: F401
        releases,  # noqa: F401
        reviews,  # noqa: F401
    )
