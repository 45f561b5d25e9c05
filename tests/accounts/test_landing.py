"""Where sign-in lands: the association's page, or a chooser for someone in several; a signed-in
member opening a notice sees 「読みました」."""

from __future__ import annotations

import re

from chonaikai.accounts.roles import Role
from tests.auth import csrf_headers, grant, make_account, sign_in, sign_in_as
from tests.delivery.helpers import make_notice
from tests.factories import make_association, make_household
from tests.mailsink import text_of

LINK = re.compile(r"http://testserver(/signin/[A-Za-z0-9_-]+(?:\?next=\S+)?)")


async def sign_in_through_the_form(client, mail_sink, email: str):
    form = (await client.get("/signin")).text
    signin_form = form.split('class="signin-form"', 1)[1]
    next_value = re.search(r'name="next" value="([^"]*)"', signin_form).group(1)
    await client.post("/signin", data={"email": email, "next": next_value}, headers=await csrf_headers(client))
    path = LINK.search(text_of(mail_sink.to(email)[-1])).group(1)
    used = await client.post(path, headers=await csrf_headers(client))
    assert used.status_code == 303
    return used


async def test_an_officer_of_one_association_lands_on_its_page(client, tenant, mail_sink):
    await make_account("kaicho@example.jp", Role.CHAIR, tenant)
    used = await sign_in_through_the_form(client, mail_sink, "kaicho@example.jp")
    assert used.headers["location"] == "/signin/where"
    where = await client.get(used.headers["location"])
    assert where.status_code == 303 and where.headers["location"] == "/a/sakura/"


async def test_someone_in_several_associations_chooses(client, tenant, city):
    other = await make_association(city, slug="kaede", name="テスト楓町内会")
    account = await make_account("both@example.jp", Role.CHAIR, tenant)
    await grant(account, Role.EDITOR, other)
    await sign_in(client, account)
    page = await client.get("/signin/where")
    assert page.status_code == 200 and "どこを開きますか" in page.text
    assert 'href="/a/sakura/"' in page.text and 'href="/a/kaede/"' in page.text
    assert "会長" in page.text and "広報" in page.text


async def test_a_stranger_on_the_landing_is_sent_to_sign_in(client):
    response = await client.get("/signin/where")
    assert response.status_code == 303 and response.headers["location"] == "/signin"


async def test_a_member_sees_the_read_button_and_an_officer_without_household_is_told_why(client, tenant):
    household = await make_household(tenant, "青木", han="1班", channel="email", email="aoki@example.jp")
    notice = await make_notice(tenant, title="総会のお知らせ", needs_confirmation=True)
    await sign_in_as(client, "aoki@example.jp", Role.MEMBER, tenant, household_id=household["id"])
    page = (await client.get(f"/a/sakura/notices/{notice}")).text
    assert "読みました</button>" in page and "ログインすると" not in page

    client.cookies.clear()
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    page = (await client.get(f"/a/sakura/notices/{notice}")).text
    assert "ログインすると" not in page
    assert "世帯としてログイン" in page
