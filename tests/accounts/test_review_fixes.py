"""Review fixes for accounts: inviting twice (even at the same moment) grants a role once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from chonaikai.accounts.officers import Invitation, invite_officer
from chonaikai.accounts.roles import Role
from chonaikai.accounts.tables import RoleGrant
from tests.auth import make_account


async def test_two_invitations_at_once_grant_the_role_once(tenant, mail_sink):
    await make_account("kouhou@example.jp")  # the account exists; the race is about the role
    invitation = Invitation(email="kouhou@example.jp", role=Role.EDITOR)
    results = await asyncio.gather(*(invite_officer(tenant, invitation, None) for _ in range(3)))
    assert len({result.grant_id for result in results}) == 1
    assert sorted(result.already for result in results) == [False, True, True]
    assert await RoleGrant.count().where(RoleGrant.role == "editor") == 1


async def test_the_database_refuses_a_duplicate_grant_even_with_null_han(tenant):
    account_id = await make_account("kaikei@example.jp", Role.TREASURER, tenant)
    with pytest.raises(Exception):  # noqa: B017 - the driver's own IntegrityError/UniqueViolation
        await RoleGrant.insert(
            RoleGrant(account=account_id, role="treasurer", association=tenant.id, created_at=datetime.now(UTC))
        )
    assert await RoleGrant.count().where(RoleGrant.account == account_id) == 1
