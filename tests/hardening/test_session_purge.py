"""Expired sessions are purged by the worker's periodic jobs (issue 14, Low: purge_expired_sessions
was never called). Checked through the command operators run: ``chonaikai worker --once``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chonaikai.accounts.tables import WebSession
from tests.delivery.test_worker_process import start_worker


async def test_the_worker_command_purges_expired_sessions_and_keeps_live_ones(tenant):
    now = datetime.now(UTC)
    await WebSession.insert(
        WebSession(key="expired", value=b"{}", expires_at=now - timedelta(minutes=1)),
        WebSession(key="live", value=b"{}", expires_at=now + timedelta(days=30)),
    )
    process = start_worker("--once")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert [row["key"] for row in await WebSession.select(WebSession.key)] == ["live"]
