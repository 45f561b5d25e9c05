"""Cross-cutting protections: sessions, CSRF exemptions, odd input answered in Japanese."""

from chonaikai.accounts import signin
from chonaikai.accounts.roles import Role
from chonaikai.accounts.sessions import SESSION_COOKIE
from chonaikai.accounts.tables import WebSession
from tests.auth import csrf_headers, make_account, sign_in_as
from tests.factories import make_association


async def test_sign_in_never_keeps_a_session_id_planted_before(client, tenant):
    planted = "a" * 64
    client.cookies.set(SESSION_COOKIE, planted)
    account_id = await make_account("chair@example.jp", Role.CHAIR, tenant)
    secret = await signin.create_email_link_secret(account_id)
    response = await client.post(f"/signin/{secret}", headers=await csrf_headers(client))
    assert response.status_code == 303
    issued = response.cookies.get(SESSION_COOKIE)
    assert issued and issued != planted
    # The planted id opens nothing.
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, planted)
    assert (await client.get("/a/sakura/roster")).status_code in (303, 401)


async def test_session_ids_are_stored_hashed(client, tenant):
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    issued = client.cookies.get(SESSION_COOKIE)
    stored = await WebSession.select(WebSession.key).first()
    assert issued and stored["key"] != issued and len(stored["key"]) == 64


async def test_csrf_exemptions_do_not_reach_an_association_named_u(client, city):
    await make_association(city, slug="u")
    await make_association(city, slug="api")
    for slug in ("u", "api"):
        response = await client.post(f"/a/{slug}/officers/invite", data={"email": "x@example.jp", "role": "vice_chair"})
        assert response.status_code == 403, slug


async def test_huge_ids_are_not_found_not_a_crash(client, tenant):
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    for path in ("/a/sakura/notices/99999999999999999999", "/a/sakura/notices/3000000000",
                 "/a/sakura/roster/99999999999999999999"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "見つかりません" in response.text or "ページ" in response.text


async def test_bad_query_values_get_a_japanese_page(client, tenant):
    response = await client.get("/a/sakura/notices/?page=abc", headers={"accept": "text/html"})
    assert response.status_code == 400
    assert "入力を確かめてください" in response.text
