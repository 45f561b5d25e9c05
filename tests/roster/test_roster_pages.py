"""The roster for officers: search, filters, counts, add, edit, move, moved out, erase, audit."""

from __future__ import annotations

from chonaikai.accounts.roles import Role
from chonaikai.accounts.tables import AuditEntry, SignInToken
from chonaikai.roster.tables import Han, Household, Member
from tests.auth import csrf_headers, sign_in_as
from tests.roster.conftest import han_id


async def chair(client, tenant) -> int:
    return await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)


async def test_search_by_name_or_kana_in_either_script(client, tenant, roster):
    await chair(client, tenant)
    for query in ("みほん", "ミホン", "ﾐﾎﾝ", "見本太郎", "見本 太郎"):
        page = await client.get("/a/sakura/roster", params={"q": query})
        assert "見本 太郎" in page.text and "仮野 花子" not in page.text, query
    nobody = await client.get("/a/sakura/roster", params={"q": "存在しない"})
    assert "あてはまる世帯はありません" in nobody.text


async def test_search_finds_a_household_by_a_member(client, tenant, roster):
    await chair(client, tenant)
    await Member.insert(tenant.new(Member, household=roster["hanako"]["id"], name="仮野 次郎", kana="カリノ ジロウ"))
    page = await client.get("/a/sakura/roster", params={"q": "じろう"})
    assert "仮野 花子" in page.text and "見本 太郎" not in page.text


async def test_filter_by_han_and_channel_and_counts(client, tenant, roster):
    await chair(client, tenant)
    han2 = await han_id(tenant, "2班")
    page = await client.get("/a/sakura/roster", params={"han": str(han2)})
    assert "例田 一郎" in page.text and "見本 太郎" not in page.text
    page = await client.get("/a/sakura/roster", params={"channel": "paper"})
    assert "仮野 花子" in page.text and "見本 太郎" not in page.text and "例田" not in page.text
    # Counts at the top: 2 in 1班, 1 in 2班, 0 in 3班; per channel as really reached (issue 15):
    # 例田 chose LINE but has no LINE linked, so paper reaches two households and LINE none.
    page = await client.get("/a/sakura/roster")
    assert "3 世帯" in page.text
    assert ">1班</a> <strong>2</strong>" in page.text
    assert ">2班</a> <strong>1</strong>" in page.text
    assert ">3班</a> <strong>0</strong>" in page.text
    assert ">メールで届く</a> <strong>1</strong>" in page.text
    assert ">LINEで届く</a> <strong>0</strong>" in page.text
    assert ">紙で届く</a> <strong>2</strong>" in page.text


async def test_htmx_search_returns_only_the_results_fragment(client, tenant, roster):
    await chair(client, tenant)
    page = await client.get("/a/sakura/roster", params={"q": "れいだ"}, headers={"HX-Request": "true"})
    assert page.status_code == 200
    assert "<html" not in page.text and "例田 一郎" in page.text and "見本" not in page.text
    full = await client.get("/a/sakura/roster", params={"q": "れいだ"})
    assert "<html" in full.text and 'hx-get="/a/sakura/roster"' in full.text


async def test_add_household_records_who_and_when(client, tenant, roster):
    account_id = await chair(client, tenant)
    han3 = await han_id(tenant, "3班")
    response = await client.post(
        "/a/sakura/roster/new",
        data={"name": "試山 次郎", "kana": "ためしやま じろう", "han": str(han3), "channel": "paper", "phone": "０２４−１１１"},
        headers=await csrf_headers(client),
    )
    assert response.status_code == 303
    row = await tenant.select(Household).where(Household.name == "試山 次郎").first()
    assert row["kana"] == "タメシヤマ ジロウ"  # hiragana stored as katakana
    assert row["phone"] == "024-111"  # full-width digits folded
    assert row["han"] == han3 and row["updated_by"] == account_id
    assert await tenant.count(Member).where(Member.household == row["id"]) == 1
    entry = await AuditEntry.select().where(AuditEntry.action == "household.create").first()
    assert entry["account"] == account_id and entry["household"] == row["id"]


async def test_bad_input_changes_nothing_and_says_why(client, tenant, roster):
    await chair(client, tenant)
    before = await tenant.count(Household)
    response = await client.post(
        "/a/sakura/roster/new",
        data={"name": "", "channel": "email", "email": ""},
        headers=await csrf_headers(client),
    )
    assert response.status_code == 400
    assert "世帯主の名前を入れてください" in response.text
    assert "メールアドレスを入れてください" in response.text
    response = await client.post(
        "/a/sakura/roster/new", data={"name": "x", "channel": "fax", "email": "not-an-address"},
        headers=await csrf_headers(client),
    )
    assert response.status_code == 400 and "連絡方法を選んでください" in response.text
    assert "メールアドレスの形ではありません" in response.text
    assert await tenant.count(Household) == before


async def test_edit_and_move_between_han_are_audited(client, tenant, roster):
    account_id = await chair(client, tenant)
    taro = roster["taro"]
    han2 = await han_id(tenant, "2班")
    form = {"name": "見本 太郎", "kana": "ミホン タロウ", "han": str(han2), "address": "桜町1-1",
            "phone": "024-000-0001", "email": "taro@example.jp", "channel": "email", "notes": ""}
    response = await client.post(f"/a/sakura/roster/{taro['id']}", data=form, headers=await csrf_headers(client))
    assert response.status_code == 303 and response.headers["location"].endswith("saved=1")
    row = await tenant.select(Household).where(Household.id == taro["id"]).first()
    assert row["han"] == han2 and row["updated_by"] == account_id
    move = await AuditEntry.select().where(AuditEntry.action == "household.move").first()
    assert move["account"] == account_id and "1班 → 2班" in move["detail"]
    # Saving the same values again changes nothing and writes no entry.
    again = await client.post(f"/a/sakura/roster/{taro['id']}", data=form, headers=await csrf_headers(client))
    assert again.headers["location"].endswith("saved=0")
    assert await AuditEntry.count().where(AuditEntry.action.is_in(["household.move", "household.update"])) == 1
    # The page says who changed it last.
    page = await client.get(f"/a/sakura/roster/{taro['id']}")
    assert "kaicho@example.jp" in page.text


async def test_moved_out_household_is_kept_but_listed_apart(client, tenant, roster):
    await chair(client, tenant)
    taro = roster["taro"]
    response = await client.post(
        f"/a/sakura/roster/{taro['id']}/moved-out", data={"moved_out": "1"}, headers=await csrf_headers(client)
    )
    assert response.status_code == 303
    row = await tenant.select(Household).where(Household.id == taro["id"]).first()
    assert row["moved_out"] is True and row["name"] == "見本 太郎"
    page = await client.get("/a/sakura/roster")
    assert "見本 太郎" not in page.text and "転出した世帯 1" in page.text
    moved = await client.get("/a/sakura/roster", params={"moved_out": "1"})
    assert "見本 太郎" in moved.text
    assert await AuditEntry.count().where(AuditEntry.action == "household.moved_out") == 1


async def test_erase_keeps_an_anonymous_row(client, tenant, roster):
    await chair(client, tenant)
    taro = roster["taro"]
    headers = await csrf_headers(client)
    # Only a household that moved out can be erased.
    refused = await client.post(f"/a/sakura/roster/{taro['id']}/erase", data={"confirm": "1"}, headers=headers)
    assert refused.status_code == 404
    await client.post(f"/a/sakura/roster/{taro['id']}/moved-out", data={"moved_out": "1"}, headers=headers)
    await client.post(f"/a/sakura/roster/{taro['id']}/card", headers=headers)
    assert await SignInToken.count().where(SignInToken.household == taro["id"]) == 0  # moved out: no card
    response = await client.post(f"/a/sakura/roster/{taro['id']}/erase", data={"confirm": "1"}, headers=headers)
    assert response.status_code == 303
    row = await tenant.select(Household).where(Household.id == taro["id"]).first()
    assert row["erased_at"] is not None and row["moved_out"]
    assert "見本" not in row["name"] and row["email"] == row["phone"] == row["address"] == row["kana"] == ""
    assert await tenant.count(Member).where(Member.household == taro["id"]) == 0
    assert await tenant.count(Household) == 3  # still counted
    # Nothing personal is left in the audit log either.
    details = " ".join(r["detail"] for r in await AuditEntry.select(AuditEntry.detail))
    assert "見本" not in details and "taro@" not in details


async def test_han_leader_sees_and_edits_only_their_han(client, tenant, roster):
    han1 = await han_id(tenant, "1班")
    han2 = await han_id(tenant, "2班")
    await sign_in_as(client, "hancho@example.jp", Role.HAN_LEADER, tenant, han_id=han1)
    page = await client.get("/a/sakura/roster")
    assert "見本 太郎" in page.text and "仮野 花子" in page.text and "例田 一郎" not in page.text
    assert "2 世帯" in page.text and ">2班</a>" not in page.text  # counts only for their 班
    # Asking for another 班 by filter shows nothing.
    page = await client.get("/a/sakura/roster", params={"han": str(han2)})
    assert "例田" not in page.text
    # Another 班's household: not found, to read or to change.
    ichiro = roster["ichiro"]["id"]
    assert (await client.get(f"/a/sakura/roster/{ichiro}")).status_code == 404
    headers = await csrf_headers(client)
    changed = await client.post(f"/a/sakura/roster/{ichiro}", data={"name": "乗っ取り", "han": str(han1), "channel": "paper"}, headers=headers)
    assert changed.status_code == 404
    assert (await client.post(f"/a/sakura/roster/{ichiro}/moved-out", data={"moved_out": "1"}, headers=headers)).status_code == 404
    assert (await client.post(f"/a/sakura/roster/{ichiro}/card", headers=headers)).status_code == 404
    # Moving their own household out of their 班, or adding to another 班, is refused.
    taro = roster["taro"]["id"]
    moved = await client.post(f"/a/sakura/roster/{taro}", data={"name": "見本 太郎", "han": str(han2), "channel": "paper"}, headers=headers)
    assert moved.status_code == 400 and "ご自分の班" in moved.text
    added = await client.post("/a/sakura/roster/new", data={"name": "他班 世帯", "han": str(han2), "channel": "paper"}, headers=headers)
    assert added.status_code == 400
    unassigned = await client.post("/a/sakura/roster/new", data={"name": "他班 世帯", "han": "none", "channel": "paper"}, headers=headers)
    assert unassigned.status_code == 400
    # Export covers their 班 only.
    export = await client.get("/a/sakura/roster/export.csv")
    assert export.status_code == 200 and "見本 太郎" in export.text and "例田" not in export.text
    rows = await tenant.select(Household, Household.name, Household.han).where(Household.id == ichiro).first()
    assert rows == {"name": "例田 一郎", "han": han2}
    # But their own households they can edit.
    ok = await client.post(f"/a/sakura/roster/{taro}", data={"name": "見本 太郎", "han": str(han1), "channel": "paper"}, headers=headers)
    assert ok.status_code == 303
    added = await client.post("/a/sakura/roster/new", data={"name": "新入 世帯", "han": str(han1), "channel": "paper"}, headers=headers)
    assert added.status_code == 303


async def test_han_leader_without_a_han_sees_nothing(client, tenant, roster):
    await sign_in_as(client, "lost@example.jp", Role.HAN_LEADER, tenant)
    page = await client.get("/a/sakura/roster")
    assert page.status_code == 200 and "見本" not in page.text and "0 世帯" in page.text


async def test_members_added_and_removed(client, tenant, roster):
    await chair(client, tenant)
    hid = roster["hanako"]["id"]
    headers = await csrf_headers(client)
    response = await client.post(f"/a/sakura/roster/{hid}/members", data={"name": "仮野 三郎", "relation": "子"}, headers=headers)
    assert response.status_code == 303
    member = await tenant.select(Member).where(Member.name == "仮野 三郎").first()
    assert member["household"] == hid
    page = await client.get(f"/a/sakura/roster/{hid}")
    assert "仮野 三郎" in page.text
    await client.post(f"/a/sakura/roster/{hid}/members/{member['id']}/delete", headers=headers)
    assert await tenant.count(Member).where(Member.name == "仮野 三郎") == 0
    empty = await client.post(f"/a/sakura/roster/{hid}/members", data={"name": " "}, headers=headers)
    assert empty.status_code == 400 and "名前を入れてください" in empty.text


async def test_viewing_and_exporting_are_audited(client, tenant, roster):
    account_id = await chair(client, tenant)
    await client.get("/a/sakura/roster", params={"q": "みほん"})
    await client.get(f"/a/sakura/roster/{roster['taro']['id']}")
    await client.get("/a/sakura/roster/export.csv")
    actions = [r["action"] for r in await AuditEntry.select(AuditEntry.action).where(AuditEntry.account == account_id).order_by(AuditEntry.id)]
    assert actions == ["roster.view", "household.view", "roster.export"]
    log = await client.get("/a/sakura/audit")
    assert log.status_code == 200
    assert "名簿を見た" in log.text and "名簿を書き出した" in log.text and "kaicho@example.jp" in log.text


async def test_audit_log_is_per_association(client, tenant, roster, other):
    await sign_in_as(client, "kawa@example.jp", Role.CHAIR, other)
    await client.get("/a/kawa/roster")
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    await client.get("/a/sakura/roster")
    log = await client.get("/a/sakura/audit")
    assert "kawa@example.jp" not in log.text and "kaicho@example.jp" in log.text


async def test_han_of_other_association_cannot_be_assigned(client, tenant, roster, other):
    await chair(client, tenant)
    foreign = await other.select(Han, Han.id).first()
    response = await client.post(
        "/a/sakura/roster/new", data={"name": "越境 世帯", "han": str(foreign["id"]), "channel": "paper"},
        headers=await csrf_headers(client),
    )
    assert response.status_code == 400 and "班を選び直してください" in response.text
