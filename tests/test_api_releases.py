"""Stages, releases, products and promotion through pipl's client API, local and remote,
against the session's real server: listings, one release's files, QA results and
provenance both ways, checked uploads, promotion by the owner only, transactions that
move all or nothing, and asset downloads checked against their hash."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from pipl import Client
from pipl.api.client import operations
from pipl.errors import (
    AuthError,
    Conflict,
    FrameworkError,
    IndexServerError,
    PromotionRefused,
    UsageError,
)
from pipl.index.client import IndexClient
from pipl.index.session import connect
from pipl.index.wheelpack import write_wheel
from pipl.project.project import Project
from tests.helpers import make_wheel

VISITOR = ("rel-visitor", "visitor-pw-2")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def visitor(project: Project) -> tuple[str, str]:
    with connect(project, "admin") as admin:
        if VISITOR[0] not in admin.users():
            admin.create_user(*VISITOR)
    return VISITOR


@pytest.fixture(scope="module")
def owner_client(project: Project, web: str):
    with Client(web) as client:
        client.login(project.owner, project.secrets.password(project.owner) or "")
        yield client


@pytest.fixture(scope="module")
def published(project: Project, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """rel-lib 1.0 and 1.1, a toxresult on 1.0's wheel, and product rel-prod 1.0 made from
    rel-lib 1.0 with one asset in the project's store."""
    from pipl.assets.project_store import project_store

    tmp = tmp_path_factory.mktemp("releases")
    dev = project.stage_index()
    lib10 = make_wheel(tmp / "lib10", "rel-lib", "1.0")
    lib11 = make_wheel(tmp / "lib11", "rel-lib", "1.1", requires=["rel-base>=1"])
    base = make_wheel(tmp / "base", "rel-base", "1.0")
    scene = tmp / "scene.ma"
    scene.write_bytes(b"a chair, modelled\n" * 100)
    with project_store(project) as store:
        stored = store.put(scene)
    doc = {
        "format": "pipl-product/2",
        "name": "rel-prod",
        "version": "1.0",
        "type": "model",
        "description": "a chair",
        "sources": ["rel-lib==1.0"],
        "source_files": {"rel-lib==1.0": {lib10.name: sha(lib10.read_bytes())}},
        "assets": [
            {
                "name": "scene",
                "type": "file",
                "sha256": stored.sha256,
                "size": stored.size,
                "kind": "file",
                "suffix": ".ma",
            }
        ],
    }
    metadata = (
        b"Metadata-Version: 2.1\nName: rel-prod\nVersion: 1.0\nKeywords: pipl-product,model\n"
        b"Requires-Dist: rel-lib==1.0\n"
    )
    product = write_wheel(
        tmp / "prod",
        "rel-prod",
        "1.0",
        {"rel_prod/__init__.py": b"", "rel_prod/pipl_manifest.json": json.dumps(doc).encode()},
        {"METADATA": metadata},
    )
    with connect(project, "owner") as owner:
        for wheel in (base, lib10, lib11, product):
            owner.upload(dev, wheel)
        [link] = owner.links(dev, "rel-lib", "1.0")
        owner.upload_toxresult(
            link,
            {
                "reportversion": "1",
                "host": "ci-host",
                "platform": "linux",
                "testenvs": {
                    "py311": {"test": [{"command": ["pytest"], "retcode": "0"}]},
                    # tox's own packaging environment: not one of the release's tests
                    ".pkg_external": {"test": [{"command": ["build"], "retcode": "0"}]},
                },
            },
        )
    return {"lib10": lib10, "scene": scene, "asset": stored.sha256}


def test_stages_and_releases_newest_first(project: Project, web: str, published) -> None:
    with Client.from_project(project.root) as local, Client(web) as remote:
        for client in (local, remote):
            stages = client.releases.stages()
            assert [s.name for s in stages] == ["dev", "qa", "prod"]
            assert stages[0].promote_to == "qa" and stages[0].volatile
            assert stages[-1].promote_to == "" and not stages[-1].volatile
            page = client.releases.list("dev", limit=500)
            mine = [(r.project, r.version) for r in page.releases if r.project.startswith("rel-")]
            assert mine.index(("rel-lib", "1.1")) < mine.index(("rel-lib", "1.0"))
            assert page.fresh and page.total >= 4
            packls = {p.name: p for p in client.releases.packls()}
            assert packls["rel-lib"].versions["dev"] == "1.1"
            assert packls["rel-prod"].product and not packls["rel-lib"].product


def test_a_stage_pages(project: Project, published) -> None:
    with Client.from_project(project.root) as client:
        first = client.releases.list("dev", limit=2)
        second = client.releases.list("dev", offset=2, limit=2)
    assert len(first.releases) == 2 and first.total >= 4
    assert not {(r.project, r.version) for r in first.releases} & {
        (r.project, r.version) for r in second.releases
    }


def test_a_release_with_files_qa_results_and_requirements(
    project: Project, web: str, published
) -> None:
    lib10 = published["lib10"]
    with Client(web) as client:
        release = client.releases.get("dev", "rel-lib", "1.0")
        newer = client.releases.get("dev", "rel-lib", "1.1")
    [wheel] = release.files
    assert wheel.name == lib10.name and wheel.size == lib10.stat().st_size
    assert wheel.sha256 == sha(lib10.read_bytes())
    [result] = release.qa_results
    assert result.env == "py311" and result.passed and result.host == "ci-host"
    assert [(r.name, r.found) for r in newer.requires] == [("rel-base", "1.0")]
    assert release.stages == ["dev"] and release.promote_to == "qa"


def test_qa_state_comes_from_the_release_jobs(project: Project, published) -> None:
    from pipl.ci import db, outbox

    conn = db.open_db(project.root)
    try:
        outbox.record_event(
            conn,
            index=project.stage_index(),
            project="rel-base",
            version="1.0",
            filename="rel_base-1.0-py3-none-any.whl",
            sha256="0" * 64,
            serial=1,
            source="test",
        )
        [event] = [e for e in outbox.pending_events(conn) if e.sha256 == "0" * 64]
        db.add_job(conn, handler="qa", rank=20, event=event, key="")
        conn.execute("UPDATE jobs SET state = 'failed' WHERE project = 'rel-base'")
    finally:
        conn.close()
    with Client.from_project(project.root) as client:
        release = client.releases.get("dev", "rel-base", "1.0")
        listed = {
            (r.project, r.version): r.qa for r in client.releases.list("dev", limit=500).releases
        }
    assert release.qa == "failed" and [j.handler for j in release.jobs] == ["qa"]
    assert listed[("rel-base", "1.0")] == "failed" and listed[("rel-lib", "1.0")] == "none"


def test_product_provenance_both_ways(project: Project, web: str, published) -> None:
    with Client(web) as client:
        product = client.releases.get("dev", "rel-prod", "1.0")
        source = client.releases.get("dev", "rel-lib", "1.0")
        products = {(p.name, p.version): p for p in client.releases.products()}
    [up] = product.upstream
    assert (up.name, up.version, up.stage, up.matches) == ("rel-lib", "1.0", "dev", True)
    assert up.files == {published["lib10"].name: sha(published["lib10"].read_bytes())}
    assert [(c.product, c.version) for c in source.consumers] == [("rel-prod", "1.0")]
    listed = products[("rel-prod", "1.0")]
    [asset] = listed.assets
    assert asset.sha256 == published["asset"] and asset.size == published["scene"].stat().st_size
    assert listed.sources == ["rel-lib==1.0"] and listed.type == "model"


def test_asset_download_is_checked_against_its_hash(
    project: Project, web: str, published, tmp_path
) -> None:
    from pipl.assets.project_store import project_store

    with Client(web) as remote, Client.from_project(project.root) as local:
        for client in (remote, local):
            dest = client.releases.fetch_asset("rel-prod", "1.0", "scene", tmp_path / "scene.ma")
            assert dest.read_bytes() == published["scene"].read_bytes()
            dest.unlink()
        assert remote.releases.verify_asset("rel-prod", "1.0", "scene").ok
        with pytest.raises(FrameworkError, match="no asset 'nope'"):
            remote.releases.fetch_asset("rel-prod", "1.0", "nope", tmp_path / "x")
    # a stored object whose bytes changed is never served
    with project_store(project) as store:
        path = store.object_path(published["asset"])
    original = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(b"tampered")
    try:
        with Client(web) as client:
            assert not client.releases.verify_asset("rel-prod", "1.0", "scene").ok
            with pytest.raises(FrameworkError, match="is corrupted"):
                client.releases.fetch_asset("rel-prod", "1.0", "scene", tmp_path / "bad.ma")
        assert not (tmp_path / "bad.ma").exists()
        for bad in ("../../etc/passwd", "scene%2F..", "Scene"):
            answer = httpx.get(f"{web}/products/rel-prod/1.0/assets/{bad}")
            assert answer.status_code in (400, 404), bad
    finally:
        path.write_bytes(original)


def test_upload_is_checked_like_the_cli(project: Project, owner_client, tmp_path) -> None:
    wheel = make_wheel(tmp_path / "a", "rel-up", "1.0")
    [first] = owner_client.releases.upload([wheel], stage="dev")
    [again] = owner_client.releases.upload([wheel])
    assert (first.action, again.action) == ("uploaded", "identical, skipped")
    other = make_wheel(tmp_path / "b", "rel-up", "1.0", body="CHANGED = 1\n")
    with pytest.raises(Conflict, match="a released file never changes"):
        owner_client.releases.upload([other])
    listed = owner_client.releases.list("dev", limit=500).releases
    assert ("rel-up", "1.0") in {(r.project, r.version) for r in listed}
    for name in ("../evil-1.0-py3-none-any.whl", "a/b.whl", ".hidden"):
        with pytest.raises(UsageError, match="invalid file name"):
            operations.releases_upload(owner_client, files=[{"filename": name, "content": ""}])


def test_upload_needs_a_login(web: str, tmp_path) -> None:
    wheel = make_wheel(tmp_path / "a", "rel-anon", "1.0")
    with Client(web) as anonymous, pytest.raises(AuthError) as caught:
        anonymous.releases.upload([wheel])
    assert caught.value.status == 401


def test_the_owner_promotes_stage_by_stage(project: Project, owner_client, published) -> None:
    answer = owner_client.promote("rel-base", "1.0")
    assert (answer.source, answer.target) == (project.stage_index(), project.stage_index("qa"))
    assert [m.files for m in answer.moves] == [["rel_base-1.0-py3-none-any.whl"]]
    qa = owner_client.releases.list("qa", limit=500)
    assert ("rel-base", "1.0") in {(r.project, r.version) for r in qa.releases}
    onward = owner_client.promote("rel-base", "1.0", dry_run=True)
    assert onward.target == project.stage_index("prod") and onward.dry_run
    with Client.from_project(project.root) as local:
        missing = local.promote("rel-lib", "1.1", to="qa", dry_run=True)
        assert missing.moves[0].files and missing.missing == []  # rel-base is on qa now
        with pytest.raises(PromotionRefused, match="last stage"):
            local.promote("rel-nothing-here", "1.0", source="prod")


def test_promotion_is_refused_to_others(project: Project, web: str, visitor, published) -> None:
    with Client(web) as anonymous, pytest.raises(AuthError) as caught:
        anonymous.promote("rel-lib", "1.0")
    assert caught.value.status == 401
    with Client(web) as other:
        other.login(*visitor)
        with pytest.raises(AuthError, match="is for the owner") as caught:
            other.promote("rel-lib", "1.0")
        assert caught.value.status == 403
    answer = httpx.post(f"{web}/api/v1/promote", json={"project": "rel-lib", "version": "1.0"})
    assert answer.status_code == 401
    with connect(project, "anonymous") as client:
        assert client.versions(project.stage_index("qa"), "rel-lib", inherited=False) == {}


def test_a_transaction_moves_all_or_nothing(project: Project, owner_client, tmp_path) -> None:
    dev, qa = project.stage_index(), project.stage_index("qa")
    with connect(project, "owner") as owner:
        owner.upload(dev, make_wheel(tmp_path / "a", "rel-tx-a", "1.0"))
        owner.upload(dev, make_wheel(tmp_path / "b", "rel-tx-b", "1.0", requires=["rel-gone>=1"]))
        owner.upload(dev, make_wheel(tmp_path / "c", "rel-tx-c", "1.0"))
    with (
        pytest.raises(PromotionRefused, match="nothing of the 2 releases moved"),
        owner_client.transaction() as tx,
    ):
        tx.promote("rel-tx-a", "1.0")
        tx.promote("rel-tx-b", "1.0")
    with connect(project, "anonymous") as reader:
        assert reader.versions(qa, "rel-tx-a", inherited=False) == {}
    with owner_client.transaction() as tx:
        tx.promote("rel-tx-a", "1.0")
        tx.promote("rel-tx-c", "1.0", to="qa")
    assert [(p.project, p.target) for p in tx.result] == [("rel-tx-a", qa), ("rel-tx-c", qa)]


class FailingSecond(IndexClient):
    """Fails the second push of a set, as a server error mid-way would."""

    pushes = 0

    def push(self, source, project, version, target, **kwargs):
        self.pushes += 1
        if self.pushes == 2:
            raise IndexServerError("the server went away", status=503)
        return super().push(source, project, version, target, **kwargs)


def test_a_failed_push_in_a_set_undoes_the_set(project: Project, tmp_path) -> None:
    from pipl.index.promote import Promotion, promote_set

    dev, qa = project.stage_index(), project.stage_index("qa")
    with connect(project, "owner") as owner:
        owner.upload(dev, make_wheel(tmp_path / "a", "rel-set-a", "1.0"))
        owner.upload(dev, make_wheel(tmp_path / "b", "rel-set-b", "1.0"))
        token = owner.token
    asked = [Promotion("rel-set-a", "1.0", dev, qa), Promotion("rel-set-b", "1.0", dev, qa)]
    with FailingSecond(project.url, token=token) as client, pytest.raises(IndexServerError) as err:
        promote_set(client, project.name, asked)
    assert "failed while pushing rel-set-b 1.0" in str(err.value)
    assert f"removed again from {qa}: rel-set-a 1.0" in str(err.value)
    with connect(project, "anonymous") as reader:
        assert reader.versions(qa, "rel-set-a", inherited=False) == {}


def test_the_catalog_follows_removed_and_replaced_releases(project: Project, tmp_path) -> None:
    from pipl.ci import db, intake
    from pipl.index import catalog

    dev = project.stage_index()
    first = make_wheel(tmp_path / "a", "rel-vol", "1.0")
    other = make_wheel(tmp_path / "b", "rel-vol", "1.0", body="OTHER = 1\n")

    def listed(client: Client) -> set[tuple[str, str]]:
        return {(r.project, r.version) for r in client.releases.list("dev", limit=500).releases}

    with connect(project, "owner") as owner, Client.from_project(project.root) as client:
        owner.upload(dev, first)
        assert ("rel-vol", "1.0") in listed(client)
        # the volatile first stage: a file replaced, then the release removed
        owner.upload(dev, other, replace=True)
        [file] = client.releases.get("dev", "rel-vol", "1.0").files
        assert file.sha256 == sha(other.read_bytes())
        owner.delete_version(dev, "rel-vol", "1.0")
        assert ("rel-vol", "1.0") not in listed(client)
        # the runner's sweep keeps the same catalog from the same reads
        owner.upload(dev, first)
        conn = db.open_db(project.root)
        try:
            serial = int(owner.status()["serial"])
            intake.sweep(conn, intake.IndexCache(owner), serial, project.stage_indexes)
            assert catalog.synced_serial(conn, project.stage_indexes) == serial
            assert catalog.get(conn, dev, "rel-vol", "1.0") is not None
            owner.delete_version(dev, "rel-vol", "1.0")
            intake.sweep(conn, intake.IndexCache(owner), serial + 1, project.stage_indexes)
            assert catalog.get(conn, dev, "rel-vol", "1.0") is None
        finally:
            conn.close()
