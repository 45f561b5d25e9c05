"""Sessions end with the credentials that opened them (issue 14, Medium): replacing a household's
card, the household's LINE being unlinked or blocked, the household moving out or being erased
end every session its card or LINE opened. An officer's own session is not touched."""

from __future__ import annotations

from chonaikai.accounts.principal import Principal
from chonaikai.accounts.roles import Role
from chonaikai.accounts.tables import WebSession
from chonaikai.line import messages
from chonaikai.roster import cards
from chonaikai.roster.tables import Household
from tests.auth import csrf_headers, sign_in_as
from tests.factories import make_household
from tests.line.helpers import linked_households

OFFICER = Principal(account_id=None)


async def card_session(client, tenant, household_id: int) -> None:
    card = await cards.issue_card(tenant, OFFICER, household_id)
    response = await client.post("/card", data={"code": card.code}, headers=await csrf_headers(client))
    assert response.status_code == 303
    assert (await client.get(f"/a/{tenant.slug}/my")).status_code == 200


async def signed_out(client, tenant) -> bool:
    response = await client.get(f"/a/{tenant.slug}/my")
    return response.status_code == 303 and response.headers["location"].startswith("/signin")


async def test_a_new_card_ends_the_sessions_the_old_one_opened(client, tenant):
    household = await make_household(tenant, "山田", han="1班")
    await card_session(client, tenant, household["id"])
    # the officer's own session is another person's: it stays
    async with client.__class__(transport=client._transport, base_url="http://testserver") as officer:
        await sign_in_as(officer, "chair@example.jp", Role.CHAIR, tenant)
        reprint = await officer.post(f"/a/{tenant.slug}/roster/{household['id']}/card", headers=await csrf_headers(officer))
        assert reprint.status_code == 200
        assert (await officer.get(f"/a/{tenant.slug}/roster")).status_code == 200
        assert await signed_out(client, tenant)
        assert await WebSession.count() == 1  # the member's row is gone, the officer's kept


async def test_a_session_with_the_new_card_works(client, tenant):
    household = await make_household(tenant, "山田", han="1班")
    await card_session(client, tenant, household["id"])
    await card_session(client, tenant, household["id"])  # signs in again with the new card
    assert (await client.get(f"/a/{tenant.slug}/my")).status_code == 200


async def line_session(client, tenant, fake_line) -> tuple[int, str]:
    ((household_id, (user,)),) = await linked_households(tenant, fake_line, 1)
    response = await client.get(messages.signed_link(household_id))
    assert response.status_code == 303, response.text
    assert (await client.get(f"/a/{tenant.slug}/my")).status_code == 200
    return household_id, user


async def test_blocking_the_line_account_ends_the_session_it_opened(client, line_tenant, fake_line):
    _, user = await line_session(client, line_tenant, fake_line)
    channel = next(iter(fake_line.state.channels.values()))
    status, _ = await fake_line.send_event(channel, fake_line.event("unfollow", user), client=client)
    assert status == 200
    assert await signed_out(client, line_tenant)


async def test_a_link_found_unreachable_ends_the_session_too(client, line_tenant, fake_line):
    from chonaikai.line import links
    from chonaikai.line.api import LineApi
    from chonaikai.line.config import channel_for_association

    _, user = await line_session(client, line_tenant, fake_line)
    fake_line.block(user)
    async with LineApi(await channel_for_association(line_tenant.id)) as api:
        assert await links.check_links(line_tenant, api) == 1
    assert await signed_out(client, line_tenant)


async def test_moving_out_or_erasing_ends_the_card_session(client, tenant):
    household = await make_household(tenant, "山田", han="1班")
    await card_session(client, tenant, household["id"])
    await Household.update({Household.moved_out: True}).where(Household.id == household["id"])
    assert await signed_out(client, tenant)
    async with client.__class__(transport=client._transport, base_url="http://testserver") as officer:
        await sign_in_as(officer, "chair@example.jp", Role.CHAIR, tenant)
        headers = await csrf_headers(officer)
        other = await make_household(tenant, "佐藤", han="1班")
        await card_session(client, tenant, other["id"])
        moved = await officer.post(f"/a/{tenant.slug}/roster/{other['id']}/moved-out", data={"moved_out": "1"}, headers=headers)
        assert moved.status_code in (200, 303), moved.text
        # moving back does not bring the old session back
        back = await officer.post(f"/a/{tenant.slug}/roster/{other['id']}/moved-out", data={"moved_out": "0"}, headers=headers)
        assert back.status_code in (200, 303), back.text
    assert await signed_out(client, tenant)
