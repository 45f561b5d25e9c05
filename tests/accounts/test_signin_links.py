from datetime import UTC, datetime, timedelta

from chonaikai.accounts import signin
from chonaikai.accounts.principal import load_principal
from chonaikai.accounts.roles import Permission, Role
from chonaikai.accounts.tables import SignInToken, WebSession
from tests.auth import csrf_headers, make_account, sign_in


async def test_link_signs_in_once(client, tenant):
    account_id = await make_account("Kaicho@Example.jp", Role.CHAIR, tenant)
    secret = await signin.create_email_link_secret(account_id)

    page = await client.get(f"/signin/{secret}")
    assert page.status_code == 200 and "ログインする" in page.text
    # Only looking at the page (as a mail scanner does) uses nothing up.
    assert await signin.peek_secret(secret)

    used = await client.post(f"/signin/{secret}?next=/a/sakura/", headers=await csrf_headers(client))
    assert used.status_code == 303 and used.headers["location"] == "/a/sakura/"

    again = await client.post(f"/signin/{secret}", headers=await csrf_headers(client))
    assert again.status_code == 410 and "使えません" in again.text


async def test_expired_link_is_refused(client, tenant):
    account_id = await make_account("late@example.jp")
    secret = await signin.create_email_link_secret(account_id)
    await SignInToken.update({SignInToken.expires_at: datetime.now(UTC) - timedelta(seconds=1)}, force=True)
    response = await client.post(f"/signin/{secret}", headers=await csrf_headers(client))
    assert response.status_code == 410
    assert await signin.consume_email_link(secret) is None


async def test_only_the_hash_is_stored(tenant):
    account_id = await make_account("hash@example.jp")
    secret = await signin.create_email_link_secret(account_id)
    stored = await SignInToken.select(SignInToken.secret_hash).first()
    assert stored["secret_hash"] != secret and stored["secret_hash"] == signin.hash_secret(secret)


async def test_post_without_csrf_token_is_refused(client, tenant):
    account_id = await make_account("csrf@example.jp")
    secret = await signin.create_email_link_secret(account_id)
    response = await client.post(f"/signin/{secret}")
    assert response.status_code == 403
    assert await signin.peek_secret(secret)


async def test_sign_out_forgets_the_session(client, tenant):
    account_id = await make_account("out@example.jp", Role.CHAIR, tenant)
    await sign_in(client, account_id)
    assert await WebSession.count() == 1
    response = await client.post("/signout", headers=await csrf_headers(client))
    assert response.status_code == 303
    assert await WebSession.count() == 0


async def test_one_person_officer_here_member_there(city, tenant):
    from tests.factories import make_association, make_household

    other = await make_association(city, slug="kawa")
    household = await make_household(other, "川端 一郎")
    account_id = await make_account("both@example.jp", Role.EDITOR, tenant)
    await make_account("both@example.jp", Role.MEMBER, other, household_id=household["id"])
    principal = await load_principal(account_id)
    assert principal.can(Permission.NOTICE_POST, tenant.id)
    assert not principal.can(Permission.NOTICE_POST, other.id)
    assert principal.household_in(other.id) == household["id"]
    assert principal.household_in(tenant.id) is None


async def test_han_leader_access_is_narrowed_to_their_han(tenant):
    from chonaikai.roster.tables import Han

    han = await tenant.select(Han, Han.id).where(Han.name == "2班").first()
    account_id = await make_account("han@example.jp", Role.HAN_LEADER, tenant, han_id=han["id"])
    principal = await load_principal(account_id)
    access = principal.access(Permission.ROSTER_VIEW, tenant.id)
    assert access is not None and access.han_ids == frozenset({han["id"]})
    assert access.covers_han(han["id"]) and not access.covers_han(han["id"] + 1000)
    assert principal.access(Permission.ROSTER_IMPORT, tenant.id) is None


async def test_anonymous_visitors_get_no_session(client, tenant):
    response = await client.get("/a/sakura/")
    assert response.status_code == 200
    assert "chonaikai_session" not in response.headers.get("set-cookie", "")
    assert await WebSession.count() == 0
