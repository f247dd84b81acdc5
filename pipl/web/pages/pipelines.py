"""Pipelines: the list, a pipeline's DAG with counts and its instances, one instance
(parameters, log, files, tags, delete), and an instance's data files."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from webob import Response
from webob.static import FileIter

from pipl.api.service import pipelines as service
from pipl.errors import UsageError
from pipl.web.auth import check_csrf
from pipl.web.pages import Page, page

PER_PAGE = 50
# shown inline with <img>; every other file is sent as a download
IMAGES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}


def instance_url(pipeline: str, segment: str, instance: str) -> str:
    return f"/pipelines/{quote(pipeline)}/instances/{quote(segment)}/{quote(instance)}"


@page("GET", "/pipelines")
def pipelines(p: Page) -> Response:
    return p.render("pipelines/list.html", pipelines=p.call("pipelines.list"))


@page("GET", "/pipelines/{name}")
def pipeline(p: Page, name: str) -> Response:
    args = p.request.GET
    filters = {k: args.get(k, "").strip() for k in ("segment", "status", "tag")}
    try:
        number = max(1, int(args.get("page", "1")))
    except ValueError:
        raise UsageError(f"page must be a number, not {args.get('page')!r}") from None
    status = p.call("pipelines.status", pipeline=name)
    link = f"/pipelines/{quote(name)}?segment="
    graph = service.graph_of(p.ctx, name, svg=True, link=link, segments=status.segments)
    found = p.call(
        "pipelines.instances",
        pipeline=name,
        offset=(number - 1) * PER_PAGE,
        limit=PER_PAGE,
        **{k: v for k, v in filters.items() if v},
    )
    pages = max(1, -(-found.total // PER_PAGE))

    def page_url(n: int) -> str:
        query = {k: v for k, v in filters.items() if v}
        return f"/pipelines/{quote(name)}?{urlencode({**query, 'page': n})}"

    return p.render(
        "pipelines/pipeline.html",
        name=name,
        graph=graph,
        found=found,
        runs=status.runs,
        active=any(r.status in ("queued", "running", "cancelling") for r in status.runs),
        filters=filters,
        number=number,
        pages=pages,
        page_url=page_url,
        instance_url=instance_url,
    )


@page("POST", "/pipelines/{name}/run")
def run(p: Page, name: str) -> Response:
    check_csrf(p.request)
    p.call("pipelines.run", pipeline=name)
    return p.redirect(f"/pipelines/{quote(name)}")


@page("POST", "/pipelines/{name}/cancel")
def cancel(p: Page, name: str) -> Response:
    check_csrf(p.request)
    p.call("pipelines.cancel", pipeline=name)
    return p.redirect(f"/pipelines/{quote(name)}")


@page("GET", "/pipelines/{name}/instances/{segment}/{instance}")
def instance(p: Page, name: str, segment: str, instance: str) -> Response:
    key = p.request.GET.get("key") or None
    detail = p.call(
        "pipelines.instance", pipeline=name, segment=segment, instance=instance, key=key
    )
    base = instance_url(name, segment, instance)
    suffix = f"?{urlencode({'key': key})}" if key else ""
    files = [
        {
            "name": f.name,
            "size": f.size,
            "url": f"{base}/files/{quote(f.name)}{suffix}",
            "image": _suffix(f.name) in IMAGES,
        }
        for f in detail.files
    ]
    return p.render(
        "pipelines/instance.html",
        name=name,
        detail=detail,
        item=detail.instance,
        files=files,
        base=base,
        key=key or "",
    )


@page("GET", "/pipelines/{name}/instances/{segment}/{instance}/files/{path*}")
def data_file(p: Page, name: str, segment: str, instance: str, path: str) -> Response:
    key = p.request.GET.get("key") or None
    found = service.file_path(p.ctx, name, segment, instance, path, key)
    kind = IMAGES.get(_suffix(found.name))
    response = Response(
        app_iter=FileIter(found.open("rb")),
        content_type=kind or "application/octet-stream",
        content_length=found.stat().st_size,
        charset=None,
    )
    filename = quote(found.name)
    disposition = "inline" if kind else "attachment"
    response.headers["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{filename}"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.cache_control = "no-store"
    return response


def _suffix(name: str) -> str:
    return ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""


def _change(p: Page, op: str, name: str, segment: str, instance: str, **extra: str) -> None:
    check_csrf(p.request)
    key = p.request.POST.get("key") or None
    p.call(op, pipeline=name, segment=segment, instance=instance, key=key, **extra)


@page("POST", "/pipelines/{name}/instances/{segment}/{instance}/tag")
def tag(p: Page, name: str, segment: str, instance: str) -> Response:
    _change(p, "pipelines.tag", name, segment, instance, tag=p.request.POST.get("tag", "").strip())
    return p.redirect(instance_url(name, segment, instance) + _key_query(p))


@page("POST", "/pipelines/{name}/instances/{segment}/{instance}/untag")
def untag(p: Page, name: str, segment: str, instance: str) -> Response:
    _change(p, "pipelines.untag", name, segment, instance, tag=p.request.POST.get("tag", ""))
    return p.redirect(instance_url(name, segment, instance) + _key_query(p))


@page("POST", "/pipelines/{name}/instances/{segment}/{instance}/delete")
def delete(p: Page, name: str, segment: str, instance: str) -> Response:
    _change(p, "pipelines.delete", name, segment, instance)
    return p.redirect(f"/pipelines/{quote(name)}?{urlencode({'segment': segment})}")


def _key_query(p: Page) -> str:
    key = p.request.POST.get("key")
    return f"?{urlencode({'key': key})}" if key else ""
