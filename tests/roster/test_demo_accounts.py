"""`chonaikai demo` gives every demo association a 会長 and 班長 a newcomer can sign in as."""

from __future__ import annotations

from chonaikai.accounts import signin
from chonaikai.accounts.principal import load_principal
from chonaikai.accounts.roles import Permission, Role
from chonaikai.accounts.tables import RoleGrant
from chonaikai.demo import demo_sign_in_link, ensure_demo_accounts, load_demo_roster
from chonaikai.settings import PROJECT_ROOT
from chonaikai.tenancy.logic import find_tenant
from chonaikai.tenancy.tenant_files import sync_tenants

DEMO = PROJECT_ROOT / "tenants"


async def test_demo_chair_and_han_leaders(client):
    await sync_tenants(DEMO)
    await load_demo_roster(DEMO)
    accounts = await ensure_demo_accounts(DEMO)
    emails = {a["email"] for a in accounts}
    assert "kaicho@sakuragaoka.example.jp" in emails and "hancho1@sakuragaoka.example.jp" in emails
    # Idempotent: a second run adds no grants.
    grants = await RoleGrant.count()
    await ensure_demo_accounts(DEMO)
    assert await RoleGrant.count() == grants

    tenant = await find_tenant("sakuragaoka")
    chair = await signin.find_account_by_email("kaicho@sakuragaoka.example.jp")
    principal = await load_principal(chair["id"])
    assert principal.can(Permission.AUDIT_VIEW, tenant.id)
    leader = await load_principal((await signin.find_account_by_email("hancho1@sakuragaoka.example.jp"))["id"])
    access = leader.access(Permission.ROSTER_VIEW, tenant.id)
    assert access is not None and access.han_ids and len(access.han_ids) == 1
    assert Role.HAN_LEADER in leader.roles_in(tenant.id)

    # The printed link signs the 会長 in and shows the demo roster.
    link = await demo_sign_in_link(chair["id"], "http://testserver/")
    from tests.auth import csrf_headers

    response = await client.post(link.replace("http://testserver", ""), headers=await csrf_headers(client))
    assert response.status_code == 303
    page = await client.get("/a/sakuragaoka/roster")
    assert page.status_code == 200 and "roster-table" in page.text
