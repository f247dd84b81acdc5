"""Where pipl's release rules (``pipl.devpi_rules``) meet devpi-server's web application.

``configure`` is called from devpi's ``devpiserver_pyramid_configure`` hook. It adds:

- a pyramid view deriver that wraps devpi's upload (``POST /USER/INDEX/``), push
  (``POST /USER/INDEX`` with JSON) and delete views (project, version, file). It runs after
  devpi's permission checks and before the view, inside devpi's write transaction, so a
  refused request stores nothing whatever the client (twine, ``devpi upload``,
  ``uv publish``, plain HTTP); after a successful upload or push it records the project's
  first maintainers;
- ``/USER/INDEX/+pipl/maintainers/PROJECT``: GET lists a project's maintainers, PATCH
  (``{"add": [...], "remove": [...]}``) changes them, for its maintainers only.

A refusal answers with the status, the one-line reason as the HTTP reason phrase (what
twine and ``devpi upload`` print) and as the JSON ``message`` (what devpi-client and pipl
read). Toxresult uploads (``POST`` to a file) are not wrapped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyramid.httpexceptions import HTTPException
from pyramid.response import Response

from pipl import devpi_rules as rules

SUBMIT_ROUTE = "/{user}/{index}/"
PUSH_ROUTE = "/{user}/{index}"
DELETE_ROUTES = (
    "/{user}/{index}/{project}",
    "/{user}/{index}/{project}/{version}",
    "/{user}/{index}/+f/{relpath:.*}",
)
MAINTAINERS_ROUTE = "pipl_maintainers"
MAINTAINERS_PATTERN = "/{user:[^+/]+}/{index:[^+/]+}/+pipl/maintainers/{project:[^+/]+}"

View = Callable[[Any, Any], Any]


def refusal(status: int, message: str) -> HTTPException:
    """An HTTP error whose reason phrase and JSON ``message`` are ``message``."""
    error = type("PiplRefused", (HTTPException,), {"code": status, "title": message})
    return error(json_body={"type": "error", "message": message, "status": status})


def _user(request: Any) -> str | None:
    user = request.authenticated_userid
    return str(user) if user else None


def _stage(context: Any) -> Any:
    """The request's private stage, or None (a mirror, or no stage)."""
    stage = context._stage if hasattr(context, "_stage") else None
    return stage if stage is not None and hasattr(stage, "store_releasefile") else None


def _is_submit(request: Any) -> bool:
    return bool(request.content_type != "application/json" and request.POST.get(":action"))


def guard_submit(stage: Any, request: Any, user: str) -> str | None:
    """Check an upload (file, docs or metadata); the project it is for."""
    if not request.has_permission("upload"):
        return None  # devpi refuses it itself
    from devpi_server.normalized import normalize_name

    name = request.POST.get("name")
    if not isinstance(name, str) or not name:
        return None
    project = str(normalize_name(name))
    rules.check_maintainer(stage, project, user, "upload")
    content = request.POST.get("content")
    if request.POST.get(":action") == "file_upload" and hasattr(content, "file"):
        replace = request.headers.get(rules.REPLACE_HEADER, "") == "1"
        sha256 = rules.sha256_of(content.file)
        rules.check_file(stage, project, str(content.filename), sha256, replace=replace)
    return project


def guard_push(stage: Any, request: Any, user: str) -> tuple[Any, str] | None:
    """Check a push to another stage of this server: the target and the project."""
    try:
        data = request.json_body
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("targetindex"), str):
        return None
    name, version = data.get("name"), data.get("version")
    parts = data["targetindex"].split("/")
    if len(parts) != 2 or not isinstance(name, str) or not isinstance(version, str):
        return None
    target = stage.xom.model.getstage(*parts)
    if target is None or not hasattr(target, "store_releasefile"):
        return None
    if not request.has_permission("upload", context=target):
        return None
    from devpi_server.normalized import normalize_name

    project = str(normalize_name(name))
    try:
        links = stage.get_linkstore_perstage(project, version).get_links(rel="releasefile")
    except stage.MissesRegistration:
        return None
    rules.check_maintainer(target, project, user, "push")
    for link in links:
        sha256 = rules.link_sha256(link)
        if sha256:
            rules.check_file(target, project, link.basename, sha256, replace=False)
    return target, project


def guard_delete(stage: Any, context: Any, request: Any, user: str) -> None:
    """Check a removal of a project, a version or a file."""
    project = context.matchdict.get("project")
    if "relpath" in context.matchdict:
        entry = stage.xom.filestore.get_file_entry(request.path_info.strip("/"))
        project = getattr(entry, "project", None) if entry is not None else None
    if project:
        from devpi_server.normalized import normalize_name

        rules.check_maintainer(stage, str(normalize_name(project)), user, "delete from")


def _source_maintainers(stage: Any, project: str, user: str) -> list[str]:
    return rules.maintainers(stage, project) or [user]


def _guarded(view: View, route: str) -> View:
    def guarded_view(context: Any, request: Any) -> Any:
        stage, user = _stage(context), _user(request)
        if stage is None or user is None:
            return view(context, request)
        after: Callable[[], None] | None = None
        try:
            if request.method == "DELETE":
                guard_delete(stage, context, request, user)
            elif route == SUBMIT_ROUTE or _is_submit(request):
                project = guard_submit(stage, request, user)
                if project:
                    after = lambda: rules.claim(stage, project, [user])  # noqa: E731
            else:
                pushed = guard_push(stage, request, user)
                if pushed:
                    target, name = pushed
                    first = _source_maintainers(stage, name, user)
                    after = lambda: rules.claim(target, name, first)  # noqa: E731
        except rules.Refused as exc:
            stage.xom.log.warning("pipl refused %s %s: %s", request.method, request.path, exc)
            raise refusal(exc.status, exc.message) from None
        response = view(context, request)
        if after is not None and getattr(response, "status_code", 0) == 200:
            after()
        return response

    return guarded_view


def guard_deriver(view: View, info: Any) -> View:
    """Wrap devpi's upload, push and delete views with pipl's checks (see the module)."""
    route = info.options.get("route_name")
    if route in (SUBMIT_ROUTE, PUSH_ROUTE, *DELETE_ROUTES):
        methods = info.options.get("request_method") or ()
        methods = (methods,) if isinstance(methods, str) else tuple(methods)
        if {"POST", "PUSH", "DELETE"} & set(methods):
            return _guarded(view, route)
    return view


def maintainers_view(context: Any, request: Any) -> Response:
    """GET: a project's maintainers on a stage; PATCH: add or remove some."""
    from devpi_server.normalized import normalize_name

    stage = _stage(context)
    if stage is None:
        raise refusal(404, f"no private index {context.username}/{context.index}")
    project = str(normalize_name(context.matchdict["project"]))
    try:
        if request.method == "PATCH":
            _patch_maintainers(stage, project, request)
    except rules.Refused as exc:
        raise refusal(exc.status, exc.message) from None
    listed = rules.maintainers(stage, project)
    result = {
        "index": stage.name,
        "project": project,
        "maintainers": listed or [],
        "implicit": rules.implicit_maintainers(stage),
    }
    return Response(json_body={"type": "maintainers", "result": result})


def _patch_maintainers(stage: Any, project: str, request: Any) -> None:
    user = _user(request)
    if user is None:
        raise rules.Refused(401, "log in to change the maintainers of a project")
    rules.check_maintainer(stage, project, user, "change the maintainers of")
    try:
        data = request.json_body
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise rules.Refused(400, 'send JSON {"add": [USER...], "remove": [USER...]}')
    add, remove = data.get("add") or [], data.get("remove") or []
    if not all(isinstance(u, str) for u in [*add, *remove]):
        raise rules.Refused(400, "maintainers are user names")
    unknown = sorted(u for u in add if stage.xom.model.get_user(u) is None)
    if unknown:
        raise rules.Refused(400, f"no such user: {', '.join(unknown)}")
    rules.change(stage, project, add, remove)


def configure(pyramid_config: Any) -> None:
    """Register the view deriver and the maintainers route with devpi's application."""
    pyramid_config.add_view_deriver(guard_deriver, name="pipl_release_rules")
    pyramid_config.add_route(MAINTAINERS_ROUTE, MAINTAINERS_PATTERN)
    pyramid_config.add_view(
        maintainers_view,
        route_name=MAINTAINERS_ROUTE,
        request_method=("GET", "PATCH"),
        permission="pkg_read",
    )
