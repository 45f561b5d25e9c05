"""Row helpers for LINE tests."""

from __future__ import annotations

from datetime import UTC, datetime

from chonaikai.db import insert_many, write_transaction
from chonaikai.delivery.channels import DeliveryJob
from chonaikai.delivery.outbox import create_deliveries
from chonaikai.delivery.tables import Delivery
from chonaikai.devtools.fake_line_server import FakeLineServer
from chonaikai.line.tables import LineLink
from chonaikai.roster.tables import Household
from chonaikai.tenancy.scope import Tenant
from tests.line.conftest import CHANNEL_ID


async def linked_households(tenant: Tenant, fake: FakeLineServer, count: int, users_each: int = 1,
                            email: bool = False) -> list[tuple[int, list[str]]]:
    """``count`` LINE households, each with ``users_each`` befriended, linked LINE users."""
    now = datetime.now(UTC)
    async with write_transaction():
        await insert_many(Household, [
            tenant.new(Household, name=f"LINE世帯{i}", channel="line", email=f"l{i}@example.jp" if email else "",
                       created_at=now, updated_at=now)
            for i in range(count)
        ])
    ids = [row["id"] for row in await tenant.select(Household, Household.id).where(Household.name.like("LINE世帯%")).order_by(Household.id)]
    result, links = [], []
    for household_id in ids[-count:]:
        users = [fake.add_friend() for _ in range(users_each)]
        result.append((household_id, users))
        links.extend(tenant.new(LineLink, household=household_id, channel_id=CHANNEL_ID, line_user_id=user,
                                active=True, linked_at=now) for user in users)
    async with write_transaction():
        await insert_many(LineLink, links)
    return result


async def line_jobs(tenant: Tenant, notice_id: int, *, create: bool = True) -> list[DeliveryJob]:
    """The notice's pending LINE deliveries as the worker hands them to a channel."""
    if create:
        await create_deliveries(notice_id)
    rows = await tenant.select(Delivery).where(
        (Delivery.notice == notice_id) & (Delivery.channel == "line") & Delivery.status.is_in(["pending", "sending"])
    ).order_by(Delivery.id)
    return [
        DeliveryJob(delivery_id=row["id"], association_id=tenant.id, notice_id=notice_id, household_id=row["household"],
                    channel="line", token=row["token"], attempt=row["attempts"] + 1, retry_key=row["retry_key"])
        for row in rows
    ]
