"""The server-side session is written only when its data changed or its expiry is due for
renewal (once a day), and that renewal never breaks a page (issue 14, High 2)."""

from __future__ import annotations

import os
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest

from chonaikai.accounts.roles import Role
from chonaikai.accounts.sessions import SESSION_COOKIE, SESSION_MAX_AGE
from chonaikai.accounts.tables import WebSession
from chonaikai.db import is_postgres, sqlite_path
from tests.auth import sign_in_as


async def expiry() -> datetime:
    return (await WebSession.select(WebSession.expires_at).first())["expires_at"]


async def age_session(days: float) -> None:
    """As if the session had last been renewed ``days`` ago."""
    aged = datetime.now(UTC) + timedelta(seconds=SESSION_MAX_AGE) - timedelta(days=days)
    await WebSession.update({WebSession.expires_at: aged}, force=True)


async def test_an_unchanged_session_is_not_written_and_gets_no_new_cookie(client, tenant):
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    first = await expiry()
    for path in ("/a/sakura/notices/", "/a/sakura/roster", "/a/sakura/"):
        response = await client.get(path)
        assert response.status_code == 200
        assert SESSION_COOKIE not in response.headers.get("set-cookie", ""), path
    assert await expiry() == first


async def test_the_expiry_is_renewed_once_a_day(client, tenant):
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    await age_session(days=0.5)
    assert SESSION_COOKIE not in (await client.get("/a/sakura/notices/")).headers.get("set-cookie", "")
    await age_session(days=2)
    aged = await expiry()
    renewed = await client.get("/a/sakura/notices/")
    assert renewed.status_code == 200
    assert f"{SESSION_COOKIE}=" in renewed.headers["set-cookie"] and f"Max-Age={SESSION_MAX_AGE}" in renewed.headers["set-cookie"]
    assert await expiry() - aged > timedelta(days=1.9)
    # and the next view, the same day, writes nothing
    again = await client.get("/a/sakura/notices/")
    assert SESSION_COOKIE not in again.headers.get("set-cookie", "")


async def test_signing_out_still_ends_the_session(client, tenant):
    from tests.auth import csrf_headers

    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    assert await WebSession.count() == 1
    await client.post("/signout", headers=await csrf_headers(client))
    assert await WebSession.count() == 0
    assert (await client.get("/a/sakura/roster")).status_code in (303, 401)


@pytest.mark.skipif(is_postgres(), reason="SQLite's single writer lock")
async def test_a_renewal_that_cannot_be_written_does_not_break_the_page(client, tenant):
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    await age_session(days=2)
    aged = await expiry()
    blocker = sqlite3.connect(sqlite_path(os.environ["CHONAIKAI_DATABASE_URL"]), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database for longer than the busy timeout
    try:
        started = time.monotonic()
        response = await client.get("/a/sakura/notices/")
        assert time.monotonic() - started < 15
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert response.status_code == 200 and "ログアウト" in response.text
    assert await expiry() == aged  # renewed on another day's view
