"""Row helpers for delivery tests (kept here so other helpers' factories stay untouched)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chonaikai.notices.tables import Notice, NoticeHan
from chonaikai.roster.tables import Han
from chonaikai.tenancy.scope import Tenant
from tests.factories import make_household


async def make_notice(
    tenant: Tenant, title: str = "一斉清掃のお知らせ", audience: str = "all", han: list[str] | None = None, **values: Any
) -> int:
    now = datetime.now(UTC)
    row = tenant.new(
        Notice,
        title=title,
        body=values.pop("body", "日曜日の朝8時から、公園の清掃をします。\nご協力をお願いします。"),
        audience=audience,
        status=values.pop("status", "published"),
        published_at=now,
        created_at=now,
        updated_at=now,
        **values,
    )
    await row.save()
    for name in han or []:
        han_row = await tenant.select(Han, Han.id).where(Han.name == name).first()
        await tenant.new(NoticeHan, notice=row.id, han=han_row["id"]).save()
    return row.id


async def make_households(tenant: Tenant, count: int, channel: str = "email", han: str | None = "1班") -> list[int]:
    ids = []
    for i in range(count):
        email = f"h{i}-{channel}@example.jp" if channel == "email" else ""
        row = await make_household(tenant, f"世帯{i}", han=han, channel=channel, email=email)
        ids.append(row["id"])
    return ids
