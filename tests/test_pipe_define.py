"""Pipeline definitions: the dot subset, finding segment code, multiplex directives."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipl.errors import PipelineError
from pipl.pipe import Pipeline, prepare, run
from pipl.pipe.graph import topological
from pipl.pipe.parse import parse
from tests.pipe_helpers import knights, scripts


def test_chains_and_statements_make_edges_in_order():
    dag = parse("a -> b -> d;\nc -> d; c -> e;  # comment\n// another\nf;")
    assert dag.edges == [("a", "b"), ("b", "d"), ("c", "d"), ("c", "e")]
    assert dag.parents("d") == ["b", "c"]
    assert dag.segments == ["a", "b", "d", "c", "e", "f"]
    order = topological(dag)
    assert order.index("b") < order.index("d") and order.index("c") < order.index("d")


def test_digraph_wrapper_is_accepted():
    assert parse("digraph p {\n a -> b;\n}\n").edges == [("a", "b")]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("a -> b;\n\nb -> ;", "line 3: '(nothing)' is not a segment name"),
        ("a -> b;\nb c -> d;", "line 2: 'b c' is not a segment name"),
        ("a -> b;\nb -> c;\nc -> a;", "line 3: c -> a makes a cycle (a -> b -> c -> a)"),
        ("a -> a;", "line 1: a -> a is a cycle"),
        ("\n\n", "declares no segment"),
    ],
)
def test_bad_pipelines_name_the_line(text, needle):
    with pytest.raises(PipelineError, match=None) as err:
        parse(text)
    assert needle in str(err.value)


def test_unknown_segment_names_its_line(tmp_path):
    code = scripts(tmp_path / "code", a="set_output(1)\n")
    p = Pipeline("a -> b;\na -> c_d;", code, tmp_path / "data")
    with pytest.raises(PipelineError) as err:
        prepare(p)
    assert "pipeline line 1: no code for segment b" in str(err.value)
    assert f"{code}/b.py" in str(err.value)


def test_names_with_a_common_root_share_code(tmp_path):
    code = scripts(tmp_path / "code", a="set_output([1, 2])\n", melt="set_output(seg_input)\n")
    p = Pipeline("a -> melt_x_y;", code, tmp_path / "data")
    seg = prepare(p)[1]
    assert seg.name == "melt_x_y" and Path(seg.code.filename).name == "melt.py"
    report = run(p, executor="interactive")
    assert report.segment("melt_x_y").ran == 2


def test_missing_hook_script_is_an_error(tmp_path):
    code = scripts(tmp_path / "code", a="hook('post')\n")
    with pytest.raises(PipelineError, match=r"calls hook\('post'\) but .*a_post.py"):
        prepare(Pipeline("a;", code, tmp_path / "data"))


def _instances(report, name):
    return report.segment(name).total


def test_default_is_the_cartesian_product(tmp_path):
    p = knights(tmp_path, ["Lancelot", "Galahad", "Robin"])
    report = run(p, executor="interactive")
    assert _instances(report, "melt") == 6
    assert _instances(report, "summary") == 1
    (summary,) = (tmp_path / "data").glob("*/melt_*/summary_*/data/*/all.txt")
    assert summary.read_text().splitlines()[0] == "Galahad the Brave"
    assert len(summary.read_text().splitlines()) == 6


def test_union_runs_one_instance_per_output_of_any_parent(tmp_path):
    p = knights(tmp_path, melt="#multiplex union\nset_output(list(seg_input.items()))\n")
    report = run(p, executor="interactive")
    assert _instances(report, "melt") == 4  # 2 knights + 2 qualities


def test_where_filters_and_group_by_classes(tmp_path):
    p = knights(
        tmp_path,
        melt=(
            "#multiplex cross_prod where \"quality == 'the Brave'\"\n"
            "set_output(get_input('knights'))\n"
        ),
        summary=(
            '#multiplex cross_prod group_by "knights"\n'
            "set_output([(get_input('knights')[0], len(seg_input))])\n"
        ),
    )
    p.dot = "knights -> melt; quality -> melt; knights -> summary; quality -> summary;"
    report = run(p, executor="interactive")
    assert _instances(report, "melt") == 2
    assert _instances(report, "summary") == 2
    outputs = _outputs(p, "summary")
    assert sorted(outputs) == [("Galahad", 2), ("Lancelot", 2)]


def test_multiplex_declared_in_metadata_wins_over_the_comment(tmp_path):
    p = knights(tmp_path)
    p.segments = {"melt": {"multiplex": "cross_prod where \"knights == 'Galahad'\""}}
    assert _instances(run(p, executor="interactive"), "melt") == 2


def test_failing_where_names_segment_and_expression(tmp_path):
    p = knights(tmp_path, melt='#multiplex cross_prod where "colour == 1"\n')
    with pytest.raises(PipelineError) as err:
        run(p, executor="interactive")
    assert 'segment melt: where expression "colour == 1" failed' in str(err.value)
    assert "NameError" in str(err.value)


def test_unhashable_group_by_and_bad_directive_are_named(tmp_path):
    p = knights(tmp_path, summary='#multiplex cross_prod group_by "[melt]"\n')
    with pytest.raises(PipelineError, match='segment summary: group_by "\\[melt\\]" gave'):
        run(p, executor="interactive")
    p = knights(tmp_path / "b", summary="#multiplex cross_prod sometimes\n")
    with pytest.raises(PipelineError, match="segment summary: cannot read multiplex directive"):
        prepare(p)


def _outputs(p, name):
    from pipl.pipe.db import open_db

    seg = next(s for s in prepare(p) if s.name == name)
    with open_db(p.prefix) as db:
        return [v for out in db.done(seg.key).values() for v in out]


def test_under_group_by_get_input_is_the_class_value(tmp_path):
    """Pipelet: "the original tuple is lost and replaced by the result of the class
    function"; get_input(seg) still lists that parent's values over the class."""
    p = knights(
        tmp_path,
        summary=(
            '#multiplex cross_prod group_by "(knights, len(knights))"\n'
            "set_output([(get_input(), sorted(get_input('quality')), len(seg_input))])\n"
        ),
        total='#multiplex cross_prod group_by "0"\nset_output([get_input()])\n',
    )
    p.dot = (
        "knights -> summary; quality -> summary; melt -> total; knights -> melt; quality -> melt;"
    )
    report = run(p, executor="local", jobs=2)
    assert report.ok
    assert sorted(_outputs(p, "summary")) == [
        (("Galahad", 7), ["the Brave", "the Pure"], 2),
        (("Lancelot", 8), ["the Brave", "the Pure"], 2),
    ]
    assert _outputs(p, "total") == [0]
