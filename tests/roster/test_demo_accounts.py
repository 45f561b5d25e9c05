"""`chonaikai demo` gives every demo association a 会長 and 班長 a newcomer can sign in as."""

from __future__ import annotations

from chonaikai.accounts import signin
from chonaikai.accounts.principal import load_principal
from chonaikai.accounts.roles import Permission, Role
from chonaikai.accounts.tables import RoleGrant
from chonaikai.devtools.demo import demo_officer_lines, load_demo_officers, load_demo_roster
from chonaikai.settings import PROJECT_ROOT
from chonaikai.tenancy.logic import find_tenant
from chonaikai.tenancy.tenant_files import sync_tenants
from tests.auth import sign_in

DEMO = PROJECT_ROOT / "tenants"


async def test_demo_chair_and_han_leaders(client):
    await sync_tenants(DEMO)
    await load_demo_roster(DEMO)
    emails = await load_demo_officers(DEMO)
    assert "sakuragaoka-kaicho@example.jp" in emails and "sakuragaoka-hancho1@example.jp" in emails
    # Idempotent: a second run adds no grants.
    grants = await RoleGrant.count()
    await load_demo_officers(DEMO)
    assert await RoleGrant.count() == grants
    lines = await demo_officer_lines("sakuragaoka")
    assert lines[0] == "sakuragaoka-kaicho@example.jp (会長)" and "sakuragaoka-hancho1@example.jp (班長 1班)" in lines

    tenant = await find_tenant("sakuragaoka")
    chair = await signin.find_account_by_email("sakuragaoka-kaicho@example.jp")
    assert (await load_principal(chair["id"])).can(Permission.AUDIT_VIEW, tenant.id)
    leader = await load_principal((await signin.find_account_by_email("sakuragaoka-hancho1@example.jp"))["id"])
    access = leader.access(Permission.ROSTER_VIEW, tenant.id)
    assert access is not None and access.han_ids and len(access.han_ids) == 1
    assert Role.HAN_LEADER in leader.roles_in(tenant.id)

    # The 班長 signs in and sees a part of the demo roster; the 会長 all of it.
    await sign_in(client, leader.account_id)
    part = await client.get("/a/sakuragaoka/roster")
    await sign_in(client, chair["id"])
    whole = await client.get("/a/sakuragaoka/roster")
    assert part.status_code == whole.status_code == 200
    assert 0 < part.text.count("<tr>") < whole.text.count("<tr>")
