"""Review fixes for the roster: erase removes LINE links, CSV 班 names, forms keep what was typed."""

from __future__ import annotations

from datetime import UTC, datetime

from chonaikai.accounts.principal import Access, Principal
from chonaikai.accounts.roles import Permission, Role
from chonaikai.line.tables import LineLink
from chonaikai.roster import csv_io, logic
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


async def test_csv_refuses_a_too_long_new_han_name_even_when_creating_missing_han(tenant):
    long_name = "班" * 51
    data = ("番号,世帯主,フリガナ,班,住所,電話,メール,連絡方法,備考\r\n"
            f",例村 和子,レイムラ カズコ,{long_name},,,,紙,\r\n").encode()
    plan = await csv_io.plan_import(tenant, Access(Permission.ROSTER_IMPORT, han_ids=None), data, create_missing_han=True)
    assert not plan.ok and plan.new_han == []
    assert [str(e) for e in plan.errors] == ["行 2（班）: 班の名前は50文字までです"]


async def test_family_forms_keep_what_was_typed_and_removal_needs_a_tick(client, tenant, roster):
    from chonaikai.roster.tables import Member
    from tests.auth import csrf_headers, sign_in_as

    long_name = "長" * 101
    # The officer's household form.
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    headers = await csrf_headers(client)
    hid = roster["taro"]["id"]
    page = await client.post(f"/a/sakura/roster/{hid}/members", headers=headers,
                             data={"name": long_name, "kana": "ミホン", "relation": "長男"})
    assert page.status_code == 400 and "名前が長すぎます" in page.text
    assert f'value="{long_name}"' in page.text and 'value="ミホン"' in page.text and 'value="長男"' in page.text

    # The member's own page.
    client.cookies.clear()
    await sign_in_as(client, "hanako@example.jp", Role.MEMBER, tenant, household_id=roster["hanako"]["id"])
    headers = await csrf_headers(client)
    page = await client.post("/a/sakura/my/members", headers=headers, data={"name": long_name, "relation": "母"})
    assert page.status_code == 400 and f'value="{long_name}"' in page.text and 'value="母"' in page.text

    await client.post("/a/sakura/my/members", headers=headers, data={"name": "仮野 秋代", "relation": "母"})
    added = await tenant.select(Member).where(Member.name == "仮野 秋代").first()
    assert "本当にはずす" in (await client.get("/a/sakura/my")).text
    # One tap without the tick removes nobody and says what to do.
    page = await client.post(f"/a/sakura/my/members/{added['id']}/delete", headers=headers)
    assert page.status_code == 400 and "「本当にはずす」に印をつけて" in page.text
    assert await tenant.count(Member).where(Member.id == added["id"]) == 1
    response = await client.post(f"/a/sakura/my/members/{added['id']}/delete", headers=headers, data={"confirm": "1"})
    assert response.status_code == 303
    assert await tenant.count(Member).where(Member.id == added["id"]) == 0
