"""While another process holds SQLite's write lock for 12 s (longer than the 10 s busy timeout),
pages that only read must still answer, and the health check answers within Fly's 5 s
(issue 14, Low)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time

import pytest

from chonaikai.db import is_postgres, sqlite_path
from chonaikai.tenancy.tables import Association

pytestmark = pytest.mark.skipif(is_postgres(), reason="SQLite's single writer lock")


@contextlib.contextmanager
def another_writer():
    blocker = sqlite3.connect(sqlite_path(os.environ["CHONAIKAI_DATABASE_URL"]), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


async def test_the_health_check_answers_within_5_seconds_while_writes_wait(client, tenant):
    with another_writer():
        # the app's own writes queue on its shared connections, waiting for the lock
        waiting = [asyncio.create_task(Association.update({Association.introduction: str(n)}).where(
            Association.id == tenant.id).run()) for n in range(8)]
        await asyncio.sleep(0.2)
        started = time.monotonic()
        response = await client.get("/healthz")
        took = time.monotonic() - started
        assert took < 5, took
        assert response.status_code in (200, 503)
    await asyncio.gather(*waiting, return_exceptions=True)
