"""Review fixes for LINE: settings page for the 会長 only, link codes, /line/go, erase."""

from __future__ import annotations

from tests.auth import csrf_headers, sign_in_as


async def test_line_settings_need_settings_permission(client, line_tenant, fake_line):
    # 広報 may post notices but does not hold the association's settings.
    await sign_in_as(client, "editor@example.jp", "editor", line_tenant)
    assert (await client.get(f"/a/{line_tenant.slug}/settings/line")).status_code == 403
    response = await client.post(f"/a/{line_tenant.slug}/settings/line/check", headers=await csrf_headers(client))
    assert response.status_code == 403
    client.cookies.clear()
    await sign_in_as(client, "chair@example.jp", "chair", line_tenant)
    assert (await client.get(f"/a/{line_tenant.slug}/settings/line")).status_code == 200
