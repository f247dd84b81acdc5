"""The stages, release and products pages in a real browser: the owner promotes a release
from the stages page and sees it on the next stage, an anonymous visitor sees no promote
button and a forged promotion is refused, a release page draws its provenance graph, and
a product's asset downloads with its recorded hash."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from browser import log_in, screenshot

from pipl.index.session import connect
from pipl.index.wheelpack import write_wheel
from pipl.project.project import Project
from tests.helpers import make_wheel


@pytest.fixture(scope="module")
def owner_login(project: Project) -> tuple[str, str]:
    return project.owner, project.secrets.password(project.owner) or ""


@pytest.fixture(scope="module")
def shelf(project: Project, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """web-lib 1.0, web-app 1.0 (needs web-lib) and product web-prop 1.0 made from
    web-lib 1.0, with one asset."""
    from pipl.assets.project_store import project_store

    tmp = tmp_path_factory.mktemp("webrel")
    lib = make_wheel(tmp / "lib", "web-lib", "1.0")
    app = make_wheel(tmp / "app", "web-app", "1.0", requires=["web-lib>=1"])
    texture = tmp / "texture.png"
    texture.write_bytes(b"\x89PNG not really\n" * 64)
    with project_store(project) as store:
        stored = store.put(texture)
    doc = {
        "format": "pipl-product/2",
        "name": "web-prop",
        "version": "1.0",
        "type": "prop",
        "sources": ["web-lib==1.0"],
        "source_files": {"web-lib==1.0": {lib.name: hashlib.sha256(lib.read_bytes()).hexdigest()}},
        "assets": [
            {
                "name": "texture",
                "type": "file",
                "sha256": stored.sha256,
                "size": stored.size,
                "kind": "file",
                "suffix": ".png",
            }
        ],
    }
    metadata = (
        b"Metadata-Version: 2.1\nName: web-prop\nVersion: 1.0\nKeywords: pipl-product,prop\n"
        b"Requires-Dist: web-lib==1.0\n"
    )
    product = write_wheel(
        tmp / "prop",
        "web-prop",
        "1.0",
        {"web_prop/__init__.py": b"", "web_prop/pipl_manifest.json": json.dumps(doc).encode()},
        {"METADATA": metadata},
    )
    with connect(project, "owner") as owner:
        for wheel in (lib, app, product):
            owner.upload(project.stage_index(), wheel)
    return {"asset": stored.sha256}


def row(stage: str, release: str) -> str:
    return f'#stage-{stage} tr[data-release="{release}"]'


def test_the_owner_promotes_from_the_stages_page(page, web: str, owner_login, shelf) -> None:
    log_in(page, web, *owner_login)
    page.goto(f"{web}/stages")
    assert page.is_visible(row("dev", "web-lib 1.0"))
    assert not page.is_visible(row("qa", "web-lib 1.0"))
    screenshot(page, "stages")
    page.click(f"{row('dev', 'web-lib 1.0')} button.promote")
    assert page.inner_text("#note") == "promoted web-lib 1.0 to qa"
    assert page.is_visible(row("qa", "web-lib 1.0"))
    # promoted already: no button on dev any more, it says where it is instead
    assert not page.is_visible(f"{row('dev', 'web-lib 1.0')} button.promote")
    assert "on qa" in page.inner_text(row("dev", "web-lib 1.0"))
    assert page.is_visible(f"{row('qa', 'web-lib 1.0')} button.promote")  # on to prod
    assert not page.is_visible("#stage-prod button.promote")  # the last stage


def test_a_refused_promotion_says_why(page, web: str, owner_login, shelf, project) -> None:
    with connect(project, "owner") as owner:
        owner.upload(
            project.stage_index(),
            make_wheel(project.root / ".." / "needy", "web-needy", "1.0", requires=["web-nil"]),
        )
    log_in(page, web, *owner_login)
    page.goto(f"{web}/stages")
    page.click(f"{row('dev', 'web-needy 1.0')} button.promote")
    assert "it needs web-nil" in page.inner_text("p.error")
    assert not page.is_visible(row("qa", "web-needy 1.0"))


def test_an_anonymous_visitor_cannot_promote(page, web: str, project: Project, shelf) -> None:
    page.goto(f"{web}/stages")
    assert page.is_visible(row("dev", "web-app 1.0"))
    assert page.locator("button.promote").count() == 0
    form = {"project": "web-app", "version": "1.0", "source": "dev"}
    with httpx.Client(base_url=web) as visitor:
        # a forged form from elsewhere carries no CSRF token ...
        assert visitor.post("/stages/promote", data=form).status_code == 403
        # ... and with this site's token, an anonymous visitor is still refused
        visitor.get("/stages")
        answer = visitor.post(
            "/stages/promote", data={**form, "csrf": visitor.cookies["pipl_csrf"]}
        )
        assert answer.status_code == 401
    with connect(project, "anonymous") as reader:
        assert reader.versions(project.stage_index("qa"), "web-app", inherited=False) == {}


def test_a_release_page_shows_its_provenance(page, web: str, owner_login, shelf) -> None:
    page.goto(f"{web}/releases/dev/web-prop/1.0")
    assert page.inner_text("h1").startswith("web-prop 1.0")
    assert page.inner_text("#maintainer-list").split() == [owner_login[0]]  # its uploader
    graph = page.locator("#provenance svg")
    assert graph.count() == 1 and "web-lib 1.0" in graph.text_content()
    assert "same bytes on" in page.inner_text("#upstream")
    assert shelf["asset"] in page.inner_text("#assets")
    screenshot(page, "release")
    page.click("#upstream a")  # to the source, which names the product made from it
    assert "web-prop 1.0" in page.inner_text("#consumers")
    assert "web-prop 1.0" in page.locator("#provenance svg").text_content()


def test_products_list_their_assets_and_download_them(page, web: str, shelf) -> None:
    page.goto(f"{web}/products")
    section = page.locator("#product-web-prop-1\\.0")
    assert shelf["asset"] in section.inner_text()
    screenshot(page, "products")
    href = section.locator("a[download]").get_attribute("href")
    answer = httpx.get(f"{web}{href}")
    assert answer.status_code == 200
    assert hashlib.sha256(answer.content).hexdigest() == shelf["asset"]
    assert answer.headers["content-type"] == "application/octet-stream"
    for bad, status in (
        ("..%2F..%2Fpipl.toml", 404),  # no such page: a name is one path segment
        ("%2e%2e", 400),
        ("Texture.png", 400),
        ("missing", 404),
    ):
        assert httpx.get(f"{web}/products/web-prop/1.0/assets/{bad}").status_code == status, bad


def test_a_symlink_in_the_store_serves_nothing_outside(web: str, project: Project, shelf) -> None:
    from pipl.assets.project_store import project_store

    with project_store(project) as store:
        path = store.object_path(shelf["asset"])
    kept = path.with_name(path.name + ".kept")
    path.rename(kept)
    path.symlink_to(project.root / "pipl.toml")
    try:
        answer = httpx.get(f"{web}/products/web-prop/1.0/assets/texture")
        assert answer.status_code >= 400 and "corrupted" in answer.json()["error"]["message"]
        assert "[web]" not in answer.text
    finally:
        path.unlink()
        kept.rename(path)
