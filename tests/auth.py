"""Sign in as someone in tests, through the real sign-in link and session cookie."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from chonaikai.accounts import signin
from chonaikai.accounts.roles import Role
from chonaikai.accounts.tables import RoleGrant
from chonaikai.app import CSRF_COOKIE, CSRF_HEADER
from chonaikai.tenancy.scope import Tenant


async def make_account(
    email: str,
    role: Role | str | None = None,
    tenant: Tenant | None = None,
    *,
    city_id: int | None = None,
    han_id: int | None = None,
    household_id: int | None = None,
) -> int:
    account_id = await signin.get_or_create_account(email)
    if role is not None:
        await grant(account_id, role, tenant, city_id=city_id, han_id=han_id, household_id=household_id)
    return account_id


async def grant(
    account_id: int,
    role: Role | str,
    tenant: Tenant | None = None,
    *,
    city_id: int | None = None,
    han_id: int | None = None,
    household_id: int | None = None,
) -> None:
    await RoleGrant.insert(
        RoleGrant(
            account=account_id,
            role=str(Role(role)),
            association=tenant.id if tenant else None,
            city=city_id,
            han=han_id,
            household=household_id,
            created_at=datetime.now(UTC),
        )
    ).on_conflict(action="DO NOTHING")  # signing in twice as the same role: one grant (unique index)


async def csrf_headers(client: httpx.AsyncClient) -> dict[str, str]:
    """The header a form post needs; fetches a page first if no CSRF cookie is set yet."""
    if CSRF_COOKIE not in client.cookies:
        await client.get("/healthz")
        if CSRF_COOKIE not in client.cookies:
            await client.get("/")
    return {CSRF_HEADER: client.cookies[CSRF_COOKIE]}


async def sign_in(client: httpx.AsyncClient, account_id: int) -> None:
    secret = await signin.create_email_link_secret(account_id)
    response = await client.post(f"/signin/{secret}", headers=await csrf_headers(client))
    assert response.status_code == 303, response.text


async def sign_in_as(client: httpx.AsyncClient, email: str, role: Role | str, tenant: Tenant | None = None, **kw) -> int:
    account_id = await make_account(email, role, tenant, **kw)
    await sign_in(client, account_id)
    return account_id
