"""The signed-in front (signed_in_front.py): a member's board and notice page answered by their
route handlers before the framework, byte for byte what the route answers through Litestar, and
everything it should not answer handed to Litestar unchanged."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from litestar import Litestar, Request, get
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ImproperlyConfiguredException
from litestar.params import FromHeader, FromQuery
from litestar.response import Response

from chonaikai.accounts.roles import Role
from chonaikai.accounts.sessions import SESSION_COOKIE, SESSION_MAX_AGE
from chonaikai.accounts.signed_in_cache import signed_in_cache
from chonaikai.accounts.tables import WebSession
from chonaikai.app import CSRF_COOKIE
from chonaikai.signed_in_front import _plan, _query_values, counts, signed_in_front
from chonaikai.web import SIGNED_IN_FRONT
from tests.auth import sign_in_as
from tests.delivery.helpers import make_notice
from tests.factories import make_household

CONTENT_HEADERS = ("content-type", "content-encoding", "vary", "content-length")


def answered(asgi_app) -> int:
    """How many pages the front answered itself so far."""
    return counts.answered


@pytest.fixture
async def member(client, tenant):
    household = await make_household(tenant, "加藤 一", han="1班")
    await sign_in_as(client, "kato@example.jp", Role.MEMBER, tenant, household_id=household["id"])
    return client


@pytest.fixture
async def bare(litestar_app, member):
    """A client of the Litestar app alone (no front), with the member's cookies."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=litestar_app), base_url="http://testserver",
                                 cookies=member.cookies) as client:
        yield client


async def raw(client: httpx.AsyncClient, path: str, **headers: str) -> httpx.Response:
    async with client.stream("GET", path, headers=headers) as response:
        response._content = b"".join([chunk async for chunk in response.aiter_raw()])
    return response


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
async def test_the_front_answers_the_board_and_a_notice_as_the_route_does(tenant, member, bare, asgi_app, encoding):
    notice_id = await make_notice(tenant, "ごみ当番表", visibility="members")
    await make_notice(tenant, "もう一つのお知らせ", visibility="members")
    for path in (f"/a/{tenant.slug}/notices/", f"/a/{tenant.slug}/notices/{notice_id}",
                 f"/a/{tenant.slug}/notices/?category=&page=1&archived=0",
                 f"/a/{tenant.slug}/notices/?q=%E3%81%94%E3%81%BF%E5%BD%93%E7%95%AA&page=1"):  # a search (ごみ当番)
        before = answered(asgi_app)
        through_front = await raw(member, path, **{"accept-encoding": encoding})
        assert answered(asgi_app) == before + 1, path
        through_route = await raw(bare, path, **{"accept-encoding": encoding})
        assert through_front.status_code == through_route.status_code == 200
        for name in CONTENT_HEADERS:
            assert through_front.headers.get(name) == through_route.headers.get(name), (path, name)
        assert through_front.content == through_route.content
        text = gzip.decompress(through_front.content).decode() if encoding == "gzip" else through_front.content.decode()
        assert "kato@example.jp" in text and member.cookies[CSRF_COOKIE] in text
        assert ("1件（「ごみ当番」）" in text) == ("q=" in path) and "ごみ当番表" in text


async def test_a_first_visit_gets_the_csrf_cookie_the_middleware_would_set(tenant, member, litestar_app, asgi_app):
    del member.cookies[CSRF_COOKIE]
    before = answered(asgi_app)
    page = await member.get(f"/a/{tenant.slug}/notices/")
    assert answered(asgi_app) == before + 1
    (front_cookie,) = [c for c in page.headers.get_list("set-cookie") if c.startswith(CSRF_COOKIE)]
    token = member.cookies[CSRF_COOKIE]
    assert token in page.text
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=litestar_app), base_url="http://testserver",
                                 cookies={SESSION_COOKIE: member.cookies[SESSION_COOKIE]}) as bare:
        route_page = await bare.get(f"/a/{tenant.slug}/notices/")
    (route_cookie,) = [c for c in route_page.headers.get_list("set-cookie") if c.startswith(CSRF_COOKIE)]
    assert front_cookie.split(";")[1:] == route_cookie.split(";")[1:]  # the same attributes
    # and the page's token is one the CSRF middleware accepts
    posted = await member.post("/signout", data={"_csrf_token": token})
    assert posted.status_code in (200, 303)


@pytest.mark.parametrize(("query", "status"), [("page=abc", 400), ("page=%C2%B2", 400), ("page=0", 404),
                                                ("page=1&page=2", 200)])
async def test_query_values_it_does_not_take_go_to_the_route(tenant, member, asgi_app, query, status):
    before = answered(asgi_app)
    response = await member.get(f"/a/{tenant.slug}/notices/?{query}", headers={"accept": "text/html"})
    assert response.status_code == status
    if status != 200:
        assert answered(asgi_app) == before
        assert "<h1>" in response.text  # the route's own error page, in Japanese


async def test_a_notice_not_for_the_member_is_refused_by_the_route(tenant, member, asgi_app):
    officers_only = await make_notice(tenant, "役員だけ", audience="officers")
    draft = await make_notice(tenant, "下書き", status="draft")
    before = answered(asgi_app)
    assert (await member.get(f"/a/{tenant.slug}/notices/{officers_only}")).status_code == 403
    assert (await member.get(f"/a/{tenant.slug}/notices/{draft}")).status_code == 404
    assert (await member.get(f"/a/{tenant.slug}/notices/999999")).status_code == 404
    assert (await member.get("/a/no-such-association/notices/")).status_code == 404
    assert answered(asgi_app) == before


async def test_htmx_and_visitors_without_a_session_go_to_the_route(client, tenant, member, asgi_app):
    await make_notice(tenant, "ごみ当番表", visibility="members")
    before = answered(asgi_app)
    partial = await member.get(f"/a/{tenant.slug}/notices/", headers={"hx-request": "true", "hx-target": "board"})
    assert partial.status_code == 200 and "<html" not in partial.text and "ごみ当番表" in partial.text
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as stranger:
        page = await stranger.get(f"/a/{tenant.slug}/notices/")
        assert page.status_code == 200, page.text
        assert "kato@" not in page.text, page.text
        assert "ごみ当番表" not in page.text
    assert answered(asgi_app) == before


async def test_a_session_due_for_renewal_is_renewed_by_the_route(tenant, member, asgi_app):
    soon = datetime.now(UTC) + timedelta(days=10)
    await WebSession.update({WebSession.expires_at: soon}, force=True)
    signed_in_cache.forget_all()
    before = answered(asgi_app)
    page = await member.get(f"/a/{tenant.slug}/notices/")
    assert page.status_code == 200 and "kato@example.jp" in page.text
    assert answered(asgi_app) == before  # the route writes the renewal (and the cookie's Max-Age)
    (row,) = await WebSession.select(WebSession.expires_at)
    assert row["expires_at"] > datetime.now(UTC) + timedelta(seconds=SESSION_MAX_AGE - 60)
    await member.get(f"/a/{tenant.slug}/notices/")
    assert answered(asgi_app) == before + 1  # renewed: the front answers again


async def test_an_ended_session_opens_nothing(tenant, member, asgi_app):
    await make_notice(tenant, "ごみ当番表", visibility="members")
    assert "ごみ当番表" in (await member.get(f"/a/{tenant.slug}/notices/")).text
    await WebSession.delete(force=True)  # signed out elsewhere (another machine)
    signed_in_cache.forget_all()
    before = answered(asgi_app)
    page = await member.get(f"/a/{tenant.slug}/notices/")
    assert page.status_code == 200 and "ごみ当番表" not in page.text and "kato@" not in page.text
    assert answered(asgi_app) == before


async def test_an_expired_session_opens_nothing(tenant, member, asgi_app):
    await make_notice(tenant, "ごみ当番表", visibility="members")
    await WebSession.update({WebSession.expires_at: datetime.now(UTC) - timedelta(seconds=1)}, force=True)
    signed_in_cache.forget_all()
    page = await member.get(f"/a/{tenant.slug}/notices/")
    assert "ごみ当番表" not in page.text and "kato@" not in page.text
    assert await WebSession.count() == 0  # removed, as the session middleware does


def test_query_values_are_plain_or_handed_over():
    @get("/x", name="x", opt={SIGNED_IN_FRONT: True})
    async def handler(q: FromQuery[str] = "", page: FromQuery[int] = 1) -> str:
        return q

    app = Litestar([handler])
    plan = _plan(app.asgi_router.route_handler_index[handler.name], app.middleware, frozenset())
    assert _query_values(plan, b"") == {"q": "", "page": 1}
    assert _query_values(plan, b"q=%E6%B8%85%E6%8E%83&page=3&other=1") == {"q": "清掃", "page": 3}
    for refused in (b"page=+1", b"page=1_0", b"page=-1", b"page=99999999999", b"q=a&q=b", "q=清".encode()):
        assert _query_values(plan, refused) is None, refused


def test_a_route_the_front_cannot_call_as_litestar_would_is_refused_at_start_up():
    async def no_one(connection, handler) -> None:  # noqa: ANN001
        return None

    @get("/guarded", name="guarded", opt={SIGNED_IN_FRONT: True}, guards=[no_one])
    async def guarded() -> Response:
        return Response("x")

    @get("/header", name="header", opt={SIGNED_IN_FRONT: True})
    async def needs_a_header(user_agent: FromHeader[str]) -> Response:
        return Response(user_agent)

    async def allowed(request: Request) -> bool:
        return False

    @get("/checked", name="checked", opt={SIGNED_IN_FRONT: True}, dependencies={"access": Provide(allowed)})
    async def checked(access: NamedDependency[bool]) -> Response:
        return Response("x")

    app = Litestar([guarded, needs_a_header, checked])
    for handler in (guarded, needs_a_header, checked):
        with pytest.raises(ImproperlyConfiguredException):
            _plan(app.asgi_router.route_handler_index[handler.name], app.middleware, frozenset())


def test_the_routes_it_answers_are_the_ones_that_declare_it(litestar_app):
    async def route(scope, receive, send) -> None:  # noqa: ANN001
        raise AssertionError

    front = signed_in_front(route, litestar_app)
    assert sorted(handler.name for handler in front.plans) == ["notice_page", "notices_board"]


async def test_a_bad_host_header_gets_the_routers_answer(tenant, member, asgi_app):
    before = answered(asgi_app)
    response = await member.get(f"/a/{tenant.slug}/notices/", headers={"host": "bad host<>"})
    assert response.status_code == 400
    assert answered(asgi_app) == before
