import re
from datetime import timedelta

from chonaikai.accounts.principal import load_principal
from chonaikai.accounts.roles import Permission, Role
from chonaikai.accounts.tables import Account, AuditEntry, RoleGrant, SignInToken
from chonaikai.roster.tables import Han
from tests.auth import csrf_headers, make_account, sign_in_as
from tests.factories import make_association
from tests.mailsink import text_of

LINK = re.compile(r"http://testserver(/signin/[A-Za-z0-9_-]+(?:\?next=\S+)?)")


async def invite(client, slug="sakura", **form):
    return await client.post(f"/a/{slug}/officers/invite", data=form, headers=await csrf_headers(client))


async def test_chair_sees_the_officers(client, tenant):
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    await make_account("kouhou@example.jp", Role.EDITOR, tenant)
    page = await client.get("/a/sakura/officers")
    assert page.status_code == 200
    assert "会長" in page.text and "広報" in page.text and "kouhou@example.jp" in page.text
    assert "招待する" in page.text


async def test_chair_invites_and_the_invited_person_signs_in_with_the_role(client, tenant, mail_sink):
    chair_id = await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    han = await tenant.select(Han, Han.id).where(Han.name == "2班").first()
    response = await invite(client, email="Hancho@Example.jp", role="han_leader", han=str(han["id"]), display_name="見本 花子")
    assert response.status_code == 303 and response.headers["location"] == "/a/sakura/officers?done=invited"

    [message] = mail_sink.to("hancho@example.jp")
    assert message["subject"] == "【テスト桜町内会】2班の班長のご案内"
    assert "7日" in text_of(message)
    path = LINK.search(text_of(message)).group(1)
    account = await Account.select().where(Account.email == "hancho@example.jp").first()
    token = await SignInToken.select().where(SignInToken.account == account["id"]).first()
    assert token["expires_at"] - token["created_at"] == timedelta(days=7)
    assert account["display_name"] == "見本 花子"
    grant = await RoleGrant.select().where(RoleGrant.account == account["id"]).first()
    assert grant["role"] == "han_leader" and grant["han"] == han["id"] and grant["granted_by"] == chair_id
    audit = await AuditEntry.select().where(AuditEntry.action == "officer.invite").first()
    assert audit["association"] == tenant.id and audit["account"] == chair_id and "hancho@example.jp" in audit["detail"]

    # The invited person, in their own browser, follows the link.
    client.cookies.clear()
    used = await client.post(path, headers=await csrf_headers(client))
    assert used.status_code == 303 and used.headers["location"] == "/a/sakura/"
    principal = await load_principal(account["id"])
    access = principal.access(Permission.ROSTER_VIEW, tenant.id)
    assert access is not None and access.han_ids == frozenset({han["id"]})
    # A 班長 may not manage officers.
    assert (await client.get("/a/sakura/officers")).status_code == 403


async def test_inviting_twice_grants_once(client, tenant, mail_sink):
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    await invite(client, email="kaikei@example.jp", role="treasurer")
    again = await invite(client, email="kaikei@example.jp", role="treasurer")
    assert again.headers["location"].endswith("done=already")
    assert await RoleGrant.count().where(RoleGrant.role == "treasurer") == 1
    assert len(mail_sink.to("kaikei@example.jp")) == 2


async def test_editor_cannot_manage_officers(client, tenant, mail_sink):
    await sign_in_as(client, "kouhou@example.jp", Role.EDITOR, tenant)
    assert (await client.get("/a/sakura/officers")).status_code == 403
    response = await invite(client, email="x@example.jp", role="vice_chair")
    assert response.status_code == 403
    assert not mail_sink.messages and await Account.count().where(Account.email == "x@example.jp") == 0


async def test_strangers_are_sent_to_sign_in(client, tenant):
    response = await client.get("/a/sakura/officers")
    assert response.status_code == 303 and response.headers["location"].startswith("/signin?next=")


async def test_chair_of_another_association_gets_nothing_here(client, city, tenant, mail_sink):
    other = await make_association(city, slug="kawa")
    await sign_in_as(client, "other@example.jp", Role.CHAIR, other)
    assert (await client.get("/a/sakura/officers")).status_code == 403
    assert (await invite(client, email="y@example.jp", role="editor")).status_code == 403
    assert not mail_sink.messages


async def test_bad_input_says_what_to_fix_and_changes_nothing(client, tenant, mail_sink):
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    cases = [
        ({"email": "not-an-address", "role": "editor"}, "メールアドレスの形"),
        ({"email": "a@example.jp", "role": "chair"}, "役割を選んでください"),
        ({"email": "a@example.jp", "role": "han_leader"}, "どの班か"),
        ({"email": "a@example.jp", "role": "han_leader", "han": "999999"}, "班が見つかりません"),
    ]
    for form, message in cases:
        response = await invite(client, **form)
        assert response.status_code == 400 and message in response.text, form
    assert await Account.count() == 1 and await RoleGrant.count() == 1 and not mail_sink.messages


async def test_han_of_another_association_cannot_be_chosen(client, city, tenant):
    other = await make_association(city, slug="kawa", han=["東班"])
    foreign = await other.select(Han, Han.id).first()
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    response = await invite(client, email="a@example.jp", role="han_leader", han=str(foreign["id"]))
    assert response.status_code == 400


async def test_chair_removes_a_role(client, tenant):
    chair_id = await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    editor_id = await make_account("kouhou@example.jp", Role.EDITOR, tenant)
    grant = await RoleGrant.select(RoleGrant.id).where(RoleGrant.account == editor_id).first()
    response = await client.post(f"/a/sakura/officers/{grant['id']}/remove", headers=await csrf_headers(client))
    assert response.status_code == 303
    assert not (await load_principal(editor_id)).can(Permission.NOTICE_POST, tenant.id)
    audit = await AuditEntry.select().where(AuditEntry.action == "officer.remove").first()
    assert audit["account"] == chair_id and "kouhou@example.jp editor" in audit["detail"]


async def test_chair_role_and_other_associations_roles_cannot_be_removed(client, city, tenant):
    chair_id = await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    own = await RoleGrant.select(RoleGrant.id).where(RoleGrant.account == chair_id).first()
    refused = await client.post(f"/a/sakura/officers/{own['id']}/remove", headers=await csrf_headers(client))
    assert refused.status_code == 400 and "会長の役割" in refused.text
    other = await make_association(city, slug="kawa")
    elsewhere = await make_account("kawa-editor@example.jp", Role.EDITOR, other)
    grant = await RoleGrant.select(RoleGrant.id).where(RoleGrant.account == elsewhere).first()
    response = await client.post(f"/a/sakura/officers/{grant['id']}/remove", headers=await csrf_headers(client))
    assert response.status_code == 400
    assert await RoleGrant.count() == 2
