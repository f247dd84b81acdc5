import pytest

from pipl import names
from pipl.errors import UsageError


@pytest.mark.parametrize("name", ["alice", "a", "studio-2", "A.b_c", "x" * 64])
def test_good_simple_names(name):
    assert names.check_simple(name, "user") == name


@pytest.mark.parametrize(
    "name", ["", "-x", "x-", "a/b", "../etc", "a..b", "a b", "x" * 65, "é", "a;rm", "+api"]
)
def test_bad_simple_names(name):
    with pytest.raises(UsageError, match="invalid user name"):
        names.check_simple(name, "user")


def test_index_names():
    assert names.check_index("demo/dev") == "demo/dev"
    with pytest.raises(UsageError, match="USER/INDEX"):
        names.check_index("dev")
    with pytest.raises(UsageError, match="invalid index name"):
        names.check_index("demo/../x")


def test_stage_lists():
    assert names.check_stages(["dev", "prod"]) == ["dev", "prod"]
    with pytest.raises(UsageError, match="unique"):
        names.check_stages(["dev", "dev"])
    with pytest.raises(UsageError, match="at least one"):
        names.check_stages([])
    with pytest.raises(UsageError, match="base"):
        names.check_stages(["dev", "base"])


def test_dist_names_normalize_like_pep503():
    assert names.normalize_dist("Shot_010.Anim") == "shot-010-anim"
    assert names.check_dist("Shot_010.Anim") == "Shot_010.Anim"
    with pytest.raises(UsageError):
        names.check_dist("-bad")


def test_dist_names_have_a_length_limit():
    assert names.check_dist("x" * names.MAX_DIST) == "x" * names.MAX_DIST
    with pytest.raises(UsageError, match=r"'xxxx.*\.\.\. \(101 characters\): use at most 100"):
        names.check_dist("x" * 101, "packl")


@pytest.mark.parametrize(
    ("name", "reason"),
    [("import", "keyword"), ("for", "keyword"), ("os", "standard library"), ("1x", "identifier")],
)
def test_packl_modules_must_be_importable_as_their_own(name, reason):
    with pytest.raises(UsageError, match=reason):
        names.packl_module(name)


def test_packl_modules():
    assert names.packl_module("Shot-010.Anim") == "shot_010_anim"
    assert names.packl_module("match") == "match"  # soft keywords import fine


@pytest.mark.parametrize("check", [names.check_user, names.check_dist])
def test_a_trailing_newline_is_not_part_of_a_good_name(check):
    with pytest.raises(UsageError):
        check("shot\n")


def test_generated_passwords_never_look_like_an_option():
    from unittest import mock

    from pipl.project import secrets as store

    drawn = iter(["-starts-with-a-dash", "-again", "fine-one"])
    with mock.patch.object(store.secrets, "token_urlsafe", lambda n: next(drawn)):
        assert store.new_password() == "fine-one"
