"""The member's own household page: contact details, channel choice, who lives there, download."""

from __future__ import annotations

import json

from chonaikai.accounts.roles import Role
from chonaikai.accounts.tables import AuditEntry
from chonaikai.roster import cards
from chonaikai.roster.tables import Household, Member
from tests.auth import csrf_headers, sign_in_as


async def member(client, tenant, household) -> int:
    return await sign_in_as(client, "hanako@example.jp", Role.MEMBER, tenant, household_id=household["id"])


async def test_member_sees_only_their_household(client, tenant, roster):
    await member(client, tenant, roster["hanako"])
    page = await client.get("/a/sakura/my")
    assert page.status_code == 200
    assert "仮野 花子" in page.text and "見本 太郎" not in page.text and "例田" not in page.text
    assert "1班" in page.text


async def test_member_changes_channel_and_contact(client, tenant, roster):
    account_id = await member(client, tenant, roster["hanako"])
    headers = await csrf_headers(client)
    response = await client.post("/a/sakura/my", data={"phone": "０９０ー１２３４ー５６７８", "email": "Hanako@Example.jp", "channel": "email"}, headers=headers)
    assert response.status_code == 303
    row = await tenant.select(Household).where(Household.id == roster["hanako"]["id"]).first()
    assert (row["phone"], row["email"], row["channel"]) == ("090-1234-5678", "hanako@example.jp", "email")
    assert row["updated_by"] == account_id
    entry = await AuditEntry.select().where(AuditEntry.action == "household.self_update").first()
    assert entry["account"] == account_id and "連絡方法" in entry["detail"]


async def test_member_bad_input_changes_nothing(client, tenant, roster):
    await member(client, tenant, roster["hanako"])
    response = await client.post("/a/sakura/my", data={"email": "", "channel": "email"}, headers=await csrf_headers(client))
    assert response.status_code == 400 and "メールアドレスを入れてください" in response.text
    row = await tenant.select(Household).where(Household.id == roster["hanako"]["id"]).first()
    assert row["channel"] == "paper"


async def test_member_adds_and_removes_family(client, tenant, roster):
    await member(client, tenant, roster["hanako"])
    headers = await csrf_headers(client)
    await client.post("/a/sakura/my/members", data={"name": "仮野 秋代", "relation": "母"}, headers=headers)
    added = await tenant.select(Member).where(Member.name == "仮野 秋代").first()
    assert added["household"] == roster["hanako"]["id"]
    # Someone else's member id cannot be removed from here.
    other = await Member.insert(tenant.new(Member, household=roster["taro"]["id"], name="見本 夏美")).returning(Member.id)
    await client.post(f"/a/sakura/my/members/{other[0]['id']}/delete", data={"confirm": "1"}, headers=headers)
    assert await tenant.count(Member).where(Member.name == "見本 夏美") == 1
    await client.post(f"/a/sakura/my/members/{added['id']}/delete", data={"confirm": "1"}, headers=headers)
    assert await tenant.count(Member).where(Member.name == "仮野 秋代") == 0


async def test_member_downloads_everything_stored(client, tenant, roster):
    from chonaikai.accounts.principal import Principal
    from chonaikai.roster import logic

    await cards.issue_card(tenant, Principal(), roster["hanako"]["id"])  # someone else's card
    await cards.issue_card(tenant, Principal(), roster["taro"]["id"])
    await AuditEntry.delete(force=True)
    await logic.audit(tenant, None, "household.moved_back", "", roster["taro"]["id"])
    await logic.audit(tenant, None, "household.update", "", roster["hanako"]["id"])
    await member(client, tenant, roster["taro"])
    response = await client.get("/a/sakura/my/data.json")
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    data = json.loads(response.content)
    assert data["household"]["世帯主"] == "見本 太郎" and data["household"]["メール"] == "taro@example.jp"
    assert data["household"]["連絡方法"] == "メール"
    assert "仮野" not in response.text
    assert [item["内容"] for item in data["history"]] == ["household.moved_back"]
    assert len(data["sign_in_cards"]) == 1


async def test_member_of_another_association_is_refused_here(client, tenant, roster, other):
    kawa_household = await other.select(Household).first()
    await sign_in_as(client, "kawa-member@example.jp", Role.MEMBER, other, household_id=kawa_household["id"])
    assert (await client.get("/a/sakura/my")).status_code == 403
    assert (await client.get("/a/kawa/my")).status_code == 200


async def test_card_session_reaches_my_page(client, tenant, roster):
    from chonaikai.accounts.principal import Principal

    card = await cards.issue_card(tenant, Principal(), roster["ichiro"]["id"])
    await client.post("/card", data={"code": card.code}, headers=await csrf_headers(client))
    page = await client.get("/a/sakura/my")
    assert page.status_code == 200 and "例田 一郎" in page.text
    headers = await csrf_headers(client)
    await client.post("/a/sakura/my", data={"channel": "paper"}, headers=headers)
    row = await tenant.select(Household).where(Household.id == roster["ichiro"]["id"]).first()
    assert row["channel"] == "paper" and row["updated_by"] is None
