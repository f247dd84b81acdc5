"""Names the project's owner let into the stages, kept on the first stage by the server.

A release on the first stage whose project name exists on the base index or on PyPI (the
mirror) and that no later stage holds yet stays on the first stage until the owner allows
the name (``pipl.ci.gates``): otherwise any first-stage user could shadow a public
package inside the project. The allowed names live in the first stage's devpi config
under ``pipl_allowed_names`` (a sorted list of normalized names), like ``pipl_yanked``,
so they survive restarts and reach replicas.

``/USER/INDEX/+pipl/allowed-names``: GET lists them (anyone who may read the index),
POST (``{"name": N, "allowed": true|false}``) allows or disallows one, for the index's
owner and root only (not its CI user).
"""

from __future__ import annotations

import re
from typing import Any

from pipl import devpi_rules as rules

ALLOWED_KEY = "pipl_allowed_names"
ALLOWED_ROUTE = "pipl_allowed_names"
ALLOWED_PATTERN = "/{user:[^+/]+}/{index:[^+/]+}/+pipl/allowed-names"
_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def stored(stage: Any) -> list[str]:
    """The stage's allowed names; malformed entries are skipped (the config may be edited
    by hand)."""
    raw = stage.ixconfig.get(ALLOWED_KEY)
    if not isinstance(raw, (list, tuple)):
        return []
    return sorted({_normalize(n) for n in raw if isinstance(n, str) and _NAME.match(n)})


def change(stage: Any, name: str, *, allowed: bool) -> list[str]:
    """Allow (``allowed``) or disallow ``name`` on ``stage``, in the current transaction;
    the new list."""
    found = set(stored(stage))
    if allowed:
        found.add(_normalize(name))
    else:
        found.discard(_normalize(name))
    recorded = sorted(found)
    with stage.user.key.update() as userconfig:
        config = userconfig["indexes"][stage.index]
        config[ALLOWED_KEY] = recorded
        stage.ixconfig = config
    return recorded


def _change_from(stage: Any, request: Any) -> None:
    user = request.authenticated_userid
    if not user:
        raise rules.Refused(401, "log in to allow or disallow a name")
    if str(user) not in rules.implicit_maintainers(stage):
        raise rules.Refused(
            403,
            f"{user} may not allow or disallow names on {stage.name}: only its owner "
            f"{stage.username} and root may",
        )
    try:
        data = request.json_body
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise rules.Refused(400, 'send JSON {"name": NAME, "allowed": true}')
    name, allowed = data.get("name"), data.get("allowed")
    if not isinstance(name, str) or not _NAME.match(name) or not isinstance(allowed, bool):
        raise rules.Refused(400, "name a project (a valid distribution name) and say allowed")
    change(stage, name, allowed=allowed)


def allowed_view(context: Any, request: Any) -> Any:
    """GET: the stage's allowed names; POST: allow or disallow one."""
    from pyramid.response import Response

    from pipl.devpi_guard import _stage, refusal

    stage = _stage(context)
    if stage is None:
        raise refusal(404, f"no private index {context.username}/{context.index}")
    try:
        if request.method == "POST":
            _change_from(stage, request)
    except rules.Refused as exc:
        raise refusal(exc.status, exc.message) from None
    result = {"index": stage.name, "names": stored(stage)}
    return Response(json_body={"type": "allowed-names", "result": result})


def configure(pyramid_config: Any) -> None:
    """Register the allowed-names route."""
    pyramid_config.add_route(ALLOWED_ROUTE, ALLOWED_PATTERN)
    pyramid_config.add_view(
        allowed_view,
        route_name=ALLOWED_ROUTE,
        request_method=("GET", "POST"),
        permission="pkg_read",
    )
