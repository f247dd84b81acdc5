"""The operations of pipl's API as typed functions of a client, one per operation.

Written by ``make api`` (``pipl.api.codegen``) from the functions of ``pipl.api.service``
that carry the operations out: change those, not this file. ``pipl.Client``'s methods
are these functions (``remote``), or call them.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from pipl.api.admin import Health, Identity, Login
from pipl.api.flow import FlowStage
from pipl.api.jobs import Job, LogChunk, Triggered
from pipl.api.lifecycle import Derived, Yank
from pipl.api.models import value_of
from pipl.api.ops import Route
from pipl.api.pipelines import (
    Comparison,
    FileContent,
    Graph,
    Instance,
    InstanceDetail,
    InstancePage,
    PipelineSummary,
    Run,
    SegmentCode,
    SegmentKey,
    Status,
)
from pipl.api.releases import (
    AllowedNames,
    AssetCheck,
    Maintainers,
    Packl,
    Product,
    Promotion,
    Release,
    ReleaseList,
    Stage,
    Uploaded,
)
from pipl.api.reviews import ReleaseReview, ReleaseReviews
from pipl.api.users import User

if TYPE_CHECKING:
    from pipl.api.client.remote import Sender


HEALTH = Route("health", "GET", "/api/v1/health")


def health(client: Sender) -> Health:
    """The server's and CI runner's state, serials, job counts and versions."""
    answer: Health = value_of(Health, client.send(HEALTH, {}))
    return answer


WHOAMI = Route("whoami", "GET", "/api/v1/whoami")


def whoami(client: Sender) -> Identity:
    """Who this client is to the project (``user`` None: anonymous)."""
    answer: Identity = value_of(Identity, client.send(WHOAMI, {}))
    return answer


LOGIN = Route("login", "POST", "/api/v1/login")


def login(client: Sender, user: str, password: str) -> Login:
    """Log in to the project's devpi-server; the answer's token authenticates later calls."""
    answer: Login = value_of(Login, client.send(LOGIN, {"user": user, "password": password}))
    return answer


JOBS_LIST = Route("jobs.list", "GET", "/api/v1/jobs")


def jobs_list(
    client: Sender,
    state: builtins.list[str] | None = None,
    packl: str | None = None,
    index: str | None = None,
    handler: str | None = None,
    limit: int = 50,
    before: int | None = None,
    after: int | None = None,
) -> builtins.list[Job]:
    """Jobs newest first (``before``/``after`` a job id: the page older/newer than it)."""
    answer: builtins.list[Job] = value_of(
        builtins.list[Job],
        client.send(
            JOBS_LIST,
            {
                "state": state,
                "packl": packl,
                "index": index,
                "handler": handler,
                "limit": limit,
                "before": before,
                "after": after,
            },
        ),
    )
    return answer


JOBS_COUNTS = Route("jobs.counts", "GET", "/api/v1/jobs/counts")


def jobs_counts(
    client: Sender, packl: str | None = None, index: str | None = None, handler: str | None = None
) -> dict[str, int]:
    """How many jobs the caller may see are in each state (among those matching the
    filters)."""
    answer: dict[str, int] = value_of(
        dict[str, int],
        client.send(JOBS_COUNTS, {"packl": packl, "index": index, "handler": handler}),
    )
    return answer


JOBS_GET = Route("jobs.get", "GET", "/api/v1/jobs/{id}")


def jobs_get(client: Sender, id: int) -> Job:
    """One CI job, with its release, state, times and message."""
    answer: Job = value_of(Job, client.send(JOBS_GET, {"id": id}))
    return answer


JOBS_LOG = Route("jobs.log", "GET", "/api/v1/jobs/{id}/log")


def jobs_log(client: Sender, id: int, offset: int = 0, limit: int = 65536) -> LogChunk:
    """One read of a job's log from byte ``offset``: at most ``limit`` bytes (64 KiB)."""
    answer: LogChunk = value_of(
        LogChunk, client.send(JOBS_LOG, {"id": id, "offset": offset, "limit": limit})
    )
    return answer


JOBS_RETRY = Route("jobs.retry", "POST", "/api/v1/jobs/{id}/retry")


def jobs_retry(client: Sender, id: int) -> Job:
    """Queue a failed or cancelled job again."""
    answer: Job = value_of(Job, client.send(JOBS_RETRY, {"id": id}))
    return answer


JOBS_CANCEL = Route("jobs.cancel", "POST", "/api/v1/jobs/{id}/cancel")


def jobs_cancel(client: Sender, id: int) -> Job:
    """Cancel a queued or running job (the runner stops a running one)."""
    answer: Job = value_of(Job, client.send(JOBS_CANCEL, {"id": id}))
    return answer


JOBS_TRIGGERED = Route("jobs.triggered", "GET", "/api/v1/jobs/triggered")


def jobs_triggered(client: Sender, project: str, version: str) -> Triggered:
    """The jobs the upload of ``project version`` set going, following promotions to later
    stages and the products its processing published; ``finished`` once all ended."""
    answer: Triggered = value_of(
        Triggered, client.send(JOBS_TRIGGERED, {"project": project, "version": version})
    )
    return answer


PIPELINES_LIST = Route("pipelines.list", "GET", "/api/v1/pipelines")


def pipelines_list(client: Sender) -> builtins.list[PipelineSummary]:
    """The project's pipelines: those CI processed and those tracked from a workspace."""
    answer: builtins.list[PipelineSummary] = value_of(
        builtins.list[PipelineSummary], client.send(PIPELINES_LIST, {})
    )
    return answer


PIPELINES_GRAPH = Route("pipelines.graph", "GET", "/api/v1/pipelines/{pipeline}")


def pipelines_graph(client: Sender, pipeline: str, svg: bool = False) -> Graph:
    """The pipeline's segments and their edges (with ``svg``: drawn by graphviz when it is
    installed)."""
    answer: Graph = value_of(
        Graph, client.send(PIPELINES_GRAPH, {"pipeline": pipeline, "svg": svg})
    )
    return answer


PIPELINES_STATUS = Route("pipelines.status", "GET", "/api/v1/pipelines/{pipeline}/status")


def pipelines_status(client: Sender, pipeline: str, runs: int = 5) -> Status:
    """The pipeline's instance counts by segment and state, and its last ``runs`` runs."""
    answer: Status = value_of(
        Status, client.send(PIPELINES_STATUS, {"pipeline": pipeline, "runs": runs})
    )
    return answer


PIPELINES_RUN = Route("pipelines.run", "POST", "/api/v1/pipelines/{pipeline}/run")


def pipelines_run(client: Sender, pipeline: str) -> Run:
    """Start the pipeline again (only what is not computed yet is computed); returns at once
    with the queued run: ``status(pipeline).runs`` follows it."""
    answer: Run = value_of(Run, client.send(PIPELINES_RUN, {"pipeline": pipeline}))
    return answer


PIPELINES_CANCEL = Route("pipelines.cancel", "POST", "/api/v1/pipelines/{pipeline}/cancel")


def pipelines_cancel(client: Sender, pipeline: str, run: int | None = None) -> Run:
    """Ask the pipeline's running run (or ``run``) to stop; returns at once with it: a queued
    run is ``cancelled`` already, a running one ``cancelling`` until its workers are stopped
    (``status(pipeline).runs`` follows it). What finished stays."""
    answer: Run = value_of(Run, client.send(PIPELINES_CANCEL, {"pipeline": pipeline, "run": run}))
    return answer


PIPELINES_CODE = Route("pipelines.code", "GET", "/api/v1/pipelines/{pipeline}/code/{segment}")


def pipelines_code(
    client: Sender, pipeline: str, segment: str, key: str | None = None
) -> SegmentCode:
    """What entered the segment's key (its current one, or ``key``)."""
    answer: SegmentCode = value_of(
        SegmentCode,
        client.send(PIPELINES_CODE, {"pipeline": pipeline, "segment": segment, "key": key}),
    )
    return answer


PIPELINES_KEYS = Route("pipelines.keys", "GET", "/api/v1/pipelines/{pipeline}/keys/{segment}")


def pipelines_keys(client: Sender, pipeline: str, segment: str) -> builtins.list[SegmentKey]:
    """The keys the segment has had, newest first, with their instance counts."""
    answer: builtins.list[SegmentKey] = value_of(
        builtins.list[SegmentKey],
        client.send(PIPELINES_KEYS, {"pipeline": pipeline, "segment": segment}),
    )
    return answer


PIPELINES_COMPARE = Route(
    "pipelines.compare", "GET", "/api/v1/pipelines/{pipeline}/compare/{segment}"
)


def pipelines_compare(
    client: Sender,
    pipeline: str,
    segment: str,
    a: str | None = None,
    b: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Comparison:
    """Keys ``a`` and ``b`` of the segment side by side (default: the key before the current
    one, and the current one)."""
    answer: Comparison = value_of(
        Comparison,
        client.send(
            PIPELINES_COMPARE,
            {
                "pipeline": pipeline,
                "segment": segment,
                "a": a,
                "b": b,
                "offset": offset,
                "limit": limit,
            },
        ),
    )
    return answer


PIPELINES_INSTANCES = Route("pipelines.instances", "GET", "/api/v1/pipelines/{pipeline}/instances")


def pipelines_instances(
    client: Sender,
    pipeline: str,
    segment: str | None = None,
    status: str | None = None,
    tag: str | None = None,
    since: float | None = None,
    until: float | None = None,
    offset: int = 0,
    limit: int = 50,
) -> InstancePage:
    """One page of instances; ``since``/``until`` keep those started from ``since`` and before
    ``until`` (epoch seconds, or dates and datetimes; a date is UTC midnight)."""
    answer: InstancePage = value_of(
        InstancePage,
        client.send(
            PIPELINES_INSTANCES,
            {
                "pipeline": pipeline,
                "segment": segment,
                "status": status,
                "tag": tag,
                "since": since,
                "until": until,
                "offset": offset,
                "limit": limit,
            },
        ),
    )
    return answer


PIPELINES_INSTANCE = Route(
    "pipelines.instance", "GET", "/api/v1/pipelines/{pipeline}/instances/{segment}/{instance}"
)


def pipelines_instance(
    client: Sender, pipeline: str, segment: str, instance: str, key: str | None = None
) -> InstanceDetail:
    """One instance: its parameters, inputs, outputs, log and tags (its current key, or
    ``key``)."""
    answer: InstanceDetail = value_of(
        InstanceDetail,
        client.send(
            PIPELINES_INSTANCE,
            {"pipeline": pipeline, "segment": segment, "instance": instance, "key": key},
        ),
    )
    return answer


PIPELINES_FILE = Route(
    "pipelines.file",
    "GET",
    "/api/v1/pipelines/{pipeline}/instances/{segment}/{instance}/files/{path*}",
)


def pipelines_file(
    client: Sender, pipeline: str, segment: str, instance: str, path: str, key: str | None = None
) -> FileContent:
    """The content of the instance's data file ``path``."""
    answer: FileContent = value_of(
        FileContent,
        client.send(
            PIPELINES_FILE,
            {
                "pipeline": pipeline,
                "segment": segment,
                "instance": instance,
                "path": path,
                "key": key,
            },
        ),
    )
    return answer


PIPELINES_TAG = Route(
    "pipelines.tag", "POST", "/api/v1/pipelines/{pipeline}/instances/{segment}/{instance}/tag"
)


def pipelines_tag(
    client: Sender, pipeline: str, segment: str, instance: str, tag: str, key: str | None = None
) -> builtins.list[str]:
    """Add ``tag`` to the instance; its tags afterwards."""
    answer: builtins.list[str] = value_of(
        builtins.list[str],
        client.send(
            PIPELINES_TAG,
            {
                "pipeline": pipeline,
                "segment": segment,
                "instance": instance,
                "tag": tag,
                "key": key,
            },
        ),
    )
    return answer


PIPELINES_UNTAG = Route(
    "pipelines.untag", "POST", "/api/v1/pipelines/{pipeline}/instances/{segment}/{instance}/untag"
)


def pipelines_untag(
    client: Sender, pipeline: str, segment: str, instance: str, tag: str, key: str | None = None
) -> builtins.list[str]:
    """Take ``tag`` off the instance; its tags afterwards."""
    answer: builtins.list[str] = value_of(
        builtins.list[str],
        client.send(
            PIPELINES_UNTAG,
            {
                "pipeline": pipeline,
                "segment": segment,
                "instance": instance,
                "tag": tag,
                "key": key,
            },
        ),
    )
    return answer


PIPELINES_DELETE = Route(
    "pipelines.delete", "POST", "/api/v1/pipelines/{pipeline}/instances/{segment}/{instance}/delete"
)


def pipelines_delete(
    client: Sender,
    pipeline: str,
    segment: str,
    instance: str,
    key: str | None = None,
    dependents: bool = False,
) -> Instance:
    """Delete the instance's data (the next run computes it again), and the data of every
    instance downstream of it when ``dependents`` (see ``dependents()``)."""
    answer: Instance = value_of(
        Instance,
        client.send(
            PIPELINES_DELETE,
            {
                "pipeline": pipeline,
                "segment": segment,
                "instance": instance,
                "key": key,
                "dependents": dependents,
            },
        ),
    )
    return answer


PIPELINES_DEPENDENTS = Route(
    "pipelines.dependents",
    "GET",
    "/api/v1/pipelines/{pipeline}/instances/{segment}/{instance}/dependents",
)


def pipelines_dependents(
    client: Sender, pipeline: str, segment: str, instance: str, key: str | None = None
) -> builtins.list[Instance]:
    """The instances downstream of this one (those that used it, and so on)."""
    answer: builtins.list[Instance] = value_of(
        builtins.list[Instance],
        client.send(
            PIPELINES_DEPENDENTS,
            {"pipeline": pipeline, "segment": segment, "instance": instance, "key": key},
        ),
    )
    return answer


PIPELINES_DELETE_SELECTED = Route(
    "pipelines.delete_selected", "POST", "/api/v1/pipelines/{pipeline}/delete"
)


def pipelines_delete_selected(
    client: Sender,
    pipeline: str,
    instances: builtins.list[str] | None = None,
    dependents: bool = False,
) -> builtins.list[Instance]:
    """Delete the data of ``instances`` (``"SEGMENT/INSTANCE"``, current keys), with every
    instance downstream of them when ``dependents``; what was deleted."""
    answer: builtins.list[Instance] = value_of(
        builtins.list[Instance],
        client.send(
            PIPELINES_DELETE_SELECTED,
            {"pipeline": pipeline, "instances": instances, "dependents": dependents},
        ),
    )
    return answer


PIPELINES_TAG_SELECTED = Route("pipelines.tag_selected", "POST", "/api/v1/pipelines/{pipeline}/tag")


def pipelines_tag_selected(
    client: Sender,
    pipeline: str,
    tag: str,
    instances: builtins.list[str] | None = None,
    remove: bool = False,
) -> builtins.list[Instance]:
    """Put ``tag`` on each of ``instances`` (``"SEGMENT/INSTANCE"``), or take it off
    (``remove``); the instances afterwards."""
    answer: builtins.list[Instance] = value_of(
        builtins.list[Instance],
        client.send(
            PIPELINES_TAG_SELECTED,
            {"pipeline": pipeline, "tag": tag, "instances": instances, "remove": remove},
        ),
    )
    return answer


RELEASES_STAGES = Route("releases.stages", "GET", "/api/v1/stages")


def releases_stages(client: Sender) -> builtins.list[Stage]:
    """The project's stages in promotion order, with their indexes, bases, handlers and how
    many releases each holds."""
    answer: builtins.list[Stage] = value_of(builtins.list[Stage], client.send(RELEASES_STAGES, {}))
    return answer


RELEASES_PACKLS = Route("releases.packls", "GET", "/api/v1/packls")


def releases_packls(client: Sender) -> builtins.list[Packl]:
    """Every packl on the stages, with its newest version on each stage that has it."""
    answer: builtins.list[Packl] = value_of(builtins.list[Packl], client.send(RELEASES_PACKLS, {}))
    return answer


RELEASES_LIST = Route("releases.list", "GET", "/api/v1/stages/{stage}/releases")


def releases_list(client: Sender, stage: str, offset: int = 0, limit: int = 50) -> ReleaseList:
    """A stage's releases, newest first, ``limit`` from ``offset``."""
    answer: ReleaseList = value_of(
        ReleaseList, client.send(RELEASES_LIST, {"stage": stage, "offset": offset, "limit": limit})
    )
    return answer


RELEASES_GET = Route("releases.get", "GET", "/api/v1/releases/{stage}/{project}/{version}")


def releases_get(client: Sender, stage: str, project: str, version: str) -> Release:
    """One release on ``stage``: files, QA results, CI jobs, requirements, provenance."""
    answer: Release = value_of(
        Release, client.send(RELEASES_GET, {"stage": stage, "project": project, "version": version})
    )
    return answer


RELEASES_MAINTAINERS = Route("releases.maintainers", "GET", "/api/v1/maintainers/{stage}/{project}")


def releases_maintainers(client: Sender, stage: str, project: str) -> Maintainers:
    """Who maintains ``project`` on ``stage``."""
    answer: Maintainers = value_of(
        Maintainers, client.send(RELEASES_MAINTAINERS, {"stage": stage, "project": project})
    )
    return answer


RELEASES_MAINTAINERS_CHANGE = Route(
    "releases.maintainers_change", "POST", "/api/v1/maintainers/{stage}/{project}"
)


def releases_maintainers_change(
    client: Sender,
    stage: str,
    project: str,
    add: builtins.list[str] | None = None,
    remove: builtins.list[str] | None = None,
) -> Maintainers:
    """Add and remove maintainers of ``project`` on ``stage``, as one of them: the
    caller's own devpi login changes the list, and the server allows maintainers only."""
    answer: Maintainers = value_of(
        Maintainers,
        client.send(
            RELEASES_MAINTAINERS_CHANGE,
            {"stage": stage, "project": project, "add": add, "remove": remove},
        ),
    )
    return answer


PRODUCTS_LIST = Route("products.list", "GET", "/api/v1/products")


def products_list(client: Sender, offset: int = 0, limit: int = 50) -> builtins.list[Product]:
    """Products (releases made by processing), newest first, one page of them."""
    answer: builtins.list[Product] = value_of(
        builtins.list[Product], client.send(PRODUCTS_LIST, {"offset": offset, "limit": limit})
    )
    return answer


PRODUCTS_GET = Route("products.get", "GET", "/api/v1/products/{product}/{version}")


def products_get(client: Sender, product: str, version: str) -> Product:
    """A product with its provenance (the releases it was made from) and its assets."""
    answer: Product = value_of(
        Product, client.send(PRODUCTS_GET, {"product": product, "version": version})
    )
    return answer


PRODUCTS_VERIFY = Route(
    "products.verify", "GET", "/api/v1/products/{product}/{version}/assets/{asset}/verify"
)


def products_verify(client: Sender, product: str, version: str, asset: str) -> AssetCheck:
    """Re-hash the stored object of an asset on the project's side."""
    answer: AssetCheck = value_of(
        AssetCheck,
        client.send(PRODUCTS_VERIFY, {"product": product, "version": version, "asset": asset}),
    )
    return answer


RELEASES_UPLOAD = Route("releases.upload", "POST", "/api/v1/upload")


def releases_upload(
    client: Sender, files: builtins.list[Any], stage: str | None = None, replace: bool = False
) -> builtins.list[Uploaded]:
    """Upload wheels and sdists to ``stage`` (default: the first), checked as ``pipl proj index
    upload`` checks them: all files before any is sent."""
    answer: builtins.list[Uploaded] = value_of(
        builtins.list[Uploaded],
        client.send(RELEASES_UPLOAD, {"files": files, "stage": stage, "replace": replace}),
    )
    return answer


RELEASES_PROMOTE = Route("releases.promote", "POST", "/api/v1/promote")


def releases_promote(
    client: Sender,
    project: str,
    version: str,
    to: str | None = None,
    source: str | None = None,
    with_deps: bool = False,
    dry_run: bool = False,
    skip_stage: bool = False,
) -> Promotion:
    """Push a release to stage ``to`` (default: the stage after the furthest one holding it)
    once its requirements are there; ``with_deps`` pushes the missing ones with it, all or
    nothing; ``skip_stage`` lets ``to`` be past the stage after the one holding it. The
    owner's (or root's) right."""
    answer: Promotion = value_of(
        Promotion,
        client.send(
            RELEASES_PROMOTE,
            {
                "project": project,
                "version": version,
                "to": to,
                "source": source,
                "with_deps": with_deps,
                "dry_run": dry_run,
                "skip_stage": skip_stage,
            },
        ),
    )
    return answer


RELEASES_PROMOTE_SET = Route("releases.promote_set", "POST", "/api/v1/promote-set")


def releases_promote_set(
    client: Sender, releases: builtins.list[Any], with_deps: bool = False
) -> builtins.list[Promotion]:
    """Promote several releases (``{project, version, to, source}`` each) as one: all of
    them, or none when one cannot be (``Client.transaction``)."""
    answer: builtins.list[Promotion] = value_of(
        builtins.list[Promotion],
        client.send(RELEASES_PROMOTE_SET, {"releases": releases, "with_deps": with_deps}),
    )
    return answer


RELEASES_REVIEW = Route("releases.review", "POST", "/api/v1/reviews/{stage}/{project}/{version}")


def releases_review(
    client: Sender, stage: str, project: str, version: str, decision: str, comment: str = ""
) -> ReleaseReview:
    """Approve or reject (``decision``, a reject with a ``comment``) ``project version`` on
    ``stage``, for the files it has there now."""
    answer: ReleaseReview = value_of(
        ReleaseReview,
        client.send(
            RELEASES_REVIEW,
            {
                "stage": stage,
                "project": project,
                "version": version,
                "decision": decision,
                "comment": comment,
            },
        ),
    )
    return answer


RELEASES_REVIEWS = Route("releases.reviews", "GET", "/api/v1/reviews/{stage}/{project}/{version}")


def releases_reviews(client: Sender, stage: str, project: str, version: str) -> ReleaseReviews:
    """The approvals and rejects of ``project version`` on ``stage``, each marked ``valid``
    while it counts for the release's current files."""
    answer: ReleaseReviews = value_of(
        ReleaseReviews,
        client.send(RELEASES_REVIEWS, {"stage": stage, "project": project, "version": version}),
    )
    return answer


RELEASES_YANK = Route("releases.yank", "POST", "/api/v1/yank")


def releases_yank(
    client: Sender, stage: str, project: str, version: str, yanked: bool = True, reason: str = ""
) -> Yank:
    """Yank ``project version`` on ``stage`` (``yanked=False``: restore it), as one of its
    maintainers there: pip and uv skip it unless it is pinned with ``==``.
    The caller's own devpi login yanks: the server allows the project's maintainers."""
    answer: Yank = value_of(
        Yank,
        client.send(
            RELEASES_YANK,
            {
                "stage": stage,
                "project": project,
                "version": version,
                "yanked": yanked,
                "reason": reason,
            },
        ),
    )
    return answer


RELEASES_DERIVED = Route("releases.derived", "GET", "/api/v1/derived/{project}/{version}")


def releases_derived(client: Sender, project: str, version: str) -> builtins.list[Derived]:
    """Every release made from ``project version``, transitively, nearest first."""
    answer: builtins.list[Derived] = value_of(
        builtins.list[Derived],
        client.send(RELEASES_DERIVED, {"project": project, "version": version}),
    )
    return answer


RELEASES_NAMES = Route("releases.names", "GET", "/api/v1/names")


def releases_names(client: Sender) -> AllowedNames:
    """The public names (on PyPI or the base index) the owner let past the first stage."""
    answer: AllowedNames = value_of(AllowedNames, client.send(RELEASES_NAMES, {}))
    return answer


RELEASES_NAMES_CHANGE = Route("releases.names_change", "POST", "/api/v1/names")


def releases_names_change(client: Sender, project: str, allowed: bool = True) -> AllowedNames:
    """The caller's own devpi login changes the list (the server allows the first stage's
    owner and root only); allowing queues again the promote jobs the name held."""
    answer: AllowedNames = value_of(
        AllowedNames, client.send(RELEASES_NAMES_CHANGE, {"project": project, "allowed": allowed})
    )
    return answer


USERS_LIST = Route("users.list", "GET", "/api/v1/users")


def users_list(client: Sender) -> builtins.list[User]:
    """The project's devpi users and the indexes each owns."""
    answer: builtins.list[User] = value_of(builtins.list[User], client.send(USERS_LIST, {}))
    return answer


USERS_ADD = Route("users.add", "POST", "/api/v1/users")


def users_add(
    client: Sender, name: str, password: str, email: str | None = None
) -> builtins.list[User]:
    """Add user ``name``; answers the users afterwards."""
    answer: builtins.list[User] = value_of(
        builtins.list[User],
        client.send(USERS_ADD, {"name": name, "password": password, "email": email}),
    )
    return answer


USERS_DELETE = Route("users.delete", "POST", "/api/v1/users/{name}/delete")


def users_delete(client: Sender, name: str) -> builtins.list[User]:
    """Remove user ``name`` and the indexes they own (root and the owner stay)."""
    answer: builtins.list[User] = value_of(
        builtins.list[User], client.send(USERS_DELETE, {"name": name})
    )
    return answer


FLOW_STATUS = Route("flow.status", "GET", "/api/v1/flow")


def flow_status(client: Sender) -> builtins.list[FlowStage]:
    """Every stage, in order, and whether its flow is paused."""
    answer: builtins.list[FlowStage] = value_of(
        builtins.list[FlowStage], client.send(FLOW_STATUS, {})
    )
    return answer


FLOW_CHANGE = Route("flow.change", "POST", "/api/v1/flow")


def flow_change(client: Sender, stage: str, paused: bool = True) -> FlowStage:
    """Pause the flow on ``stage``, or resume it and queue what it skipped meanwhile."""
    answer: FlowStage = value_of(
        FlowStage, client.send(FLOW_CHANGE, {"stage": stage, "paused": paused})
    )
    return answer
