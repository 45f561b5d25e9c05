"""「読みました」: recorded in the household's Delivery row, by a plain form post or by htmx."""

from chonaikai.accounts.roles import Role
from chonaikai.delivery.tables import Delivery
from chonaikai.notices import logic
from tests.auth import csrf_headers, sign_in_as
from tests.factories import make_household
from tests.notices.helpers import post_notice, sign_in_member


async def delivery_of(tenant, notice_id, household_id):
    return (
        await tenant.select(Delivery)
        .where(Delivery.notice == notice_id)
        .where(Delivery.household == household_id)
        .first()
    )


async def test_confirm_by_plain_form_post(client, tenant):
    household = await make_household(tenant, "山田", han="1班", channel="email", email="yamada@example.jp")
    household_id = household["id"]
    await sign_in_as(client, "yamada@example.jp", Role.MEMBER, tenant, household_id=household_id)
    notice_id = await post_notice(tenant, "総会", needs_confirmation=True)  # household exists: a delivery is made
    page = await client.get(f"/a/sakura/notices/{notice_id}")
    assert "読みました</button>" in page.text
    response = await client.post(f"/a/sakura/notices/{notice_id}/confirm", headers=await csrf_headers(client))
    assert response.status_code == 303
    assert response.headers["location"] == f"/a/sakura/notices/{notice_id}#confirm"
    row = await delivery_of(tenant, notice_id, household_id)
    assert row["confirmed_at"] is not None and row["confirmed_via"] == "web"
    assert row["status"] == "pending" and row["channel"] == "email"  # the outbox row itself, untouched otherwise
    page = await client.get(f"/a/sakura/notices/{notice_id}")
    assert "確認しました" in page.text and "読みました</button>" not in page.text


async def test_confirm_by_htmx_swaps_the_button(client, tenant):
    household_id = await sign_in_member(client, tenant, "1班")
    notice_id = await post_notice(tenant, "会費", needs_confirmation=True)
    response = await client.post(
        f"/a/sakura/notices/{notice_id}/confirm", headers={**await csrf_headers(client), "HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="confirm"')
    assert "確認しました" in response.text and "<button" not in response.text
    assert (await delivery_of(tenant, notice_id, household_id))["confirmed_via"] == "web"


async def test_confirm_creates_the_delivery_row_when_publishing_made_none(client, tenant):
    notice_id = await post_notice(tenant, "総会", needs_confirmation=True)  # no households yet
    household_id = await sign_in_member(client, tenant, "1班", channel="line")
    assert await delivery_of(tenant, notice_id, household_id) is None
    response = await client.post(f"/a/sakura/notices/{notice_id}/confirm", headers=await csrf_headers(client))
    assert response.status_code == 303
    row = await delivery_of(tenant, notice_id, household_id)
    assert row["channel"] == "line" and row["confirmed_via"] == "web" and row["confirmed_at"] is not None
    assert row["status"] == "sent"  # read already: the worker must not send it again
    assert len(row["token"]) >= 22


async def test_confirming_twice_keeps_the_first_time(tenant):
    row = await make_household(tenant, "山田", han="1班")
    notice_id = await post_notice(tenant, "総会", needs_confirmation=True)
    first = await logic.confirm_notice(tenant, row["id"], notice_id)
    second = await logic.confirm_notice(tenant, row["id"], notice_id)
    assert first == second
    assert await tenant.count(Delivery).where(Delivery.notice == notice_id) == 1


async def test_strangers_and_officers_without_a_household_cannot_confirm(client, tenant):
    notice_id = await post_notice(tenant, "総会", needs_confirmation=True, visibility="public")
    page = await client.get(f"/a/sakura/notices/{notice_id}")
    assert "ログイン</a>すると「読みました」を押せます" in page.text
    response = await client.post(
        f"/a/sakura/notices/{notice_id}/confirm", headers={**await csrf_headers(client), "accept": "text/html"}
    )
    assert response.status_code == 403  # public notice: readable, but there is no household to record
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    response = await client.post(f"/a/sakura/notices/{notice_id}/confirm", headers=await csrf_headers(client))
    assert response.status_code == 403
    assert await tenant.count(Delivery) == 0


async def test_a_household_outside_the_audience_cannot_confirm(client, tenant):
    notice_id = await post_notice(tenant, "1班の当番", han=["1班"], needs_confirmation=True)
    await sign_in_member(client, tenant, "2班")
    response = await client.post(f"/a/sakura/notices/{notice_id}/confirm", headers=await csrf_headers(client))
    assert response.status_code == 403
    assert await tenant.count(Delivery) == 0


async def test_no_button_without_a_confirmation_request(client, tenant):
    await sign_in_member(client, tenant, "1班")
    notice_id = await post_notice(tenant, "お知らせ")
    page = await client.get(f"/a/sakura/notices/{notice_id}")
    assert "読みました" not in page.text
