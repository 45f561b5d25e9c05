"""Rows for the paper 回覧板 tests: a small association with paper, e-mail and LINE households,
a published notice and its deliveries (created directly until the delivery outbox is merged)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chonaikai.delivery.tables import Delivery
from chonaikai.notices.tables import Notice, NoticeHan
from chonaikai.roster.tables import Han
from chonaikai.tenancy.scope import Tenant
from tests.factories import make_household


async def make_notice(tenant: Tenant, title: str = "一斉清掃のお知らせ", **values: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    han_names = values.pop("han_names", None)
    row = tenant.new(
        Notice,
        title=title,
        body=values.pop("body", "日時：12月1日（日）午前8時から\n場所：公民館前\n\n軍手をお持ちください。"),
        status=values.pop("status", "published"),
        published_at=values.pop("published_at", now),
        created_at=now,
        updated_at=now,
        **values,
    )
    await row.save()
    if han_names:
        for name in han_names:
            han = await tenant.select(Han, Han.id).where(Han.name == name).first()
            await NoticeHan.insert(tenant.new(NoticeHan, notice=row.id, han=han["id"]))
    return row.to_dict()


async def make_delivery(tenant: Tenant, notice_id: int, household_id: int, channel: str, **values: Any) -> int:
    row = tenant.new(
        Delivery,
        notice=notice_id,
        household=household_id,
        channel=channel,
        token=secrets.token_urlsafe(24),
        created_at=datetime.now(UTC),
        **values,
    )
    await row.save()
    return row.id


async def han_id(tenant: Tenant, name: str) -> int:
    return (await tenant.select(Han, Han.id).where(Han.name == name).first())["id"]


@dataclass
class Town:
    """ids by household name, so tests read like the roster."""

    tenant: Tenant
    notice: dict[str, Any]
    households: dict[str, int] = field(default_factory=dict)
    han: dict[str, int] = field(default_factory=dict)


# name, kana, 班, channel, delivery channel (None: no delivery row), moved out
ROSTER = [
    ("青木", "あおき", "1班", "paper", "paper", False),
    ("井上", "いのうえ", "1班", "email", "email", False),
    ("上田", "うえだ", "1班", "line", "paper", False),  # LINE not linked yet: falls back to paper
    ("江藤", "えとう", "1班", "paper", None, True),  # moved out: on no sheet
    ("大野", "おおの", "2班", "paper", "paper", False),
    ("加藤", "かとう", "2班", "email", "email", False),
    ("木村", "きむら", None, "paper", "paper", False),  # in no 班
]


async def make_town(tenant: Tenant, **notice_values: Any) -> Town:
    notice = await make_notice(tenant, **notice_values)
    town = Town(tenant, notice)
    for name in ("1班", "2班", "3班"):
        town.han[name] = await han_id(tenant, name)
    for name, kana, han, channel, delivery_channel, moved_out in ROSTER:
        household = await make_household(tenant, name, han, channel=channel, moved_out=moved_out, kana=kana)
        town.households[name] = household["id"]
        if delivery_channel:
            await make_delivery(tenant, notice["id"], household["id"], delivery_channel)
    return town


async def delivery_snapshot() -> dict[int, dict[str, Any]]:
    """Every delivery row of every association, to prove an action changed only what it should."""
    return {row["id"]: row for row in await Delivery.select()}
