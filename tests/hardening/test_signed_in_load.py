"""Signed-in pages under load (issue 14, High 2): 64 concurrent views of the board by one
signed-in member, against the real server (granian, as deployed) on the test database (SQLite or
PostgreSQL): no failed answer, and no session write when nothing in the session changed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import pytest

from chonaikai.accounts.roles import Role
from chonaikai.accounts.sessions import SESSION_COOKIE
from chonaikai.accounts.tables import WebSession
from tests.auth import sign_in_as
from tests.delivery.helpers import make_notice
from tests.factories import make_household
from tests.mailsink import free_port

CONCURRENT = 64
ROUNDS = 4


@pytest.fixture
def server():
    """``chonaikai serve`` on a free port, on the test database; yields (base URL, log file)."""
    port = free_port()
    log = Path(os.environ["CHONAIKAI_UPLOAD_DIR"]).parent / f"server-{port}.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "chonaikai"), "serve", "--port", str(port)],
            env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=out,
            start_new_session=True,  # granian's worker is a child: stop the whole group
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz/live", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield base, log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


async def session_rows() -> list[dict]:
    return await WebSession.select(WebSession.key, WebSession.value, WebSession.expires_at).order_by(WebSession.id)


async def test_64_concurrent_signed_in_board_views_all_answer_and_write_no_session(client, tenant, server):
    base, log = server
    for number in range(20):
        await make_notice(tenant, f"お知らせ{number}", visibility="members")
    household = await make_household(tenant, "山田", han="1班", channel="email", email="yamada@example.jp")
    await sign_in_as(client, "yamada@example.jp", Role.MEMBER, tenant, household_id=household["id"])
    cookie = {"cookie": f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}"}
    before = await session_rows()

    failures: list[str] = []
    session_cookies = 0
    limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=CONCURRENT)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as member:

        async def view() -> None:
            nonlocal session_cookies
            try:
                response = await member.get("/a/sakura/notices/", headers=cookie)
            except httpx.HTTPError as error:
                failures.append(repr(error))
                return
            if response.status_code != 200 or "お知らせ19" not in response.text or "ログアウト" not in response.text:
                failures.append(f"{response.status_code} {response.text[:300]}")
            if SESSION_COOKIE in response.headers.get("set-cookie", ""):
                session_cookies += 1

        for _ in range(ROUNDS):
            await asyncio.gather(*(view() for _ in range(CONCURRENT)))

    assert failures == [], (failures[:5], log.read_text()[-3000:])
    assert await session_rows() == before  # not one write: nothing in the session changed
    assert session_cookies == 0  # and no fresh cookie on every answer
