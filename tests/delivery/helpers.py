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
    status = values.pop("status", "published")
    row = tenant.new(
        Notice,
        title=title,
        body=values.pop("body", "日曜日の朝8時から、公園の清掃をします。\nご協力をお願いします。"),
        audience=audience,
        status=status,
        published_at=values.pop("published_at", now if status == "published" else None),
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


class Clock:
    """A clock the test moves by hand (the worker computes every time from it)."""

    def __init__(self) -> None:
        from datetime import UTC, datetime

        self.now = datetime.now(UTC)

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self.now = self.now + timedelta(seconds=seconds)


class RecordingChannel:
    """A stand-in for an outside service (like the fake LINE server): answers what the test
    says and remembers every job it was handed."""

    def __init__(self, name: str = "email", batch_size: int = 50, delay: float = 0.0, answer=None) -> None:
        self.name = name
        self.batch_size = batch_size
        self.delay = delay
        self.answer = answer  # job -> Outcome; default: sent
        self.jobs = []
        self.started = self.closed = False

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        self.closed = True

    async def send(self, batch):
        import asyncio

        from chonaikai.delivery.channels import Outcome

        if self.delay:
            await asyncio.sleep(self.delay)
        self.jobs.extend(batch)
        return [self.answer(job) if self.answer else Outcome.sent(job.delivery_id) for job in batch]
