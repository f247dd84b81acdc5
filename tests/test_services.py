"""pipl-pipe services and configs: one precedence rule, conflicts and broken plugins named."""

import sys

import pytest
from pipl_pipe.assets.store import LocalStore
from pipl_pipe.entrypoints import EntryPointIndex
from pipl_pipe.errors import PluginError, ServiceError
from pipl_pipe.services import Services

from tests.fakedists import make_dist

FACTORY = """
CALLS = []
def make(config):
    CALLS.append(config)
    return {"made-by": __name__, "config": config}
def broken(config):
    raise RuntimeError("disk on fire")
CONFIG = {"root": "/studio/store", "level": 1}
NOT_A_DICT = [1, 2]
"""


@pytest.fixture
def site(fake_site):
    return fake_site


def services(site, project_root, toml=""):
    project_root.mkdir(exist_ok=True)
    (project_root / "pipl.toml").write_text('[project]\nname = "p"\n' + toml)
    return Services(EntryPointIndex([str(site), *sys.path]), project_root)


def test_builtin_asset_store_is_the_project_folder(tmp_path, site):
    svc = services(site, tmp_path / "proj")
    store = svc.asset_store
    assert isinstance(store, LocalStore)
    assert store.root == tmp_path / "proj" / "assets"
    assert svc.get("asset_store") is store  # made once
    assert svc.provider("asset_store").dist == "pipl-pipe"
    assert "asset_store" in svc.names() and "config" in svc.names()


def test_a_packl_overrides_the_builtin_with_merged_config(tmp_path, site):
    make_dist(
        site,
        "studio-a",
        modules={"studio_a": FACTORY},
        entry_points={
            "pipl_pipe.services": {"asset_store": "studio_a:make"},
            "pipl_pipe.config": {"asset_store": "studio_a:CONFIG"},
        },
    )
    svc = services(site, tmp_path / "proj", "[config.asset_store]\nlevel = 2\n")
    made = svc.asset_store
    assert made["made-by"] == "studio_a"
    # pipl-pipe defaults < packl config < pipl.toml
    assert made["config"]["durable"] is True
    assert made["config"]["root"] == "/studio/store"
    assert made["config"]["level"] == 2
    import studio_a

    assert len(studio_a.CALLS) == 1
    svc.get("asset_store")
    assert len(studio_a.CALLS) == 1


def test_two_packls_conflict_until_pipl_toml_picks(tmp_path, site):
    for name in ("studio-a", "studio-b"):
        module = name.replace("-", "_")
        make_dist(
            site,
            name,
            modules={module: FACTORY},
            entry_points={"pipl_pipe.services": {"asset_store": f"{module}:make"}},
        )
    with pytest.raises(ServiceError, match="provided by two packls, studio-a .* and studio-b"):
        services(site, tmp_path / "p1").asset_store  # noqa: B018 - the lookup is the test
    picked = services(site, tmp_path / "p2", '[services]\nasset_store = "studio-b"\n')
    assert picked.asset_store["made-by"] == "studio_b"
    wrong = services(site, tmp_path / "p3", '[services]\nasset_store = "nobody"\n')
    with pytest.raises(ServiceError, match="picks 'nobody'"):
        wrong.asset_store  # noqa: B018


def test_broken_plugins_name_themselves(tmp_path, site):
    make_dist(
        site,
        "studio-a",
        version="2.0",
        modules={"studio_a": FACTORY},
        entry_points={
            "pipl_pipe.services": {
                "exploding": "studio_a:broken",
                "missing": "studio_a.nope:make",
                "typo": "studio_a:mkae",
            },
            "pipl_pipe.config": {"asset_store": "studio_a:NOT_A_DICT"},
        },
    )
    svc = services(site, tmp_path / "proj")
    with pytest.raises(
        ServiceError,
        match=r"service 'exploding' from studio-a .*"
        r"failed to start: RuntimeError: disk on fire",
    ):
        svc.exploding  # noqa: B018
    with pytest.raises(
        PluginError,
        match=r"entry point 'missing' .* in studio-a 2\.0 "
        r"\(studio_a\.nope:make\) failed to load",
    ):
        svc.missing  # noqa: B018
    with pytest.raises(PluginError, match="'typo'.*AttributeError"):
        svc.typo  # noqa: B018
    with pytest.raises(ServiceError, match="must give a dict"):
        svc.configs.get("asset_store")
    with pytest.raises(ServiceError, match="no service 'nothing'"):
        svc.nothing  # noqa: B018


def test_store_outside_any_project_says_what_to_do(site, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PIPL_PROJECT", raising=False)
    monkeypatch.delenv("PIPL_ASSET_STORE", raising=False)
    svc = Services(EntryPointIndex([str(site), *sys.path]), None)
    with pytest.raises(ServiceError, match="no asset store: set"):
        svc.asset_store  # noqa: B018
    monkeypatch.setenv("PIPL_ASSET_STORE", str(tmp_path / "elsewhere"))
    assert Services(EntryPointIndex(sys.path), None).asset_store.root == tmp_path / "elsewhere"
