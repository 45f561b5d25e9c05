"""Public pages kept for visitors who are not signed in (chonaikai/page_cache.py), in a real app
with the cache switched on (the rest of the suite runs with it off)."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest

from chonaikai.accounts.roles import Role
from chonaikai.app import create_app, create_asgi_app
from chonaikai.notices import (
    home as tenancy_routes,  # the homepage moved beside the notices it shows
)
from chonaikai.page_cache import PageCache
from chonaikai.tenancy.tables import Association
from tests.auth import csrf_headers, sign_in_as


def cached_app(settings, seconds: int = 60):
    litestar_app = create_app(dataclasses.replace(settings, page_cache_seconds=seconds))
    return create_asgi_app(settings, litestar_app), litestar_app.state.page_cache


@pytest.fixture
async def visitor(settings):
    """A visitor who never signs in, on an app that keeps pages for 60 s."""
    app, cache = cached_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        client.app, client.page_cache = app, cache
        yield client


async def publish_as_officer(app, tenant, title: str, body: str, category: str) -> None:
    """An officer publishes a public notice through the same app (so through its page cache)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as officer:
        await sign_in_as(officer, "editor@example.jp", Role.EDITOR, tenant)
        form = {"title": title, "body": body, "category": category, "audience": "all",
                "visibility": "public", "action": "publish"}
        response = await officer.post(f"/a/{tenant.slug}/notices/new", data=form, headers=await csrf_headers(officer))
        assert response.status_code == 303


async def set_introduction(tenant, text: str) -> None:
    """A change the web process does not see: made straight in the database, as another process would."""
    await Association.update({Association.introduction: text}).where(Association.id == tenant.id)


async def test_a_visitor_gets_the_kept_page_until_it_is_due(visitor, tenant):
    await set_introduction(tenant, "はじめの紹介文")
    assert "はじめの紹介文" in (await visitor.get("/a/sakura/")).text
    await set_introduction(tenant, "書き直した紹介文")
    again = await visitor.get("/a/sakura/")
    assert again.status_code == 200
    assert "はじめの紹介文" in again.text  # kept: no database read for this view


async def test_a_signed_in_member_never_gets_or_fills_the_kept_page(visitor, tenant, settings):
    await set_introduction(tenant, "はじめの紹介文")
    await visitor.get("/a/sakura/")
    await set_introduction(tenant, "書き直した紹介文")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=visitor.app), base_url="http://testserver") as member:
        await sign_in_as(member, "member@example.jp", Role.MEMBER, tenant)
        page = await member.get("/a/sakura/")
        assert "書き直した紹介文" in page.text
        assert "ログアウト" in page.text and "x-chonaikai-csrf" in page.text
    # and the member's page did not replace the visitors' copy
    shared = await visitor.get("/a/sakura/")
    assert "はじめの紹介文" in shared.text and "ログアウト" not in shared.text


async def test_a_write_to_the_association_forgets_its_pages_at_once(visitor, tenant, city):
    from tests.factories import make_association

    await make_association(city, slug="kaede", name="テスト楓町内会")
    await set_introduction(tenant, "はじめの紹介文")
    await visitor.get("/a/sakura/")
    await visitor.get("/a/kaede/")
    await set_introduction(tenant, "書き直した紹介文")
    await publish_as_officer(visitor.app, tenant, "防災訓練のお知らせ", "9時に公園へ", "防災")
    page = await visitor.get("/a/sakura/")
    assert "書き直した紹介文" in page.text and "防災訓練のお知らせ" in page.text
    # the other association's copy is still kept
    assert "kaede" in {key.split("|")[0] for key in visitor.page_cache._pages}


async def test_the_kept_page_carries_no_csrf_token_and_sets_no_cookie(visitor, tenant):
    first = await visitor.get("/a/sakura/")
    assert "x-chonaikai-csrf" not in first.text and 'name="_csrf_token"' not in first.text
    visitor.cookies.clear()
    second = await visitor.get("/a/sakura/")
    assert second.text == first.text
    assert "set-cookie" not in second.headers  # nobody gets the first visitor's CSRF cookie
    # Its one form, the text-size switch, works without a token.
    switched = await visitor.post("/prefs/text-size", data={"size": "large", "next": "/a/sakura/"})
    assert switched.status_code == 303 and switched.headers["location"] == "/a/sakura/"
    large = await visitor.get("/a/sakura/")
    assert 'class="text-large"' in large.text and "文字を元に戻す" in large.text


async def test_searches_and_htmx_requests_are_never_kept(visitor, tenant):
    await set_introduction(tenant, "はじめの紹介文")
    await visitor.get("/a/sakura/")
    await set_introduction(tenant, "書き直した紹介文")
    fresh = await visitor.get("/a/sakura/", headers={"HX-Request": "true"})
    assert "書き直した紹介文" in fresh.text
    await visitor.get("/?q=テスト")
    tenant_row = await Association.select().where(Association.id == tenant.id).first()
    await Association.update({Association.name: "改名した町内会"}).where(Association.id == tenant_row["id"])
    assert "改名した町内会" in (await visitor.get("/?q=改名")).text


async def test_visitors_arriving_together_cause_one_render(visitor, tenant, monkeypatch):
    renders = 0
    real = tenancy_routes.public_notices

    async def counted(*args, **kwargs):
        nonlocal renders
        renders += 1
        await asyncio.sleep(0.05)  # long enough for all the others to arrive
        return await real(*args, **kwargs)

    monkeypatch.setattr(tenancy_routes, "public_notices", counted)
    pages = await asyncio.gather(*(visitor.get("/a/sakura/") for _ in range(20)))
    assert {page.status_code for page in pages} == {200}
    assert len({page.text for page in pages}) == 1
    assert renders == 1


async def test_a_page_due_again_is_served_once_more_while_it_is_rendered(settings, tenant):
    app, _ = cached_app(settings, seconds=1)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as visitor:
        await set_introduction(tenant, "はじめの紹介文")
        await visitor.get("/a/sakura/")
        await set_introduction(tenant, "書き直した紹介文")
        await asyncio.sleep(1.1)
        assert "はじめの紹介文" in (await visitor.get("/a/sakura/")).text  # the copy from a moment ago
        for _ in range(50):  # while the render runs apart from any visitor
            await asyncio.sleep(0.02)
            page = await visitor.get("/a/sakura/")
            if "書き直した紹介文" in page.text:
                break
        assert "書き直した紹介文" in page.text
        await asyncio.sleep(2.1)  # older than one more period: never served, rendered for this visitor
        await set_introduction(tenant, "三度目の紹介文")
        assert "三度目の紹介文" in (await visitor.get("/a/sakura/")).text


async def test_the_cache_stays_bounded():
    cache = PageCache(seconds=60, max_entries=3)
    for number in range(10):
        cache._keep(f"a{number}|host|/|normal|plain", [])
    assert len(cache) <= 3


async def test_only_pages_that_were_found_are_kept(visitor, tenant):
    assert (await visitor.get("/a/nothing-here/")).status_code == 404
    assert len(visitor.page_cache) == 0
    await visitor.get("/a/sakura/")
    await visitor.get("/")
    assert len(visitor.page_cache) == 2


async def test_a_page_on_the_associations_own_host_is_forgotten_after_a_write_too(visitor, city):
    from tests.factories import make_association

    kawa = await make_association(city, slug="kawa", name="テスト川自治会", hosts=["kawa.example.jp"])
    await set_introduction(kawa, "はじめの紹介文")
    assert "はじめの紹介文" in (await visitor.get("/", headers={"host": "kawa.example.jp"})).text
    await set_introduction(kawa, "書き直した紹介文")
    assert "はじめの紹介文" in (await visitor.get("/", headers={"host": "kawa.example.jp"})).text  # kept
    await publish_as_officer(visitor.app, kawa, "川の清掃", "9時に河原へ", "行事")
    page = await visitor.get("/", headers={"host": "kawa.example.jp"})
    assert "書き直した紹介文" in page.text and "川の清掃" in page.text


async def test_the_board_and_a_public_notice_are_kept_for_visitors_and_never_show_members_only_ones(visitor, tenant):
    from tests.delivery.helpers import make_notice
    from tests.factories import make_household

    public = await make_notice(tenant, "公園の清掃", visibility="public", needs_confirmation=True)
    await make_notice(tenant, "役員会の記録", visibility="members")
    board = await visitor.get("/a/sakura/notices/")
    assert "公園の清掃" in board.text and "役員会の記録" not in board.text
    page = await visitor.get(f"/a/sakura/notices/{public}")
    assert page.status_code == 200 and 'name="_csrf_token"' not in page.text and "x-chonaikai-csrf" not in page.text
    kept_paths = {key.split("|")[2].rstrip("/") for key in visitor.page_cache._pages}
    assert kept_paths == {"/a/sakura/notices", f"/a/sakura/notices/{public}"}

    household = await make_household(tenant, "山田", han="1班", channel="email", email="yamada@example.jp")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=visitor.app), base_url="http://testserver") as member:
        await sign_in_as(member, "yamada@example.jp", Role.MEMBER, tenant, household_id=household["id"])
        own_board = await member.get("/a/sakura/notices/")
        assert "役員会の記録" in own_board.text  # a member's board is their own, never the kept one
        own_page = await member.get(f"/a/sakura/notices/{public}")
        assert 'name="_csrf_token"' in own_page.text and "読みました" in own_page.text
    # and the visitors' copies were not replaced by the member's
    assert "役員会の記録" not in (await visitor.get("/a/sakura/notices/")).text
