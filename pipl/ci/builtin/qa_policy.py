"""The owner's part of QA: checks that run for every release whatever it ships.

::

    [qa]
    checks = ["studio-policy"]   # packls on the base index with pipl.qa_checks entry points
    contracts = true             # pipl's kind contract for every packl (default true)

Only the owner and root can upload to the base index, so its policy packls are the
owner's. The ``qa`` handler installs the release's file and the newest version of each
policy packl on the base index itself (its file, never one of another index) into a fresh
environment in the job's sandbox (``pipl.ci.inside qa-checks``), and runs
``pipl_pipe.qa_check`` there for each: every ``pipl.qa_checks`` entry point of the policy
is called with the release's name and version. A packl's kind contract runs the same way.
Each result is attached as a toxresult (tag ``qa-policy:NAME:INDEX``, environment
``policy:NAME``; ``qa-contract:INDEX``, environment ``contract``), beside the release's
own.
"""

from __future__ import annotations

import platform
import sys
from typing import Any

from packaging.version import InvalidVersion, Version

from pipl.ci.builtin.files import download, existing_toxresult
from pipl.ci.handlers import HandlerFailed, JobContext
from pipl.index.links import Link
from pipl.project.config import PiplToml, QaSettings
from pipl.project.project import Project


def load_qa_settings(project: Project) -> QaSettings:
    """The ``[qa]`` table of the project's ``pipl.toml`` (defaults when absent)."""
    return PiplToml.of(project.root).qa()


def policy_file(ctx: JobContext, name: str) -> tuple[str, Link]:
    """The newest version of policy packl ``name`` stored on the base index itself, and
    its file (a wheel when it has one)."""
    base = ctx.project.base_index
    best: tuple[Version, str, Link] | None = None
    for text, data in ctx.client.versions(base, name, inherited=False).items():
        try:
            version = Version(str(text))
        except InvalidVersion:
            continue
        from pipl.index.links import links_of

        files = [lk for lk in links_of(data or {}) if lk.rel == "releasefile" and lk.index == base]
        files.sort(key=lambda lk: not lk.basename.endswith(".whl"))
        if files and (best is None or version > best[0]):
            best = (version, str(text), files[0])
    if best is None:
        raise HandlerFailed(
            f"QA policy {name} ([qa] checks in pipl.toml) is no packl on {base}: the owner "
            "uploads it there"
        )
    return best[1], best[2]


def run_owner_checks(
    ctx: JobContext, target: Link, installpkg: Any, settings: QaSettings, kind: str | None
) -> list[tuple[str, bool, str]]:
    """Run the policy checks (and the kind contract when ``kind``) on the release file
    ``installpkg`` (the local copy of ``target``), attach each result to ``target``;
    return ``(label, passed, what failed)`` per policy and contract, in order."""
    from pipl.ci.builtin.process import offline_steps, run_inside

    policies: list[tuple[str, str, Link]] = []  # name, version, file
    with ctx.phase("find the QA policies"):
        for name in settings.checks:
            version, link = policy_file(ctx, name)
            policies.append((name, version, link))
    wanted: list[tuple[str, str, str]] = [  # label, tag, the policy's pin
        (f"policy:{n}", f"qa-policy:{n}:{ctx.index}", f"{n}=={v}") for n, v, _ in policies
    ]
    if kind:
        wanted.append(("contract", f"qa-contract:{ctx.index}", f"kind={kind}"))
    if not wanted:
        return []
    outcomes: dict[str, tuple[bool, str]] = {}
    missing = []
    with ctx.phase("look for earlier owner checks"):
        for label, tag, pin in wanted:
            earlier = existing_toxresult(ctx, target, tag)
            if earlier is not None and (earlier.get("pipl") or {}).get("checked") == pin:
                outcomes[label] = _outcome(earlier)
                ctx.log(f"{label}: result of an earlier run on {target.basename}")
            else:
                missing.append(label)
    if missing:
        options = ["--file", str(installpkg)]
        with ctx.phase("download the QA policies"):
            for name, _, link in policies:
                if f"policy:{name}" in missing:
                    options += ["--policy", f"{name}={download(ctx, link)}"]
        if kind and "contract" in missing:
            options += ["--contract", kind]
        split = offline_steps(ctx)
        with ctx.phase("owner checks"):
            if split:
                run_inside(ctx, "qa-checks", *options, "--install", "only")
            install = ("--install", "no") if split else ()
            answer = run_inside(ctx, "qa-checks", *options, *install, offline=split)
        checks = answer.get("checks")
        if not isinstance(checks, list):
            raise HandlerFailed("the owner checks answered no list of checks")
        by_label = {str(c.get("name")): c for c in checks if isinstance(c, dict)}
        with ctx.phase("attach the owner checks"):
            for label, tag, pin in wanted:
                if label not in missing:
                    continue
                check = by_label.get(label)
                if check is None:
                    raise HandlerFailed(f"the owner checks answered nothing for {label}")
                data = _toxresult(ctx, target, label, check, tag=tag, checked=pin)
                ctx.client.upload_toxresult(target, data)
                ctx.log(f"{label}: toxresult attached to {target.basename}")
                outcomes[label] = _outcome(data)
    return [(label, *outcomes[label]) for label, _, _ in wanted]


def _toxresult(
    ctx: JobContext, target: Link, label: str, check: dict[str, Any], *, tag: str, checked: str
) -> dict[str, Any]:
    """One check's answer in tox's ``--result-json`` shape: an environment ``label``
    with a command per entry point (``retcode`` 0 when it passed)."""
    output = str(check.get("output", ""))
    argv = [str(a) for a in check.get("command") or []]
    commands: list[dict[str, Any]] = []
    results = check.get("results")
    if "error" in check or not isinstance(results, list):
        error = " ".join(str(check.get("error", "no results")).split())
        commands.append({"command": argv, "retcode": "1", "output": f"{error}\n{output}"})
    else:
        for item in results:
            if not isinstance(item, dict):
                continue
            passed = item.get("passed") is True
            message = " ".join(str(item.get("message", "")).split())
            commands.append(
                {
                    "command": [f"{item.get('check')} ({item.get('value')})"],
                    "retcode": "0" if passed else "1",
                    "output": message,
                }
            )
        if not commands:
            commands.append({"command": argv, "retcode": "1", "output": "no check ran"})
    return {
        "reportversion": "1",
        "toxversion": "pipl-ci",
        "platform": sys.platform,
        "host": platform.node(),
        "installpkg": {"basename": target.basename, "sha256": target.sha256 or ""},
        "testenvs": {label: {"test": commands, "python": {"version": sys.version}}},
        "pipl": {"tag": tag, "job": ctx.job_id, "checked": checked},
    }


def _outcome(data: dict[str, Any]) -> tuple[bool, str]:
    failed = []
    for env in (data.get("testenvs") or {}).values():
        for step in (env or {}).get("test") or []:
            if str(step.get("retcode", "0")) != "0":
                what = " ".join(map(str, step.get("command") or []))
                message = str(step.get("output", "")).strip().splitlines()
                failed.append(f"{what}: {message[0]}" if message else what)
    return not failed, "; ".join(failed)
