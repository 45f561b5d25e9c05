"""Review fixes for the roster: erase removes LINE links, CSV 班 names, forms keep what was typed."""

from __future__ import annotations

from datetime import UTC, datetime

from chonaikai.accounts.principal import Principal
from chonaikai.accounts.roles import Role
from chonaikai.line.tables import LineLink
from chonaikai.roster import logic
from chonaikai.roster.tables import Household
from tests.auth import make_account
from tests.factories import make_household


async def test_erase_deletes_the_households_line_links(tenant):
    household = await make_household(tenant, "見本 太郎", han="1班", channel="line")
    other = await make_household(tenant, "他の 世帯", han="1班", channel="line")
    now = datetime.now(UTC)
    for row, user in ((household, "U1"), (other, "U2")):
        await tenant.new(LineLink, household=row["id"], channel_id="1650000001", line_user_id=user,
                         active=True, linked_at=now).save()
    await tenant.update(Household, {Household.moved_out: True}).where(Household.id == household["id"])
    account_id = await make_account("chair@example.jp", Role.CHAIR, tenant)
    actor = Principal(account_id=account_id)
    await logic.erase_household(tenant, actor, household["id"])
    assert await LineLink.count().where(LineLink.household == household["id"]) == 0
    assert await LineLink.count().where(LineLink.household == other["id"]) == 1
