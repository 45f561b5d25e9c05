"""LINE is shown as it really is: the effective channel on every page and in the API (issue 15, part 4)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from chonaikai.accounts.api_tokens import create_token
from chonaikai.accounts.roles import Role
from chonaikai.accounts.tables import SignInToken
from chonaikai.delivery.tables import Delivery
from chonaikai.line.tables import LineLink
from chonaikai.roster import reach
from chonaikai.roster.tables import Household
from tests.auth import csrf_headers, sign_in_as
from tests.factories import make_association, make_household

FALLBACK_TEXT = "LINE（まだつながっていません）→ 紙で届きます"


async def link_line(tenant, household_id: int, user: str = "U0001", active: bool = True) -> None:
    await LineLink.insert(tenant.new(LineLink, household=household_id, channel_id="1650000001", line_user_id=user,
                                     active=active, linked_at=datetime.now(UTC)))


async def households(tenant):
    """Every combination the rule distinguishes."""
    rows = {
        "mail": await make_household(tenant, "メール 有", "1班", channel="email", email="a@example.jp"),
        "mail_none": await make_household(tenant, "メール 無", "1班", channel="email", email=""),
        "line_linked": await make_household(tenant, "LINE 済", "1班", channel="line"),
        "line_unlinked": await make_household(tenant, "LINE 未", "2班", channel="line"),
        "line_blocked": await make_household(tenant, "LINE 止", "2班", channel="line"),
        "paper": await make_household(tenant, "紙 一", "2班", channel="paper", email="p@example.jp"),
    }
    await link_line(tenant, rows["line_linked"]["id"], "U1")
    await link_line(tenant, rows["line_blocked"]["id"], "U2", active=False)
    return rows


EXPECTED = {"mail": "email", "mail_none": "paper", "line_linked": "line", "line_unlinked": "paper",
            "line_blocked": "paper", "paper": "paper"}


async def test_python_and_sql_forms_of_the_rule_agree(tenant):
    rows = await households(tenant)
    annotated = await reach.annotate(tenant, [await tenant.select(Household).where(Household.id == r["id"]).first()
                                              for r in rows.values()])
    by_python = {key: row["effective_channel"] for key, row in zip(rows, annotated, strict=True)}
    assert by_python == EXPECTED
    sql_rows = await Household.raw(
        f"SELECT h.id AS id, {reach.effective_channel_sql('h')} AS c FROM household h WHERE h.association = {{}}",
        tenant.id,
    ).run()
    by_sql = {row["id"]: row["c"] for row in sql_rows}
    assert {key: by_sql[row["id"]] for key, row in rows.items()} == EXPECTED


async def test_deliveries_go_the_way_the_roster_says(client, tenant):
    """The channel the delivery core gives each household is the effective channel shown to officers."""
    from chonaikai.notices import logic
    from chonaikai.notices.logic import NoticeInput

    rows = await households(tenant)
    notice_id = await logic.create_notice(tenant, NoticeInput(title="回覧", body="本文", category="行事"))
    await logic.publish_notice(tenant, notice_id)
    delivered = {row["household"]: row["channel"] for row in await tenant.select(Delivery, Delivery.household, Delivery.channel)}
    assert {key: delivered[row["id"]] for key, row in rows.items()} == EXPECTED


async def test_roster_counts_and_household_page_show_the_effective_channel(client, tenant):
    rows = await households(tenant)
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    page = await client.get("/a/sakura/roster")
    assert page.text.count(FALLBACK_TEXT) == 2  # unlinked and blocked
    assert "メール（アドレスがありません）→ 紙で届きます" in page.text
    assert ">LINEで届く</a> <strong>1</strong>" in page.text
    assert ">紙で届く</a> <strong>4</strong>" in page.text
    assert re.search(r"LINEを選んだ <strong>2 世帯</strong>は、まだLINEがつながっていないため紙で届きます", page.text)

    only = await client.get("/a/sakura/roster", params={"channel": "line", "reached": "paper"})
    assert "LINE 未" in only.text and "LINE 止" in only.text and "LINE 済" not in only.text

    household = await client.get(f"/a/sakura/roster/{rows['line_unlinked']['id']}")
    assert f"いまの届き方: <strong>{FALLBACK_TEXT}</strong>" in household.text
    linked = await client.get(f"/a/sakura/roster/{rows['line_linked']['id']}")
    assert "いまの届き方: <strong>LINE</strong>" in linked.text


async def test_member_sees_their_own_effective_channel(client, tenant):
    from chonaikai.roster.cards import issue_card
    from tests.auth import make_account

    household = await make_household(tenant, "LINE 未", "1班", channel="line")
    actor_id = await make_account("kaicho@example.jp", Role.CHAIR, tenant)
    from chonaikai.accounts.principal import load_principal

    card = await issue_card(tenant, await load_principal(actor_id), household["id"])
    await client.post(f"/card/{card.secret}", headers=await csrf_headers(client))
    page = await client.get("/a/sakura/my")
    assert page.status_code == 200 and FALLBACK_TEXT in page.text and "LINE登録コード" in page.text
    await link_line(tenant, household["id"])
    page = await client.get("/a/sakura/my")
    assert FALLBACK_TEXT not in page.text and "いまの届き方: <strong>LINE</strong>" in page.text


async def test_api_reports_chosen_and_effective_channel(client, tenant):
    rows = await households(tenant)
    token = (await create_token(role="chair", association_slug="sakura")).secret
    response = await client.get("/api/v1/associations/sakura/households", headers={"authorization": f"Bearer {token}"})
    got = {h["id"]: h for h in response.json()["households"]}
    unlinked = got[rows["line_unlinked"]["id"]]
    assert (unlinked["channel"], unlinked["effective_channel"], unlinked["line_linked"]) == ("line", "paper", False)
    linked = got[rows["line_linked"]["id"]]
    assert (linked["channel"], linked["effective_channel"], linked["line_linked"]) == ("line", "line", True)
    assert got[rows["mail_none"]["id"]]["effective_channel"] == "paper"
    assert {key: got[row["id"]]["effective_channel"] for key, row in rows.items()} == EXPECTED


async def test_before_publishing_officers_see_how_many_get_paper_instead_of_line(client, tenant):
    await households(tenant)
    await sign_in_as(client, "kouhou@example.jp", Role.EDITOR, tenant)
    form = {"title": "一斉清掃", "body": "日曜8時", "category": "行事", "audience": "all", "visibility": "members",
            "action": "preview"}
    fragment = await client.post("/a/sakura/notices/preview", data=form,
                                 headers={**await csrf_headers(client), "HX-Request": "true"})
    assert "6 世帯に届きます：メール 1・LINE 1・紙の回覧板 4" in fragment.text
    assert "LINEを選んだ 2 世帯は、まだLINEがつながっていないため<strong>紙で届きます</strong>" in fragment.text
    assert "/a/sakura/roster/cards/line" in fragment.text

    draft = await client.post("/a/sakura/notices/new", data={**form, "action": "draft"}, headers=await csrf_headers(client))
    notice_id = int(draft.headers["location"].split("/")[4])
    page = await client.get(f"/a/sakura/notices/{notice_id}")
    assert "6 世帯に届きます" in page.text and "LINEを選んだ 2 世帯" in page.text

    from chonaikai.roster.tables import Han
    han2 = await tenant.select(Han, Han.id).where(Han.name == "2班").first()
    only2 = await client.post("/a/sakura/notices/preview",
                              data={**form, "audience": "han", "han": str(han2["id"])},
                              headers={**await csrf_headers(client), "HX-Request": "true"})
    assert "3 世帯に届きます：メール 0・LINE 0・紙の回覧板 3" in only2.text


async def test_cards_with_line_codes_for_every_unlinked_line_household(client, city):
    tenant = await make_association(city, slug="sakura", name="テスト桜町内会", han=["1班", "2班"],
                                    line_channel={"channel_id": "1650000001", "access_token_env": "X",
                                                  "channel_secret_env": "Y"})
    rows = await households(tenant)
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    page = await client.get("/a/sakura/roster/cards/line")
    assert page.status_code == 200
    assert "LINE 未" in page.text and "LINE 止" in page.text and "LINE 済" not in page.text
    printed = await client.post("/a/sakura/roster/cards/line", headers=await csrf_headers(client))
    assert printed.status_code == 200
    assert printed.text.count('class="signin-card"') == 2
    assert printed.text.count("LINEでお知らせを受け取るには") == 2
    for key in ("line_unlinked", "line_blocked"):
        purposes = {row["purpose"] for row in await SignInToken.select(SignInToken.purpose).where(
            SignInToken.household == rows[key]["id"])}
        assert "card" in purposes and len(purposes) == 2  # the sign-in card and the LINE link code


async def test_han_leader_prints_cards_for_their_han_only(client, tenant):
    from chonaikai.roster.tables import Han

    await households(tenant)
    han1 = await tenant.select(Han, Han.id).where(Han.name == "1班").first()
    await sign_in_as(client, "han1@example.jp", Role.HAN_LEADER, tenant, han_id=han1["id"])
    page = await client.get("/a/sakura/roster/cards/line")
    assert "LINEを選んでいて、まだつながっていない世帯はありません" in page.text  # both unlinked are in 2班
    printed = await client.post("/a/sakura/roster/cards/line", headers=await csrf_headers(client))
    assert printed.text.count('class="signin-card"') == 0
