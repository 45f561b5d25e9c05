"""The receipts page on a phone: one card per household, 未確認 first."""

from __future__ import annotations

from chonaikai.accounts.roles import Role
from chonaikai.delivery.outbox import create_deliveries
from chonaikai.delivery.tables import Delivery
from tests.auth import sign_in_as
from tests.delivery.helpers import make_notice
from tests.factories import make_household


async def test_receipts_cards_put_unconfirmed_households_first(client, tenant):
    from datetime import UTC, datetime

    households = [await make_household(tenant, name, han="1班", channel="paper") for name in ("相川", "井上", "宇野")]
    notice = await make_notice(tenant, title="回覧")
    await create_deliveries(notice)
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    url = f"/a/{tenant.slug}/notices/{notice}/receipts"

    def names_in_order(page: str) -> list[str]:
        cards = page.split('class="receipt-cards"', 1)[1]
        return sorted(("相川", "井上", "宇野"), key=cards.index)

    first = names_in_order((await client.get(url)).text)[0]
    household = next(h for h in households if h["name"] == first)
    await Delivery.update({Delivery.confirmed_at: datetime.now(UTC), Delivery.confirmed_via: "officer"}).where(
        Delivery.household == household["id"]
    )
    assert names_in_order((await client.get(url)).text)[-1] == first  # 確認済み after every 未確認


async def test_cards_tell_same_name_households_apart_and_filter_by_state(client, tenant):
    from datetime import UTC, datetime

    a = await make_household(tenant, "佐藤", han="1班", channel="paper", address="見本市桜ヶ丘町一丁目3番地の12号")
    await make_household(tenant, "佐藤", han="1班", channel="email", email="sato@example.jp", address="桜町5-7")
    notice = await make_notice(tenant, title="回覧")
    await create_deliveries(notice)
    await Delivery.update({Delivery.confirmed_at: datetime.now(UTC), Delivery.confirmed_via: "officer"}).where(
        Delivery.household == a["id"]
    )
    await Delivery.update({Delivery.status: "failed", Delivery.last_error: "宛先がありません"}).where(
        Delivery.channel == "email"
    )
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    url = f"/a/{tenant.slug}/notices/{notice}/receipts"
    page = (await client.get(url)).text
    assert "…町一丁目3番地の12号" in page and "桜町5-7" in page  # the end of the address: the 号
    assert 'name="show"' in page
    confirmed = (await client.get(f"{url}?show=confirmed")).text.split('class="receipt-cards"', 1)[1]
    assert "3番地の12号" in confirmed and "桜町5-7" not in confirmed
    failed = (await client.get(f"{url}?show=failed")).text.split('class="receipt-cards"', 1)[1]
    assert "桜町5-7" in failed and "3番地の12号" not in failed
    unconfirmed = (await client.get(f"{url}?show=unconfirmed")).text.split('class="receipt-cards"', 1)[1]
    assert "桜町5-7" in unconfirmed and "3番地の12号" not in unconfirmed
