"""The shared page cache keeps a page only when it was rendered for nobody (issue 14, High 1).

A bearer token outside /api/ opens nothing; a session cookie, in the first or a second Cookie
header, never makes a page shared; whatever a request carried, the kept page is the one a
stranger would get. Checked on every route marked ``shared_page``.
"""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest

from chonaikai.accounts.api_tokens import create_token
from chonaikai.accounts.roles import Role
from chonaikai.accounts.sessions import SESSION_COOKIE
from chonaikai.app import create_app, create_asgi_app
from chonaikai.page_cache import PageCache
from tests.auth import sign_in_as
from tests.delivery.helpers import make_notice

SECRET_TITLES = ("役員会の記録", "役員だけの連絡", "書きかけの案")


@pytest.fixture
async def site(settings, tenant):
    """An app keeping pages for 60 s, an association with one public and three non-public notices."""
    litestar_app = create_app(dataclasses.replace(settings, page_cache_seconds=60))
    app = create_asgi_app(settings, litestar_app)
    public = await make_notice(tenant, "公園の清掃", visibility="public")
    members = await make_notice(tenant, SECRET_TITLES[0], visibility="members")
    officers = await make_notice(tenant, SECRET_TITLES[1], audience="officers", visibility="public")
    draft = await make_notice(tenant, SECRET_TITLES[2], status="draft", visibility="public")
    return dataclasses.make_dataclass("Site", ["app", "litestar", "cache", "ids"])(
        app, litestar_app, litestar_app.state.page_cache,
        {"public": public, "members": members, "officers": officers, "draft": draft},
    )


def shared_paths(site) -> list[str]:
    paths = ["/", "/c/testcity/", "/a/sakura/", "/a/sakura/notices/", *(
        f"/a/sakura/notices/{notice_id}" for notice_id in site.ids.values()
    )]
    # Every route marked shared_page is in the list above (a new one must be added here).
    marked = {route.path for route in site.litestar.routes
              for handler in getattr(route, "route_handlers", ()) if handler.opt.get("shared_page")}
    assert marked == {"/", "/c/{city_slug:str}", "/a/{slug:str}", "/a/{slug:str}/notices",
                      "/a/{slug:str}/notices/{notice_id:int}"}, marked
    return paths


def client(app, **kwargs) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", **kwargs)


async def stranger_sees(site, path: str) -> httpx.Response:
    async with client(site.app) as stranger:
        return await stranger.get(path)


def assert_nothing_private(response: httpx.Response, path: str) -> None:
    for title in SECRET_TITLES:
        assert title not in response.text, (path, title)
    assert "ログアウト" not in response.text, path
    assert response.status_code in (200, 303, 404), (path, response.status_code)


async def test_a_bearer_token_opens_no_page_and_never_fills_the_shared_copy(site, tenant):
    token = (await create_token(role="chair", association_slug="sakura", label="会長の道具")).secret
    for path in shared_paths(site):
        site.cache.clear()
        async with client(site.app) as tool:
            answer = await tool.get(path, headers={"authorization": f"Bearer {token}"})
        assert_nothing_private(answer, path)  # outside /api/ a token is nobody
        assert_nothing_private(await stranger_sees(site, path), path)


async def test_a_bad_bearer_token_on_a_page_is_ignored_not_a_401(site):
    async with client(site.app) as tool:
        answer = await tool.get("/a/sakura/notices/", headers={"authorization": "Bearer ckt_wrong"})
    assert answer.status_code == 200 and "公園の清掃" in answer.text


async def signed_in_cookie(site, tenant) -> str:
    async with client(site.app) as officer:
        await sign_in_as(officer, "chair@example.jp", Role.CHAIR, tenant)
        return officer.cookies[SESSION_COOKIE]


async def test_a_session_cookie_never_fills_the_shared_copy(site, tenant):
    session = await signed_in_cookie(site, tenant)
    for path in shared_paths(site):
        site.cache.clear()
        async with client(site.app) as officer:
            officer.cookies.set(SESSION_COOKIE, session)
            own = await officer.get(path)
        assert own.status_code == 200 and "ログアウト" in own.text, path
        assert len(site.cache) == 0, path
        assert_nothing_private(await stranger_sees(site, path), path)


@pytest.mark.parametrize("order", ["session_first", "session_second"])
async def test_a_second_cookie_header_never_fills_the_shared_copy(site, tenant, order):
    session = await signed_in_cookie(site, tenant)
    headers = [("cookie", "chonaikai_text=large"), ("cookie", f"{SESSION_COOKIE}={session}")]
    if order == "session_first":
        headers.reverse()
    for path in shared_paths(site):
        site.cache.clear()
        async with client(site.app) as officer:
            answer = await officer.get(path, headers=headers)
        assert answer.status_code in (200, 303, 404), path
        if "ログアウト" in answer.text:  # rendered for the officer: kept for nobody
            assert len(site.cache) == 0, path
        assert_nothing_private(await stranger_sees(site, path), path)


async def test_a_page_rendered_for_someone_is_never_kept_whatever_the_request_looked_like(site, tenant, monkeypatch):
    """The rule itself: decided from the principal the page was rendered for, not from headers."""
    import chonaikai.page_cache as page_cache

    session = await signed_in_cookie(site, tenant)
    monkeypatch.setattr(page_cache, "is_shared_request", lambda scope: scope["method"] == "GET")
    for path in shared_paths(site):
        site.cache.clear()
        async with client(site.app) as officer:
            officer.cookies.set(SESSION_COOKIE, session)
            await officer.get(path)
        assert len(site.cache) == 0, path


async def test_visitors_waiting_on_a_render_that_was_not_kept_get_no_key_error():
    """The first render of a page is not a 200: the visitors who waited for it each render their
    own at once. Their renders overlap; each must leave ``_rendering`` without a KeyError."""
    cache = PageCache(seconds=60)
    renders = 0

    async def app(scope, receive, send):
        nonlocal renders
        renders += 1
        status = 503 if renders == 1 else 200
        await asyncio.sleep(0.02 if renders == 1 else 0.01 * renders)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"page"})

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    statuses: list[int] = []

    async def send(message):
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    def scope():
        return {"type": "http", "method": "GET", "path": "/a/x/", "headers": [], "query_string": b"",
                "state": {}, "path_params": {"slug": "x"}}

    results = await asyncio.gather(*(cache.serve(app, scope(), receive, send) for _ in range(5)),
                                   return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert sorted(statuses) == [200, 200, 200, 200, 503]
    assert cache._rendering == {}
