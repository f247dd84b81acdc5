"""Yanked releases (PEP 592) on devpi-server's private stages.

devpi-server 6.20 serves ``data-yanked`` only for what a mirror copies from its upstream:
a private stage's simple page never carries it ("PEP 592 isn't supported for private
stages yet", ``PrivateStage.get_simplelinks_perstage``). pipl adds it:

- the yanked releases of a stage live in its devpi config under ``pipl_yanked``
  (project -> {version: reason}), like ``pipl_maintainers``, so they survive restarts and
  reach replicas;
- ``install`` wraps ``PrivateStage.get_simplelinks_perstage``: the links of a yanked
  version carry its reason (``True`` when none), which devpi's own simple views write as
  ``data-yanked`` (HTML) or ``yanked`` (JSON), on the stage and on every stage inheriting
  from it; pip and uv then skip those files unless the version is pinned with ``==``;
- ``/USER/INDEX/+pipl/yanked/PROJECT``: GET lists a project's yanked versions, POST
  (``{"version": V, "yanked": true|false, "reason": TEXT}``) yanks or restores one, for
  the project's maintainers on the stage (its first uploader, the owner, root).
"""

from __future__ import annotations

from typing import Any

from pipl import devpi_rules as rules

YANKED_KEY = "pipl_yanked"
YANKED_ROUTE = "pipl_yanked"
YANKED_PATTERN = "/{user:[^+/]+}/{index:[^+/]+}/+pipl/yanked/{project:[^+/]+}"
MAX_REASON = 500


def _canonical(version: str) -> str:
    """``version`` as a file name spells it (``1.0`` and ``1.0.0`` stay apart)."""
    from packaging.version import InvalidVersion, Version

    try:
        return str(Version(version))
    except InvalidVersion:
        return version


def stored(stage: Any) -> dict[str, dict[str, str]]:
    """The stage's yanked releases (project -> {version: reason}); malformed entries are
    skipped (the stage's owner may edit the config by hand)."""
    raw = stage.ixconfig.get(YANKED_KEY)
    if not isinstance(raw, dict):
        return {}
    return {
        str(project): {str(v): str(r) for v, r in versions.items() if isinstance(r, str)}
        for project, versions in raw.items()
        if isinstance(versions, dict)
    }


def yanked_versions(stage: Any, project: str) -> dict[str, str]:
    """The yanked versions of ``project`` on ``stage`` itself, with their reasons."""
    return stored(stage).get(project, {})


def _link_version(link: Any) -> str | None:
    """The version a link's file name carries, None when devpi cannot split it."""
    try:
        return _canonical(str(link.version))
    except Exception:  # devpi raises its own errors for odd names
        return None


def mark(stage: Any, links: Any, project: str) -> Any:
    """Set ``yanked`` on the links of ``project``'s yanked versions (devpi's
    ``SimplelinkMeta``); ``links`` itself is returned."""
    from devpi_server.normalized import normalize_name

    found = yanked_versions(stage, str(normalize_name(project)))
    if not found:
        return links
    reasons = {_canonical(v): r for v, r in found.items()}
    for link in links:
        version = _link_version(link)
        if version is not None and version in reasons:
            link.yanked = reasons[version] or True
    return links


def install() -> None:
    """Make private stages' simple links carry pipl's yanks (once per process)."""
    from devpi_server.model import PrivateStage

    original = PrivateStage.get_simplelinks_perstage
    if getattr(original, "_pipl_yank", False):
        return

    def get_simplelinks_perstage(self: Any, project: Any) -> Any:
        return mark(self, original(self, project), str(project))

    get_simplelinks_perstage._pipl_yank = True  # type: ignore[attr-defined]
    PrivateStage.get_simplelinks_perstage = get_simplelinks_perstage  # type: ignore[method-assign]


def _write(stage: Any, recorded: dict[str, dict[str, str]]) -> None:
    """Store the yanks in the stage's devpi config, in the current transaction (written
    directly, as ``pipl.devpi_rules`` writes the maintainers)."""
    with stage.user.key.update() as userconfig:
        config = userconfig["indexes"][stage.index]
        config[YANKED_KEY] = recorded
        stage.ixconfig = config


def change(stage: Any, project: str, version: str, *, yanked: bool, reason: str = "") -> None:
    """Yank (``yanked``) or restore ``project`` ``version`` on ``stage``; a yank needs the
    version on the stage itself, restoring one that is not yanked changes nothing."""
    if yanked and version not in stage.list_versions_perstage(project):
        raise rules.Refused(404, f"no release {project} {version} on {stage.name} to yank")
    recorded = stored(stage)
    versions = recorded.setdefault(project, {})
    if yanked:
        versions[version] = reason
    else:
        versions.pop(version, None)
    if not versions:
        del recorded[project]
    _write(stage, recorded)


def _change_from(stage: Any, project: str, request: Any) -> None:
    user = request.authenticated_userid
    if not user:
        raise rules.Refused(401, "log in to yank a release")
    rules.check_maintainer(stage, project, str(user), "yank or restore")
    try:
        data = request.json_body
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise rules.Refused(400, 'send JSON {"version": V, "yanked": true, "reason": TEXT}')
    version, yanked, reason = data.get("version"), data.get("yanked"), data.get("reason") or ""
    if not isinstance(version, str) or not version or not isinstance(yanked, bool):
        raise rules.Refused(400, "name the version and say yanked: true or false")
    if not isinstance(reason, str) or len(reason) > MAX_REASON or "\n" in reason:
        raise rules.Refused(400, f"the reason is one line of at most {MAX_REASON} characters")
    change(stage, project, version, yanked=yanked, reason=reason)


def yanked_view(context: Any, request: Any) -> Any:
    """GET: a project's yanked versions on a stage; POST: yank or restore one."""
    from devpi_server.normalized import normalize_name
    from pyramid.response import Response

    from pipl.devpi_guard import _stage, refusal

    stage = _stage(context)
    if stage is None:
        raise refusal(404, f"no private index {context.username}/{context.index}")
    project = str(normalize_name(context.matchdict["project"]))
    try:
        if request.method == "POST":
            _change_from(stage, project, request)
    except rules.Refused as exc:
        raise refusal(exc.status, exc.message) from None
    result = {"index": stage.name, "project": project, "yanked": yanked_versions(stage, project)}
    return Response(json_body={"type": "yanked", "result": result})


def configure(pyramid_config: Any) -> None:
    """Register the yank route and make simple pages show the yanks."""
    install()
    pyramid_config.add_route(YANKED_ROUTE, YANKED_PATTERN)
    pyramid_config.add_view(
        yanked_view,
        route_name=YANKED_ROUTE,
        request_method=("GET", "POST"),
        permission="pkg_read",
    )
