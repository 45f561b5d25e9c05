"""Review fixes: a draft notice is not readable through its print pages or its receipts page."""

from __future__ import annotations

from chonaikai.accounts.roles import Role
from tests.auth import sign_in_as
from tests.factories import make_household
from tests.print.rows import han_id, make_notice


async def test_han_leader_gets_404_for_a_draft_print_page_but_poster_sees_it(client, tenant):
    await make_household(tenant, "青木", han="1班", channel="paper")
    han = await han_id(tenant, "1班")
    draft = await make_notice(tenant, title="まだ下書き", status="draft", published_at=None)
    for path in (f"/a/{tenant.slug}/notices/{draft['id']}/print",
                 f"/a/{tenant.slug}/notices/{draft['id']}/print?han={han}",
                 f"/a/{tenant.slug}/notices/{draft['id']}/print/confirmations?han={han}",
                 f"/a/{tenant.slug}/notices/{draft['id']}/receipts"):
        await sign_in_as(client, "hancho@example.jp", Role.HAN_LEADER, tenant, han_id=han)
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "まだ下書き" not in response.text
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    response = await client.get(f"/a/{tenant.slug}/notices/{draft['id']}/print?han={han}")
    assert response.status_code == 200 and "まだ下書き" in response.text


async def test_han_leader_still_prints_a_published_notice(client, tenant):
    await make_household(tenant, "青木", han="1班", channel="paper")
    han = await han_id(tenant, "1班")
    notice = await make_notice(tenant, title="公開済み")
    await sign_in_as(client, "hancho@example.jp", Role.HAN_LEADER, tenant, han_id=han)
    response = await client.get(f"/a/{tenant.slug}/notices/{notice['id']}/print?han={han}")
    assert response.status_code == 200 and "公開済み" in response.text
