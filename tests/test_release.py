"""A released version never changes: on every stage, through publish and upload; later
stages are non-volatile (existing projects are brought in line); replacing is explicit,
first-stage only and recorded."""

import hashlib
import json

import httpx
import pytest

from pipl.errors import Conflict
from pipl.index.session import connect
from pipl.index.stages import create_default
from pipl.packl.create import create_packl
from pipl.project import server
from pipl.workspace.workspace import create_workspace, remove_workspace
from tests.conftest import new_project
from tests.helpers import fails, make_wheel, run


@pytest.fixture(scope="module")
def ws(project):
    space = create_workspace(project, "releases")
    yield space
    remove_workspace(space)


@pytest.fixture
def cli(project, ws):
    def invoke(*args):
        return run([*args, "-w", ws.name], project=project.root)

    return invoke


def _edit(packl, text):
    module = packl.path / packl.name.replace("-", "_") / "__init__.py"
    module.write_text(module.read_text() + f"\n{text}\n")


def _files(client, index, name, version):
    return {lk.basename: lk.sha256 for lk in client.links(index, name, version)}


def test_publish_after_an_edit_to_prod_is_refused(project, ws, cli, owner):
    """The reproduction: an edited packl published again under its version to prod."""
    prod = project.stage_index("prod")
    packl = create_packl(project, ws, "prodlib", "lib")
    assert cli("packl", "publish", "prodlib", "--stage", "prod").exit_code == 0
    before = _files(owner, prod, "prodlib", "0.1.0")
    assert len(before) == 2  # sdist and wheel
    _edit(packl, "EDITED = True")
    fails(
        cli("packl", "publish", "prodlib", "--stage", "prod"),
        5,
        "prodlib-0.1.0",
        f"already on {prod}",
        "bump the version",
    )
    assert _files(owner, prod, "prodlib", "0.1.0") == before  # same bytes as before
    fails(
        cli("packl", "publish", "prodlib", "--stage", "prod", "--replace"),
        2,
        "first stage",
        prod,
    )
    assert _files(owner, prod, "prodlib", "0.1.0") == before


def test_first_stage_refuses_too_and_replace_is_explicit_and_recorded(project, ws, cli, owner):
    dev = project.stage_index()
    packl = create_packl(project, ws, "devlib", "lib")
    assert cli("packl", "publish", "devlib").exit_code == 0
    first = _files(owner, dev, "devlib", "0.1.0")
    again = cli("packl", "publish", "devlib")  # identical: a no-op
    assert again.output.count("identical, skipped") == 2
    _edit(packl, "EDITED = 1")
    fails(cli("packl", "publish", "devlib"), 5, "devlib-0.1.0", dev, "bump the version")
    assert _files(owner, dev, "devlib", "0.1.0") == first

    replaced = cli("packl", "publish", "devlib", "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert replaced.output.count("replaced") == 2
    now = _files(owner, dev, "devlib", "0.1.0")
    assert set(now) == set(first) and all(now[f] != first[f] for f in now)
    history = json.loads(cli("packl", "show", "devlib", "--json").output)["data"]["history"]
    assert history[-1]["action"] == "replace"
    assert "0.1.0 on" in history[-1]["detail"] and dev in history[-1]["detail"]
    # the replaced sdist carries its own record: publishing again is a no-op
    assert cli("packl", "publish", "devlib").output.count("identical, skipped") == 2

    # once promoted, the first stage cannot replace it either
    pushed = run(["proj", "index", "push", "devlib", "0.1.0", "--to", "qa"], project=project.root)
    assert pushed.exit_code == 0, pushed.output
    _edit(packl, "EDITED = 2")
    fails(
        cli("packl", "publish", "devlib", "--replace"),
        5,
        "cannot replace devlib-0.1.0",
        f"{project.stage_index('qa')} holds it too",
    )
    assert _files(owner, dev, "devlib", "0.1.0") == now


def test_cli_upload_refuses_changed_files_and_sends_nothing(project, tmp_path):
    def cli(*args):
        return run(["proj", "index", *args], project=project.root)

    dev = project.stage_index()
    wheel = make_wheel(tmp_path / "a", "up-once", "1.0")
    assert "uploaded" in cli("upload", str(wheel)).output
    changed = make_wheel(tmp_path / "b", "up-once", "1.0", body="X = 2\n")
    other = make_wheel(tmp_path / "b", "up-other", "1.0")
    # the second file is refused, so the first one is not sent either
    fails(cli("upload", str(other), str(changed)), 5, "up_once-1.0", dev, "bump the version")
    with connect(project, "anonymous") as client:
        assert client.versions(dev, "up-other") == {}
    fails(cli("upload", str(changed), "--to", "qa", "--replace"), 2, "first stage")
    result = cli("upload", str(changed), "--replace")
    assert result.exit_code == 0 and "replaced" in result.output
    with connect(project, "anonymous") as client:
        [link] = client.links(dev, "up-once", "1.0")
    assert link.sha256 == hashlib.sha256(changed.read_bytes()).hexdigest()


def test_create_default_brings_volatile_stages_in_line(tmp_path, project):
    """A project whose stages were all created volatile (as pipl did before)."""
    old = new_project(tmp_path / "old")
    with server.running(old), connect(old, "admin") as admin:
        create_default(old, admin)
        for stage in old.stage_indexes:
            admin.modify_index(stage, volatile=True)
        prod = old.stage_index("prod")
        with connect(old, "owner") as owner:
            wheel = make_wheel(tmp_path / "a", "legacy", "1.0")
            owner.upload(prod, wheel)
            changes = {c.name: c.action for c in create_default(old, admin).changes}
            assert changes[prod] == "updated" and changes[old.stage_index("qa")] == "updated"
            assert changes[old.stage_index()] == "unchanged"
            volatile = {i: admin.get_index(i)["volatile"] for i in old.stage_indexes}
            assert volatile == {old.stage_index(): True, old.stage_index("qa"): False, prod: False}
            changed = make_wheel(tmp_path / "b", "legacy", "1.0", body="X = 2\n")
            with pytest.raises(Conflict, match="bump the version"):
                owner.upload(prod, changed, replace=True)
            # devpi itself now refuses the overwrite, even for a client that skips the check
            token = owner.token
            assert token is not None
            raw = httpx.post(
                f"{old.url}/{prod}/",
                data={":action": "file_upload", "name": "legacy", "version": "1.0"},
                files={"content": (changed.name, changed.read_bytes())},
                headers={"X-Devpi-Auth": _auth(token.user, token.token), "Accept": "*/*"},
            )
            assert raw.status_code == 409


def _auth(user, token):
    import base64

    return base64.b64encode(f"{user}:{token}".encode()).decode()


def test_products_record_the_sha256_of_the_files_they_were_made_from(project, owner, tmp_path):
    from pipl_pipe.assets.hashcache import HashCache
    from pipl_pipe.assets.store import LocalStore
    from pipl_pipe.products import Product

    from pipl.assets.gc import manifest_from_wheel
    from pipl.errors import PacklError
    from pipl.product.build import ProductSpec, build_product

    wheel = make_wheel(tmp_path / "w", "prov-lib", "1.0")
    owner.upload(project.stage_index("prod"), wheel)  # inherited by dev
    store = LocalStore(tmp_path / "store", hashes=HashCache(tmp_path / "h.sqlite"))
    outputs = tmp_path / "out"
    outputs.mkdir()
    (outputs / "geo.abc").write_bytes(b"geometry")

    def build(*sources):
        return build_product(
            outputs,
            ProductSpec("prov-product", "model", "1.0.0", list(sources)),
            store=store,
            workdir=tmp_path / "work",
            index_url=project.simple_url(),
            client=owner,
            index=project.stage_index(),
        )

    with pytest.raises(PacklError, match=r"made from ghost-src==2\.0, which is not on"):
        build("prov-lib==1.0", "ghost-src==2.0")
    assert not list(store.objects())  # refused before anything was stored
    built = build("prov-lib==1.0")
    manifest = manifest_from_wheel(next(p for p in built.files if p.suffix == ".whl"))
    assert manifest is not None and manifest["format"] == "pipl-product/2"
    expected = {"prov-lib==1.0": {wheel.name: hashlib.sha256(wheel.read_bytes()).hexdigest()}}
    assert manifest["source_files"] == expected
    assert Product.from_manifest(manifest, "prov-product").source_files == expected


def test_product_manifests_of_format_1_still_read():
    from pipl_pipe.errors import ManifestError
    from pipl_pipe.products import Product

    old = {
        "format": "pipl-product/1",
        "name": "old-product",
        "version": "1.0.0",
        "type": "model",
        "sources": ["old-lib==1.0"],
        "assets": [{"name": "scene", "type": "file", "sha256": "a" * 64, "size": 1}],
    }
    product = Product.from_manifest(old, "old-product")
    assert product.sources == ["old-lib==1.0"] and product.source_files == {}
    with pytest.raises(ManifestError, match="format is not one of"):
        Product.from_manifest({**old, "format": "pipl-product/9"}, "future")
    with pytest.raises(ManifestError, match="source_files must map"):
        Product.from_manifest({**old, "format": "pipl-product/2", "source_files": []}, "bad")


def test_a_product_description_with_backslashes_and_quotes(project, owner, tmp_path):
    import zipfile

    from pipl_pipe.assets.hashcache import HashCache
    from pipl_pipe.assets.store import LocalStore

    from pipl.index.distfile import read_distfile
    from pipl.product.build import ProductSpec, build_product

    outputs = tmp_path / "out"
    outputs.mkdir()
    (outputs / "frame.exr").write_bytes(b"pixels")
    text = 'Frames of C:\\renders\\shot_010\\N "final"\n  take \\u2'
    built = build_product(
        outputs,
        ProductSpec("slashed-render", "render", "1.0.0", description=text),
        store=LocalStore(tmp_path / "store", hashes=HashCache(tmp_path / "h.sqlite")),
        workdir=tmp_path / "work",
        index_url=project.simple_url(),
    )
    wheel = next(p for p in built.files if p.suffix == ".whl")
    one_line = 'Frames of C:\\renders\\shot_010\\N "final" take \\u2'
    assert read_distfile(wheel).metadata["Summary"] == [one_line]
    with zipfile.ZipFile(wheel) as zf:
        manifest = json.loads(zf.read("slashed_render/pipl_manifest.json"))
        module = zf.read("slashed_render/__init__.py").decode()
    assert manifest["description"] == one_line
    compile(module, "slashed_render/__init__.py", "exec")  # a valid module
    assert owner.upload(project.stage_index(), wheel).uploaded
