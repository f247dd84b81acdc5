"""The cached entry-point index reads each installed distribution's entry points once,
with importlib.metadata's parsing; a distribution whose ``entry_points.txt`` cannot be
parsed hides nothing of the others."""

from __future__ import annotations

from pathlib import Path

from pipl_pipe.entrypoints import EntryPointIndex

from tests.fakedists import make_dist


def test_groups_names_and_values_as_declared(tmp_path: Path) -> None:
    make_dist(tmp_path, "rig-lib", "2.0", requires=["pipl-pipe"])
    info = tmp_path / "rig_lib-2.0.dist-info"
    (info / "entry_points.txt").write_text(
        "# made by hand\n"
        "[pipl_pipe.config]\n"
        "  rig-lib =  rig_lib:CONFIG  \n"
        "\n"
        "[ pipl_pipe.product ]\n"
        "rig = rig_lib.product:PRODUCT [extra]\n"
    )
    index = EntryPointIndex([str(tmp_path)])
    [config] = index.group("pipl_pipe.config")
    assert (config.name, config.value, config.dist, config.version) == (
        "rig-lib",
        "rig_lib:CONFIG",
        "rig-lib",
        "2.0",
    )
    assert [(p.name, p.value) for p in index.group("pipl_pipe.product")] == [
        ("rig", "rig_lib.product:PRODUCT [extra]")
    ]
    assert index.requires("Rig_Lib") == ["pipl-pipe"]
    assert index.distributions() == ["rig-lib"]


def test_an_unparsable_entry_points_file_hides_no_other_distribution(tmp_path: Path) -> None:
    make_dist(tmp_path, "good", entry_points={"pipl_pipe.config": {"good": "good:CONFIG"}})
    make_dist(tmp_path, "broken", entry_points={"pipl_pipe.config": {"broken": "broken:X"}})
    (tmp_path / "broken-1.0.dist-info" / "entry_points.txt").write_text(
        "[pipl_pipe.config]\nbroken = broken:X\nnot an entry point\n"
    )
    index = EntryPointIndex([str(tmp_path)])
    assert [p.name for p in index.group("pipl_pipe.config")] == ["good"]
    assert index.distributions() == ["broken", "good"]


def test_a_refresh_reads_what_was_installed_since(tmp_path: Path) -> None:
    index = EntryPointIndex([str(tmp_path)])
    assert index.group("pipl_pipe.config") == []
    make_dist(tmp_path, "late", entry_points={"pipl_pipe.config": {"late": "late:CONFIG"}})
    assert index.group("pipl_pipe.config") == []  # cached
    index.refresh()
    assert [p.name for p in index.group("pipl_pipe.config")] == ["late"]
