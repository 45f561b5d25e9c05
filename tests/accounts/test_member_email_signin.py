"""Members sign in with the e-mail address their household has in the roster (issue 15, part 2)."""

from datetime import UTC, datetime, timedelta

from chonaikai.accounts.roles import Permission, Role
from chonaikai.accounts.tables import AuditEntry, SignInToken
from chonaikai.roster.tables import Household
from tests.accounts.test_signin_form import ask, link_in
from tests.auth import csrf_headers, make_account
from tests.factories import make_association, make_household


async def use_link(client, mail_sink, address):
    [message] = mail_sink.to(address)
    path = link_in(message)
    assert (await client.get(path)).status_code == 200
    return await client.post(path, headers=await csrf_headers(client))


async def test_member_signs_in_with_the_household_address_and_lands_on_their_page(client, tenant, mail_sink):
    household = await make_household(tenant, "山田 花子", "1班", email="hanako@example.jp", channel="email")
    answer = await ask(client, "Hanako@Example.jp")
    assert answer.status_code == 200 and "メールを送りました" in answer.text
    assert mail_sink.envelopes[0].rcpt_tos == ("hanako@example.jp",)

    used = await use_link(client, mail_sink, "hanako@example.jp")
    assert used.status_code == 303 and used.headers["location"] == "/a/sakura/my"
    page = await client.get("/a/sakura/my")
    assert page.status_code == 200 and "山田 花子" in page.text
    assert await AuditEntry.count().where(
        (AuditEntry.action == "email.signin") & (AuditEntry.household == household["id"])
    ) == 1


async def test_member_link_keeps_where_they_were_going(client, tenant, mail_sink):
    await make_household(tenant, "山田 花子", email="hanako@example.jp")
    await ask(client, "hanako@example.jp", next="/a/sakura/notices/")
    used = await use_link(client, mail_sink, "hanako@example.jp")
    assert used.headers["location"] == "/a/sakura/notices/"


async def test_member_link_works_once_and_expires_like_an_officers(client, tenant, mail_sink):
    await make_household(tenant, "山田 花子", email="hanako@example.jp")
    await ask(client, "hanako@example.jp")
    [message] = mail_sink.messages
    path = link_in(message)
    assert (await client.post(path, headers=await csrf_headers(client))).status_code == 303
    assert (await client.post(path, headers=await csrf_headers(client))).status_code == 410

    mail_sink.clear()
    from chonaikai.accounts.tables import RateLimitHit

    await RateLimitHit.delete(force=True)  # a while later (a second mail within a minute is held back)
    await ask(client, "hanako@example.jp")
    late = link_in(mail_sink.messages[0])
    token = await SignInToken.select().where(SignInToken.email == "hanako@example.jp").order_by(
        SignInToken.id, ascending=False).first()
    assert token["expires_at"] - token["created_at"] == timedelta(minutes=15)
    await SignInToken.update({SignInToken.expires_at: datetime.now(UTC) - timedelta(seconds=1)}).where(
        SignInToken.id == token["id"])
    assert (await client.post(late, headers=await csrf_headers(client))).status_code == 410


async def test_unknown_address_same_answer_no_mail_even_with_households_around(client, tenant, mail_sink):
    await make_household(tenant, "山田 花子", email="hanako@example.jp")
    await make_household(tenant, "転出 済", email="gone@example.jp", moved_out=True)
    known = await ask(client, "hanako@example.jp")
    unknown = await ask(client, "nobody@example.jp")
    moved = await ask(client, "gone@example.jp")
    assert unknown.status_code == known.status_code == moved.status_code == 200
    assert unknown.text.replace("nobody@example.jp", "X") == known.text.replace("hanako@example.jp", "X")
    assert moved.text.replace("gone@example.jp", "X") == known.text.replace("hanako@example.jp", "X")
    assert [e.rcpt_tos for e in mail_sink.envelopes] == [("hanako@example.jp",)]
    assert await SignInToken.count() == 1


async def test_household_that_moved_out_meanwhile_cannot_use_its_link(client, tenant, mail_sink):
    household = await make_household(tenant, "山田 花子", email="hanako@example.jp")
    await ask(client, "hanako@example.jp")
    await Household.update({Household.moved_out: True}).where(Household.id == household["id"])
    used = await use_link(client, mail_sink, "hanako@example.jp")
    assert used.status_code == 410
    assert (await client.get("/a/sakura/my")).status_code in (303, 401)


async def test_one_address_on_two_households_the_member_chooses(client, city, tenant, mail_sink):
    other = await make_association(city, slug="kawa", name="川端自治会")
    parents = await make_household(tenant, "山田 一郎", "2班", email="family@example.jp")
    child = await make_household(other, "山田 次郎", email="family@example.jp")
    await ask(client, "family@example.jp")
    used = await use_link(client, mail_sink, "family@example.jp")
    assert used.status_code == 303 and used.headers["location"] == "/signin/choose"
    page = await client.get("/signin/choose")
    assert page.status_code == 200
    assert "山田 一郎" in page.text and "山田 次郎" in page.text and "川端自治会" in page.text
    # Not chosen yet: neither household page opens.
    assert (await client.get("/a/sakura/my")).status_code in (303, 401)

    wrong = await client.post("/signin/choose", data={"household": "999999"}, headers=await csrf_headers(client))
    assert wrong.status_code == 400 and "選んで" in wrong.text

    chosen = await client.post("/signin/choose", data={"household": str(child["id"])},
                               headers=await csrf_headers(client))
    assert chosen.status_code == 303 and chosen.headers["location"] == "/a/kawa/my"
    assert "山田 次郎" in (await client.get("/a/kawa/my")).text
    assert (await client.get("/a/sakura/my")).status_code == 403
    assert parents["id"] != child["id"]


async def test_choose_page_without_a_link_sends_to_signin(client, tenant):
    page = await client.get("/signin/choose")
    assert page.status_code == 303 and page.headers["location"] == "/signin"


async def test_officer_who_is_also_a_member_keeps_both(client, tenant, mail_sink):
    from chonaikai.accounts.principal import load_principal

    household = await make_household(tenant, "会長 太郎", "1班", email="kaicho@example.jp")
    account_id = await make_account("kaicho@example.jp", Role.CHAIR, tenant)
    await ask(client, "kaicho@example.jp")
    used = await use_link(client, mail_sink, "kaicho@example.jp")
    assert used.status_code == 303 and used.headers["location"] == "/a/sakura/my"
    assert (await client.get("/a/sakura/my")).status_code == 200
    assert (await client.get("/a/sakura/roster")).status_code == 200
    principal = await load_principal(account_id, household["id"])
    assert principal.can(Permission.ROSTER_VIEW, tenant.id) and principal.household_in(tenant.id) == household["id"]


async def test_officer_without_a_household_still_lands_where_asked(client, tenant, mail_sink):
    await make_account("fuku@example.jp", Role.VICE_CHAIR, tenant)
    await ask(client, "fuku@example.jp", next="/a/sakura/")
    used = await use_link(client, mail_sink, "fuku@example.jp")
    assert used.headers["location"] == "/a/sakura/"


async def test_a_stale_link_still_leads_to_where_it_was_going_after_signing_in(client, tenant):
    from chonaikai.accounts import signin

    account_id = await make_account("kaicho@example.jp", Role.CHAIR, tenant)
    secret = await signin.create_email_link_secret(account_id)
    await SignInToken.update({SignInToken.expires_at: datetime.now(UTC) - timedelta(seconds=1)}, force=True)
    page = await client.get(f"/signin/{secret}?next=/a/sakura/circulars/3")
    assert page.status_code == 410
    assert 'href="/signin?next=/a/sakura/circulars/3"' in page.text


async def test_member_session_ends_when_an_officer_changes_the_household_address(client, tenant, mail_sink):
    from chonaikai.accounts.principal import load_principal
    from chonaikai.roster import logic
    from chonaikai.roster.logic import HouseholdValues

    household = await make_household(tenant, "山田 花子", "1班", email="hanako@example.jp", channel="email")
    await ask(client, "hanako@example.jp")
    await use_link(client, mail_sink, "hanako@example.jp")
    assert (await client.get("/a/sakura/my")).status_code == 200
    chair = await load_principal(await make_account("kaicho@example.jp", Role.CHAIR, tenant))
    access = chair.access(Permission.ROSTER_EDIT, tenant.id)
    await logic.update_household(tenant, access, chair, household["id"], HouseholdValues(
        name="山田 花子", han=household["han"], email="new@example.jp", channel="email"))
    assert (await client.get("/a/sakura/my")).status_code in (303, 401)
