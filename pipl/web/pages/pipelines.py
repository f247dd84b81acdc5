"""Pipelines: the list, a pipeline's DAG with counts and its instances (filtered by
segment, status, tag and dates; tagged or deleted in bulk), one instance (parameters,
exposed values, log, files, tags, delete with its dependents), its data files, a
segment's code per key, and two keys of a segment compared."""

from __future__ import annotations

import time
from urllib.parse import quote, urlencode

from webob import Response
from webob.static import FileIter

from pipl.api.service import instances
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


FILTERS = ("segment", "status", "tag", "since", "until")


def day_start(text: str, what: str) -> float:
    """Midnight (the server's local time, as the lists show times) of ``YYYY-MM-DD``."""
    try:
        return time.mktime(time.strptime(text, "%Y-%m-%d"))
    except ValueError:
        raise UsageError(f"{what} must be a date as YYYY-MM-DD, not {text!r}") from None


def date_filters(filters: dict[str, str]) -> dict[str, float]:
    """The ``since``/``until`` dates of the filter form as times (``until`` included)."""
    found = {}
    if filters.get("since"):
        found["since"] = day_start(filters["since"], "since")
    if filters.get("until"):
        found["until"] = day_start(filters["until"], "until") + 86400
    return found


@page("GET", "/pipelines/{name}")
def pipeline(p: Page, name: str) -> Response:
    args = p.request.GET
    filters = {k: args.get(k, "").strip() for k in FILTERS}
    try:
        number = max(1, int(args.get("page", "1")))
    except ValueError:
        raise UsageError(f"page must be a number, not {args.get('page')!r}") from None
    status = p.call("pipelines.status", pipeline=name)
    link = f"/pipelines/{quote(name)}?segment="
    graph = service.graph_of(p.ctx, name, svg=True, link=link, segments=status.segments)
    chosen = {k: v for k, v in filters.items() if v and k in ("segment", "status", "tag")}
    found = p.call(
        "pipelines.instances",
        pipeline=name,
        offset=(number - 1) * PER_PAGE,
        limit=PER_PAGE,
        **chosen,
        **date_filters(filters),
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
        source=status.source,
        active=any(r.status in ("queued", "running", "cancelling") for r in status.runs),
        filters=filters,
        number=number,
        pages=pages,
        page_url=page_url,
        instance_url=instance_url,
        back=page_url(number),
    )


@page("POST", "/pipelines/{name}/selected")
def selected(p: Page, name: str) -> Response:
    """Tag, untag or delete the instances ticked in the list."""
    check_csrf(p.request)
    form = p.request.POST
    instances = [str(v) for v in form.getall("instances")]
    action = form.get("action", "")
    if action in ("tag", "untag"):
        p.call(
            "pipelines.tag_selected",
            pipeline=name,
            instances=instances,
            tag=form.get("tag", "").strip(),
            remove=action == "untag",
        )
    elif action == "delete":
        p.call(
            "pipelines.delete_selected",
            pipeline=name,
            instances=instances,
            dependents=bool(form.get("dependents")),
        )
    else:
        raise UsageError(f"unknown action {action!r}: choose tag, untag or delete")
    back = form.get("back", "")
    home = f"/pipelines/{quote(name)}"
    return p.redirect(back if back.startswith(home + "?") else home)


@page("GET", "/pipelines/{name}/code/{segment}")
def code(p: Page, name: str, segment: str) -> Response:
    key = p.request.GET.get("key") or None
    view = p.call("pipelines.code", pipeline=name, segment=segment, key=key)
    keys = p.call("pipelines.keys", pipeline=name, segment=segment)
    return p.render("pipelines/code.html", name=name, view=view, keys=keys)


@page("GET", "/pipelines/{name}/compare/{segment}")
def compare(p: Page, name: str, segment: str) -> Response:
    args = p.request.GET
    keys = p.call("pipelines.keys", pipeline=name, segment=segment)
    try:
        number = max(1, int(args.get("page", "1")))
    except ValueError:
        raise UsageError(f"page must be a number, not {args.get('page')!r}") from None
    found = None
    if len(keys) > 1:
        found = p.call(
            "pipelines.compare",
            pipeline=name,
            segment=segment,
            a=args.get("a") or None,
            b=args.get("b") or None,
            offset=(number - 1) * PER_PAGE,
            limit=PER_PAGE,
        )
    pages = max(1, -(-found.total // PER_PAGE)) if found else 1

    def page_url(n: int) -> str:
        assert found is not None
        query = {"a": found.a.key, "b": found.b.key, "page": n}
        return f"/pipelines/{quote(name)}/compare/{quote(segment)}?{urlencode(query)}"

    return p.render(
        "pipelines/compare.html",
        name=name,
        segment=segment,
        keys=keys,
        found=found,
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
    found = instances.file_path(p.ctx, name, segment, instance, path, key)
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


def _change(p: Page, op: str, name: str, segment: str, instance: str, **extra: object) -> None:
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
    dependents = bool(p.request.POST.get("dependents"))
    _change(p, "pipelines.delete", name, segment, instance, dependents=dependents)
    return p.redirect(f"/pipelines/{quote(name)}?{urlencode({'segment': segment})}")


def _key_query(p: Page) -> str:
    key = p.request.POST.get("key")
    return f"?{urlencode({'key': key})}" if key else ""
