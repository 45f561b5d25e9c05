"""Review fixes for LINE: settings page for the 会長 only, link codes, /line/go, erase."""

from __future__ import annotations

from chonaikai.db import write_transaction
from tests.auth import csrf_headers, sign_in_as
from tests.line.conftest import CHANNEL_ID


async def test_line_settings_need_settings_permission(client, line_tenant, fake_line):
    # 広報 may post notices but does not hold the association's settings.
    await sign_in_as(client, "editor@example.jp", "editor", line_tenant)
    assert (await client.get(f"/a/{line_tenant.slug}/settings/line")).status_code == 403
    response = await client.post(f"/a/{line_tenant.slug}/settings/line/check", headers=await csrf_headers(client))
    assert response.status_code == 403
    client.cookies.clear()
    await sign_in_as(client, "chair@example.jp", "chair", line_tenant)
    assert (await client.get(f"/a/{line_tenant.slug}/settings/line")).status_code == 200


async def test_a_new_code_replaces_the_earlier_unused_one_and_is_stored_keyed(client, line_tenant, fake_line):
    import hashlib

    from chonaikai.accounts.tables import SignInToken
    from chonaikai.line.links import issue_code
    from chonaikai.line.tables import LineLink
    from tests.factories import make_household
    from tests.line.test_webhook import send

    household = await make_household(line_tenant, "見本 太郎", han="1班")
    old_code, _ = await issue_code(line_tenant, household["id"])
    new_code, _ = await issue_code(line_tenant, household["id"])
    stored = await SignInToken.select(SignInToken.secret_hash).where(SignInToken.purpose == "line_code")
    assert len(stored) == 1
    plain = hashlib.sha256(new_code.replace("-", "").encode()).hexdigest()
    assert stored[0]["secret_hash"] != plain
    user = fake_line.add_friend()
    await send(fake_line, client, "message", user, text=old_code)
    assert await LineLink.count().where(LineLink.line_user_id == user) == 0
    await send(fake_line, client, "message", user, text=new_code)
    assert await LineLink.count().where(LineLink.line_user_id == user) == 1


async def test_line_go_needs_an_active_link_for_the_household(client, line_tenant, fake_line):
    from chonaikai.line import messages
    from chonaikai.line.links import deactivate
    from tests.line.helpers import linked_households

    ((household_id, (user,)),) = await linked_households(line_tenant, fake_line, 1)
    path = messages.signed_link(household_id)
    response = await client.get(path)
    assert response.status_code == 303 and response.headers["location"].endswith("/my")
    client.cookies.clear()
    async with write_transaction():
        await deactivate(CHANNEL_ID, user, "LINEでブロックされました")
    response = await client.get(path)
    assert response.status_code == 410
