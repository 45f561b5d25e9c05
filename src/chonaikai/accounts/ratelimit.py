"""Counting attempts in the database, so every web process shares the same limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from litestar import Request

from chonaikai.accounts.tables import RateLimitHit
from chonaikai.settings import get_settings


async def over_limit(bucket: str, limit: int, window: timedelta) -> bool:
    since = datetime.now(UTC) - window
    count = await RateLimitHit.count().where(
        (RateLimitHit.bucket == bucket) & (RateLimitHit.created_at > since)
    )
    return count >= limit


async def recent(bucket: str, window: timedelta) -> tuple[int, datetime | None]:
    """(hits in the window, time of the latest one)."""
    since = datetime.now(UTC) - window
    rows = await RateLimitHit.select(RateLimitHit.created_at).where(
        (RateLimitHit.bucket == bucket[:300]) & (RateLimitHit.created_at > since)
    ).order_by(RateLimitHit.created_at, ascending=False)
    return len(rows), (rows[0]["created_at"] if rows else None)


async def record(*buckets: str, keep: timedelta = timedelta(days=1)) -> None:
    now = datetime.now(UTC)
    await RateLimitHit.insert(*(RateLimitHit(bucket=bucket[:300], created_at=now) for bucket in buckets))
    # Old hits count for nothing; drop this bucket's so the table stays small without a cron job.
    await RateLimitHit.delete().where(
        RateLimitHit.bucket.is_in([bucket[:300] for bucket in buckets]) & (RateLimitHit.created_at < now - keep)
    )


def client_address(request: Request) -> str:
    """The client's address; behind Fly's proxy the connection comes from the proxy itself."""
    if get_settings().behind_proxy:
        forwarded = request.headers.get("fly-client-ip", "").strip()
        if forwarded:
            return forwarded
    return request.client.host if request.client else "unknown"
