"""The reminder for paper households: a reprint list of just those who have not confirmed, per 班."""

from __future__ import annotations

from datetime import UTC, datetime

from chonaikai.accounts.roles import Role
from chonaikai.delivery.tables import Delivery
from tests.auth import sign_in_as
from tests.print.rows import make_town
from tests.print.test_sheets import sheet_names


async def test_reprint_list_keeps_only_unconfirmed_paper_households(client, tenant):
    town = await make_town(tenant)
    await Delivery.update({Delivery.confirmed_at: datetime.now(UTC), Delivery.confirmed_via: "paper"}).where(
        Delivery.household == town.households["青木"])
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    base = f"/a/{tenant.slug}/notices/{town.notice['id']}/print"
    full = (await client.get(f"{base}?han={town.han['1班']}&paper=1")).text
    assert sheet_names(full) == ["青木", "上田"]
    again = await client.get(f"{base}?han={town.han['1班']}&paper=1&unconfirmed=1")
    assert sheet_names(again.text) == ["上田"]
    assert "まだ確認のない世帯・もう一度お届け" in again.text
    # Every 班 at once: only 班 with someone left get a page (大野 in 2班, 木村 without a 班).
    every = (await client.get(f"{base}?han=all&paper=1&unconfirmed=1")).text
    assert sheet_names(every) == ["上田", "大野", "木村"]
    pdf = await client.get(f"{base}.pdf?han=all&paper=1&unconfirmed=1")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
