"""/api/ authenticates by bearer token only: the browser session cookie never opens it
(issue 14, Medium: /api/ is exempt from CSRF, so a cookie there would let another site act)."""

from __future__ import annotations

from chonaikai.accounts.api_tokens import create_token
from chonaikai.accounts.tables import SignInToken, WebSession
from tests.auth import sign_in_as
from tests.delivery.helpers import make_notice
from tests.factories import make_household

EVIL = {"origin": "https://evil.example.com"}


async def test_the_chairs_session_cookie_opens_no_api_route(client, line_tenant, fake_line):
    household = await make_household(line_tenant, "見本 太郎", han="1班")
    notice = await make_notice(line_tenant, "一斉清掃")
    await sign_in_as(client, "chair@example.jp", "chair", line_tenant)
    assert (await client.get(f"/a/{line_tenant.slug}/roster")).status_code == 200  # the cookie works on pages
    slug = line_tenant.slug
    refused = [
        await client.post(f"/api/v1/associations/{slug}/households/{household['id']}/line-code", headers=EVIL),
        await client.get(f"/api/v1/associations/{slug}/notices/{notice}/receipts", headers=EVIL),
        await client.get(f"/api/v1/notices/{notice}/receipts", headers=EVIL),
        await client.get(f"/api/v1/associations/{slug}/households", headers=EVIL),
        await client.post(f"/api/v1/associations/{slug}/notices", json={"title": "x", "body": "y"}, headers=EVIL),
    ]
    assert [response.status_code for response in refused] == [401] * 5, [r.text for r in refused]
    # nothing happened: no link code made (the household's unused code would have been cancelled)
    assert await SignInToken.count().where(SignInToken.purpose == "line_code") == 0


async def test_a_bearer_token_still_opens_the_api_and_writes_no_session(client, line_tenant, fake_line):
    household = await make_household(line_tenant, "見本 太郎", han="1班")
    token = (await create_token(role="chair", association_slug=line_tenant.slug)).secret
    sessions_before = await WebSession.count()
    response = await client.post(
        f"/api/v1/associations/{line_tenant.slug}/households/{household['id']}/line-code",
        headers={"authorization": f"Bearer {token}", **EVIL},
    )
    assert response.status_code == 201, response.text
    assert await WebSession.count() == sessions_before
    assert "set-cookie" not in response.headers or "chonaikai_session" not in response.headers["set-cookie"]
