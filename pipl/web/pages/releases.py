"""Stages side by side with their releases and promotion, one release's page with its
provenance graph, its reviews and its project's maintainers (changed there by a
maintainer), products with their assets and the download of an asset."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from webob import Response

from pipl.api.http import error_response
from pipl.api.releases import Maintainers, Release
from pipl.errors import CommandError, PiplError, http_status
from pipl.web.auth import check_csrf
from pipl.web.pages import Page, page

PAGE = 25


def review_panel(p: Page, release: Release) -> dict[str, Any]:
    """What the release template's reviews block shows: ``reviews`` (None when they
    could not be read, with the reason in ``reviews_error``)."""
    try:
        found = p.call(
            "releases.reviews",
            stage=release.stage,
            project=release.project,
            version=release.version,
        )
    except PiplError as exc:
        return {"reviews": None, "reviews_error": str(exc)}
    return {"reviews": found, "reviews_error": ""}


def _offsets(p: Page, stages: list[str]) -> dict[str, int]:
    result = {}
    for name in stages:
        try:
            result[name] = max(0, int(p.request.GET.get(f"offset_{name}", "0")))
        except ValueError:
            result[name] = 0
    return result


def _stages(p: Page, *, status: int = 200, error: str | None = None, note: str = "") -> Response:
    stages = p.call("releases.stages")
    offsets = _offsets(p, [s.name for s in stages])
    columns = [
        (stage, p.call("releases.list", stage=stage.name, offset=offsets[stage.name], limit=PAGE))
        for stage in stages
    ]

    def link(stage: str, offset: int) -> str:
        return "/stages?" + urlencode(
            {**{f"offset_{k}": v for k, v in offsets.items()}, f"offset_{stage}": offset}
        )

    return p.render(
        "releases/stages.html",
        status=status,
        columns=columns,
        link=link,
        error=error,
        note=note or p.request.GET.get("promoted", ""),
    )


@page("GET", "/stages")
def stages(p: Page) -> Response:
    return _stages(p)


@page("POST", "/stages/promote")
def promote(p: Page) -> Response:
    check_csrf(p.request)
    form = p.request.POST
    try:
        answer = p.call(
            "releases.promote",
            project=form.get("project", ""),
            version=form.get("version", ""),
            source=form.get("source") or None,
        )
    except PiplError as exc:
        if http_status(exc) in (401, 403):
            raise
        return _stages(p, status=http_status(exc), error=str(exc))
    short = answer.target.rsplit("/", 1)[-1]
    note = f"promoted {answer.project} {answer.version} to {short}"
    return p.redirect("/stages?" + urlencode({"promoted": note}))


@page("GET", "/releases/{stage}/{project}/{version}")
def release(p: Page, stage: str, project: str, version: str) -> Response:
    return release_page(p, stage, project, version, note=p.request.GET.get("changed", ""))


def release_page(
    p: Page,
    stage: str,
    project: str,
    version: str,
    *,
    status: int = 200,
    error: str | None = None,
    note: str = "",
) -> Response:
    found = p.call("releases.get", stage=stage, project=project, version=version)
    maintainers: Maintainers | None = None
    unlisted = ""
    try:
        maintainers = p.call("releases.maintainers", stage=stage, project=found.project)
    except PiplError as exc:
        unlisted = str(exc)
    return p.render(
        "releases/release.html",
        status=status,
        release=found,
        graph=provenance_svg(found),
        maintainers=maintainers,
        unlisted=unlisted,
        may_change=_may_change(p.ctx.caller.user, maintainers),
        **review_panel(p, found),
        error=error,
        note=note,
    )


def _may_change(user: str | None, found: Maintainers | None) -> bool:
    """Whether the server lets ``user`` change the maintainers (as ``pipl.devpi_rules``
    decides): a listed maintainer, the stage's owner or root, or anyone logged in while
    nobody is listed."""
    if user is None or found is None:
        return False
    return not found.maintainers or user in found.maintainers or user in found.implicit


@page("POST", "/releases/{stage}/{project}/{version}/maintainers")
def change_maintainers(p: Page, stage: str, project: str, version: str) -> Response:
    """Add the form's ``add`` user or remove its ``remove`` user, as the visitor."""
    check_csrf(p.request)
    form = p.request.POST
    add = str(form.get("add", "")).strip()
    remove = str(form.get("remove", "")).strip()
    try:
        p.call(
            "releases.maintainers_change",
            stage=stage,
            project=project,
            add=[add] if add else [],
            remove=[remove] if remove else [],
        )
    except PiplError as exc:
        return release_page(p, stage, project, version, status=http_status(exc), error=str(exc))
    done = [f"added {add} to" if add else "", f"removed {remove} from" if remove else ""]
    note = " and ".join(filter(None, done)) + " the maintainers"
    here = f"/releases/{quote(stage)}/{quote(project)}/{quote(version)}"
    return p.redirect(here + "?" + urlencode({"changed": note}) + "#maintainers")


@page("GET", "/products")
def products(p: Page) -> Response:
    try:
        offset = max(0, int(p.request.GET.get("offset", "0")))
    except ValueError:
        offset = 0
    found = p.call("products.list", offset=offset, limit=PAGE + 1)
    return p.render(
        "releases/products.html",
        products=found[:PAGE],
        offset=offset,
        more=len(found) > PAGE,
        page=PAGE,
    )


@page("GET", "/products/{product}/{version}/assets/{asset}")
def asset(p: Page, product: str, version: str, asset: str) -> Response:
    from pipl.api.service.products import open_asset

    try:
        found, chunks = open_asset(p.ctx, product, version, asset)
    except PiplError as exc:
        if "text/html" in p.request.headers.get("Accept", ""):
            raise
        return error_response(exc)  # a client gets the error as the API gives it
    filename = f"{found.product}-{found.version}-{found.name}{found.suffix}"
    response = Response(
        app_iter=chunks, content_type="application/octet-stream", content_length=found.size
    )
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    response.headers["X-Pipl-Sha256"] = found.sha256
    return response


# -- the provenance graph ----------------------------------------------------------------


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def provenance_dot(release: Release) -> str:
    """Graphviz source: what the release was made from (a product's pinned sources) and
    needs (its requirements), and the products made from it."""
    me = f"{release.project} {release.version}"
    lines = [
        "digraph provenance {",
        'rankdir=LR; bgcolor="transparent";',
        'node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="sans-serif", '
        'fontsize=11, color="#8899aa"];',
        'edge [color="#65707c", fontname="sans-serif", fontsize=9];',
        f'{_q(me)} [fillcolor="#dce8f8", color="#2457a6", penwidth=2];',
    ]
    for up in release.upstream:
        node = f"{up.name} {up.version}"
        url = f"/releases/{up.stage}/{up.name}/{up.version}" if up.stage else ""
        colour = "#1b7f3b" if up.matches else "#b3261e"
        lines.append(f'{_q(node)} [URL={_q(url)}, color="{colour}"];')
        label = "made from" if up.matches else "made from (bytes differ)"
        lines.append(f"{_q(node)} -> {_q(me)} [label={_q(label)}];")
    pinned = {u.name for u in release.upstream}
    for req in release.requires:
        if req.name in pinned:
            continue
        node = f"{req.name} {req.found}" if req.found else f"{req.text} (missing)"
        lines.append(f'{_q(node)} [style="rounded,dashed"];')
        lines.append(f'{_q(node)} -> {_q(me)} [style=dashed, label="needs"];')
    for c in release.consumers:
        node = f"{c.product} {c.version}"
        url = f"/releases/{c.stage}/{c.product}/{c.version}"
        lines.append(f'{_q(node)} [URL={_q(url)}, fillcolor="#eef6ee"];')
        lines.append(f'{_q(me)} -> {_q(node)} [label="product"];')
    lines.append("}")
    return "\n".join(lines)


def provenance_svg(release: Release) -> str:
    """The graph as inline SVG (graphviz ``dot``), or "" when dot is not installed."""
    from pipl.runner import Runner

    try:
        done = Runner().run(["dot", "-Tsvg"], input=provenance_dot(release), timeout=20)
    except CommandError:
        return ""
    svg = done.stdout
    return svg[svg.find("<svg") :] if "<svg" in svg else ""
