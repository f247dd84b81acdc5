"""pipl-pipe's reading side: manifests, typed product queries, tasks, envsets."""

import os
import sys

import pytest
from pipl_pipe.assets.types import AssetType, asset_type
from pipl_pipe.entrypoints import EntryPointIndex
from pipl_pipe.envsets import resolve
from pipl_pipe.errors import AssetError, ManifestError, PipeError, TaskTypeError
from pipl_pipe.products import Product, get_product, manifest_document, products_required_by
from pipl_pipe.pyproject import PyProject
from pipl_pipe.tasks import create_task, current_task

from tests.fakedists import forget_modules, make_dist

SHA = "a" * 64


def product_module(name, type_, assets=("scene",)):
    manifest = {
        "format": "pipl-product/1",
        "name": name,
        "version": "1.0.0",
        "type": type_,
        "sources": [],
        "assets": [{"name": a, "type": "file", "sha256": SHA, "size": 1} for a in assets],
    }
    return (
        "from pipl_pipe.products import Product\n"
        f"PRODUCT = Product.from_manifest({manifest!r}, {name!r})\n"
    )


@pytest.fixture
def site(fake_site):
    return fake_site


def test_manifest_errors_name_the_product(tmp_path):
    with pytest.raises(ManifestError, match="manifest of chair does not parse: KeyError"):
        Product.from_manifest({"format": "pipl-product/1", "name": "x"}, "chair")
    with pytest.raises(ManifestError, match="format is not"):
        Product.from_manifest({"format": "other"}, "chair")
    with pytest.raises(ManifestError, match="package json has no pipl_manifest.json"):
        Product.from_package("json")
    with pytest.raises(ManifestError, match="asset name 'Bad Name'"):
        manifest_document(
            "p",
            "1",
            "model",
            [
                Product.from_manifest(
                    {
                        "format": "pipl-product/1",
                        "name": "p",
                        "version": "1",
                        "type": "t",
                        "assets": [{"name": "Bad Name", "type": "file", "sha256": SHA, "size": 1}],
                    },
                    "p",
                ).assets["Bad Name"]
            ],
            [],
        )


def _manifest(**changes):
    asset = {"name": "scene", "type": "file", "sha256": SHA, "size": 1, "kind": "file"}
    asset.update(changes.pop("asset", {}))
    data = {"format": "pipl-product/1", "name": "chair", "version": "1.0.0", "type": "model"}
    data.update(changes, assets=[asset])
    return data


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        (
            {"asset": {"suffix": "/../../../../home/x/.bashrc"}},
            "suffix '/../../../../home/x/.bashrc'",
        ),
        ({"asset": {"suffix": ".ma\n"}}, "suffix"),
        ({"asset": {"name": "../scene"}}, "asset name '../scene'"),
        ({"asset": {"type": "../../t"}}, "type '../../t'"),
        ({"asset": {"kind": "folder"}}, "kind 'folder'"),
        ({"asset": {"sha256": "../" * 10}}, "is not a sha256"),
        ({"asset": {"size": -1}}, "size -1"),
        ({"asset": {"size": "12"}}, "size '12'"),
        ({"name": "../../evil"}, "name '../../evil'"),
        ({"version": "1.0/../../x"}, "version"),
        ({"sources": "chair-model==1"}, "sources"),
    ],
)
def test_manifest_fields_are_checked_when_read(changes, needle):
    with pytest.raises(ManifestError, match="manifest of chair does not parse") as caught:
        Product.from_manifest(_manifest(**changes), "chair")
    assert needle in str(caught.value)
    good = Product.from_manifest(_manifest(asset={"suffix": ".v2 final.ma"}), "chair")
    assert good.assets.scene.filename == "chair.scene.v2 final.ma"


def test_an_asset_type_cannot_name_a_path(tmp_path):
    @asset_type
    class Sneaky(AssetType):
        name = "test-sneaky"
        extension = "ma/../../../x"

    product = Product.from_manifest(_manifest(asset={"type": "test-sneaky"}), "chair")
    with pytest.raises(AssetError, match="not a plain file name"):
        product.assets.scene.local_path(tmp_path)


def test_typed_dependency_queries(site):
    make_dist(
        site,
        "m-model",
        modules={"m_model": product_module("m-model", "model")},
        entry_points={"pipl_pipe.product": {"m-model": "m_model:PRODUCT"}},
    )
    make_dist(
        site,
        "m-rig",
        modules={"m_rig": product_module("m-rig", "rig")},
        entry_points={"pipl_pipe.product": {"m-rig": "m_rig:PRODUCT"}},
        requires=["m-model==1.0.0"],
    )
    make_dist(site, "m-task", requires=["m-rig==1.0.0", "m-model", "m-other; extra == 'edit'"])
    index = EntryPointIndex([str(site)])
    assert [p.name for p in products_required_by("m-task", index=index)] == ["m-rig", "m-model"]
    assert [p.name for p in products_required_by("m-task", type="rig", index=index)] == ["m-rig"]
    rig = get_product("M_Rig", index)
    assert rig.assets.scene.sha256 == SHA
    assert [p.name for p in rig.dependencies(type="model", index=index)] == ["m-model"]
    with pytest.raises(ManifestError, match="no product 'ghost'"):
        get_product("ghost", index)
    with pytest.raises(PipeError, match="has no asset 'render'"):
        rig.assets.render  # noqa: B018 - the lookup is the test


def test_broken_product_module_names_itself(site):
    make_dist(
        site,
        "m-other",
        modules={"m_other": "raise ValueError('bad manifest')\n"},
        entry_points={"pipl_pipe.product": {"m-other": "m_other:PRODUCT"}},
    )
    from pipl_pipe.errors import PluginError

    with pytest.raises(PluginError, match="'m-other' of group pipl_pipe.product in m-other"):
        get_product("m-other", EntryPointIndex([str(site)]))


def test_envsets_apply_in_dependency_order(site):
    def envset(module, data):
        return {module: f"ENVSET = {data!r}\n"}

    make_dist(
        site,
        "env-a",
        modules=envset(
            "env_a", {"set": {"TOOL": "a", "ONLY_A": "1"}, "prepend": {"PATH": ["{root}/bin"]}}
        ),
        entry_points={"pipl_pipe.envset": {"a": "env_a:ENVSET"}},
    )
    make_dist(
        site,
        "env-b",
        requires=["env-a>=1"],
        modules=envset("env_b", {"set": {"TOOL": "b"}, "append": {"PATH": ["/opt/b"]}}),
        entry_points={"pipl_pipe.envset": {"b": "env_b:ENVSET"}},
    )
    make_dist(
        site,
        "env-c",
        modules=envset("env_c", {"set": {"TOOL": "c"}}),
        entry_points={"pipl_pipe.envset": {"c": "env_c:ENVSET"}},
    )
    result = resolve(EntryPointIndex([str(site)]), base={"PATH": "/usr/bin"})
    assert result.order.index("env-a") < result.order.index("env-b")
    assert result.env["ONLY_A"] == "1"
    # {root} is the folder of the envset's module (here site/env_a.py)
    assert result.env["PATH"].split(os.pathsep) == [str(site / "bin"), "/usr/bin", "/opt/b"]
    notes = {(c["packl"], c["var"]): c["note"] for c in result.changes}
    assert notes[("env-b", "TOOL")] == "overrides env-a"  # b depends on a: allowed
    [conflict] = result.conflicts  # c and b are unrelated and disagree
    assert "TOOL" in conflict and "env-b" in conflict and "env-c" in conflict
    assert result.env["TOOL"] == "c"


def test_create_task_edits_and_records(site, tmp_path):
    make_dist(
        site,
        "types-x",
        modules={
            "types_x": (
                "from pipl_pipe.tasks import TaskType\n"
                "class Comp(TaskType):\n    name = 'comp'\n"
                "    commands = {'open-comp': 'types_x:go'}\n"
                "    process = 'types_x:render'\n"
            )
        },
        entry_points={"pipl_pipe.task_type": {"comp": "types_x:Comp"}},
    )
    index = EntryPointIndex([str(site), *sys.path])
    packl = tmp_path / "shot-020"
    (packl / "shot_020").mkdir(parents=True)
    (packl / "pyproject.toml").write_text(
        '[project]\nname = "shot-020"\nversion = "0.1.0"\ndependencies = []\n\n'
        '[tool.flit.module]\nname = "shot_020"\n\n[tool.pipl]\nkind = "lib"\n'
    )
    with pytest.raises(TaskTypeError, match="unknown task type 'paint': known types are comp"):
        create_task(packl, "paint", index)
    changes = create_task(packl, "comp", index)
    assert "command open-comp" in changes and "dependency types-x" in changes
    pp = PyProject(packl / "pyproject.toml")
    assert pp.kind == "task" and pp.pipl["task-type"] == "comp"
    assert pp.entry_points["pipl.commands"] == {"open-comp": "types_x:go"}
    assert pp.entry_points["console_scripts"] == {"open-comp": "types_x:go"}
    assert pp.entry_points["pipl.process"] == {"shot-020": "types_x:render"}
    assert pp.entry_points["pipl_pipe.task"] == {"shot-020": "shot_020.task:TASK"}
    assert "types-x" in pp.dependencies
    assert pp.history[-1]["action"] == "create_task"
    assert (
        "Task.declare(name='shot-020', type='comp')" in (packl / "shot_020" / "task.py").read_text()
    )
    with pytest.raises(TaskTypeError, match="already a task of type 'comp'"):
        create_task(packl, "comp", index)


def test_current_task_needs_exactly_one(site, monkeypatch):
    for name in ("task-x", "task-y"):
        module = name.replace("-", "_")
        make_dist(
            site,
            name,
            modules={
                module: (
                    f"from pipl_pipe.tasks import Task\nTASK = Task.declare({name!r}, 'comp')\n"
                )
            },
            entry_points={"pipl_pipe.task": {name: f"{module}:TASK"}},
        )
    index = EntryPointIndex([str(site)])
    with pytest.raises(TaskTypeError, match="expected one task .* found task-x, task-y"):
        current_task(index)
    monkeypatch.setenv("PIPL_TASK", "task-y")
    assert current_task(index).name == "task-y"
    forget_modules("task_y")


def test_pyproject_errors_are_framework_errors(tmp_path):
    from pipl_pipe.errors import PyProjectError

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = 1\n")
    with pytest.raises(PyProjectError, match="version must be a static string"):
        PyProject(tmp_path / "pyproject.toml")
