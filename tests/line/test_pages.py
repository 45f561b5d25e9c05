"""Officer pages and API: link codes, the LINE settings page with quota, the quota check before a send."""

from __future__ import annotations

from chonaikai.accounts.tables import SignInToken
from chonaikai.delivery.tables import Delivery
from chonaikai.line.links import hash_code
from chonaikai.line.quota import check_notice, send_rest_another_way
from chonaikai.roster.tables import Han
from tests.auth import csrf_headers, sign_in_as
from tests.delivery.helpers import make_notice
from tests.factories import make_household
from tests.line.helpers import line_jobs, linked_households


async def test_api_issues_a_code_for_officers_only(client, line_tenant, fake_line):
    from chonaikai.accounts.api_tokens import create_token

    household = await make_household(line_tenant, "見本 太郎", han="1班")
    url = f"/api/v1/associations/{line_tenant.slug}/households/{household['id']}/line-code"
    assert (await client.post(url)).status_code == 401
    # /api/ takes bearer tokens only (a session cookie opens nothing there, tests/hardening)
    editor = (await create_token(role="editor", association_slug=line_tenant.slug)).secret
    assert (await client.post(url, headers={"authorization": f"Bearer {editor}"})).status_code == 403

    chair = {"authorization": f"Bearer {(await create_token(role='chair', association_slug=line_tenant.slug)).secret}"}
    response = await client.post(url, headers=chair)
    assert response.status_code == 201, response.text
    code = response.json()["code"]
    assert len(code) == 9 and code[4] == "-"
    token = await SignInToken.select().where(SignInToken.secret_hash == hash_code(code.replace("-", ""))).first()
    assert token["household"] == household["id"] and token["purpose"] == "line_code"
    # Another association's household is not reachable through this one.
    missing = f"/api/v1/associations/{line_tenant.slug}/households/999999/line-code"
    assert (await client.post(missing, headers=chair)).status_code == 404


async def test_han_leader_issues_codes_only_in_their_han(client, line_tenant, fake_line):
    mine = await make_household(line_tenant, "一班 世帯", han="1班")
    other = await make_household(line_tenant, "二班 世帯", han="2班")
    han = await line_tenant.select(Han, Han.id).where(Han.name == "1班").first()
    await sign_in_as(client, "han@example.jp", "han_leader", line_tenant, han_id=han["id"])
    page = await client.get(f"/a/{line_tenant.slug}/households/{mine['id']}/line-code")
    assert page.status_code == 200 and "コードを発行する" in page.text
    response = await client.post(f"/a/{line_tenant.slug}/households/{mine['id']}/line-code", headers=await csrf_headers(client))
    assert response.status_code == 200 and "14日間" in response.text and 'class="line-code"' in response.text
    response = await client.post(f"/a/{line_tenant.slug}/households/{other['id']}/line-code", headers=await csrf_headers(client))
    assert response.status_code == 404


async def test_settings_page_shows_quota_use(client, line_tenant, fake_line):
    await linked_households(line_tenant, fake_line, 2)
    fake_line.set_quota(limit=5000, used=1234)
    await sign_in_as(client, "chair@example.jp", "chair", line_tenant)
    page = await client.get(f"/a/{line_tenant.slug}/settings/line")
    assert page.status_code == 200
    assert "1234" in page.text and "5000" in page.text
    assert '<strong class="line-remaining">3766</strong>' in page.text
    assert "2人" in page.text


async def test_check_links_turns_off_users_who_blocked(client, line_tenant, fake_line):
    households = await linked_households(line_tenant, fake_line, 2)
    fake_line.block(households[0][1][0])
    await sign_in_as(client, "chair@example.jp", "chair", line_tenant)
    page = await client.post(f"/a/{line_tenant.slug}/settings/line/check", headers=await csrf_headers(client))
    assert page.status_code == 200 and "1 件" in page.text
    assert "紙の回覧板" in page.text  # the change is listed for officers


async def test_quota_warning_before_a_send_that_would_exceed_it(client, line_tenant, fake_line):
    households = await linked_households(line_tenant, fake_line, 6, email=False)
    # Give two of them an e-mail address: they go by mail when LINE cannot take them.
    from chonaikai.roster.tables import Household
    for household_id, _ in households[4:]:
        await line_tenant.update(Household, {Household.email: f"h{household_id}@example.jp"}).where(Household.id == household_id)
    fake_line.set_quota(limit=200, used=197)
    notice_id = await make_notice(line_tenant, title="総会のお知らせ")
    await line_jobs(line_tenant, notice_id)

    check = await check_notice(line_tenant, notice_id)
    assert (check.needed, check.remaining, check.enough) == (6, 3, False)

    await sign_in_as(client, "chair@example.jp", "chair", line_tenant)
    page = await client.get(f"/a/{line_tenant.slug}/notices/{notice_id}/line-quota")
    assert '<strong class="line-needed">6</strong>' in page.text
    assert '<strong class="line-remaining">3</strong>' in page.text
    assert "3 通足りません" in page.text

    page = await client.post(f"/a/{line_tenant.slug}/notices/{notice_id}/line-quota", headers=await csrf_headers(client))
    assert page.status_code == 200
    assert "LINEで 3 世帯、メールで 2 世帯、紙の回覧板で 1 世帯" in page.text
    channels = [row["channel"] for row in await line_tenant.select(Delivery, Delivery.channel).where(Delivery.notice == notice_id).order_by(Delivery.id)]
    assert channels == ["line", "line", "line", "paper", "email", "email"]
    assert (await check_notice(line_tenant, notice_id)).enough


async def test_enough_quota_changes_nothing(line_tenant, fake_line):
    await linked_households(line_tenant, fake_line, 2)
    fake_line.set_quota(limit=200, used=0)
    notice_id = await make_notice(line_tenant)
    await line_jobs(line_tenant, notice_id)
    assert (await check_notice(line_tenant, notice_id)).enough
    assert await send_rest_another_way(line_tenant, notice_id, 200) == {"line": 2, "email": 0, "paper": 0}


async def test_printed_sign_in_card_carries_a_line_link_code_that_links(client, line_tenant):
    import re

    from chonaikai.line.config import channel_id_for_association
    from chonaikai.line.links import find_code, link_with_code

    household = await make_household(line_tenant, "見本 太郎", han="1班", channel="paper")
    await sign_in_as(client, "kaicho@example.jp", "chair", line_tenant)
    page = await client.post(f"/a/line-town/roster/{household['id']}/card", headers=await csrf_headers(client))
    assert page.status_code == 200 and "LINEでお知らせを受け取るには" in page.text
    codes = re.findall(r'<p class="card-code">([^<]+)</p>', page.text)
    assert len(codes) == 2  # the sign-in code and the LINE code
    channel_id = await channel_id_for_association(line_tenant.id)
    result = await link_with_code(channel_id, "U" + "1" * 32, find_code(codes[1]))  # as the webhook reads it
    assert result.ok and result.household["id"] == household["id"]


async def test_card_of_an_association_without_line_has_no_line_code(client, tenant):
    household = await make_household(tenant, "例田 花子", han="1班", channel="paper")
    await sign_in_as(client, "kaicho@example.jp", "chair", tenant)
    page = await client.post(f"/a/sakura/roster/{household['id']}/card", headers=await csrf_headers(client))
    assert page.status_code == 200 and "LINEでお知らせ" not in page.text
