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
