"""Two web processes on one database: a change through one, or straight in the database as the
worker publishing a scheduled notice would make it, shows on the other within 2 s, although
both keep pages and associations for a minute (page_changes.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chonaikai.accounts.api_tokens import create_token
from chonaikai.page_changes import ChangeWatcher
from chonaikai.tenancy.tables import Association

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "CHONAIKAI_ENV": "production",
        "CHONAIKAI_SECRET_KEY": "two-processes-test-key-" + "x" * 20,
        "CHONAIKAI_BASE_URL": f"http://127.0.0.1:{port}",
        "CHONAIKAI_PAGE_CACHE_SECONDS": "60",
        "CHONAIKAI_TENANT_CACHE_SECONDS": "60",
    }
    with open(log, "w") as out:
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "chonaikai"), "serve", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=out,
            start_new_session=True,  # granian's worker is a child: stop the whole group
        )


async def wait_until_up(client: httpx.AsyncClient, base: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if (await client.get(f"{base}/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError(f"{base} did not start:\n{log.read_text()[-2000:]}")


async def shows_within(client: httpx.AsyncClient, url: str, text: str, seconds: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if text in (await client.get(url)).text:
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} not on {url} after {seconds} s")


async def test_a_change_through_one_process_shows_on_the_other_within_two_seconds(tenant, tmp_path):
    await Association.update({Association.introduction: "はじめの紹介文"}).where(Association.id == tenant.id)
    token = await create_token(role="chair", association_slug=tenant.slug)
    ports = [free_port(), free_port()]
    servers = [start_server(port, tmp_path / f"server{n}.log") for n, port in enumerate(ports)]
    a, b = (f"http://127.0.0.1:{port}" for port in ports)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            await wait_until_up(client, a, tmp_path / "server0.log")
            await wait_until_up(client, b, tmp_path / "server1.log")
            homepage = f"{b}/a/{tenant.slug}/"
            for _ in range(2):  # B now keeps the page (and the association) for a minute
                page = (await client.get(homepage)).text
                assert "はじめの紹介文" in page and "夏祭りのお知らせ" not in page
            await asyncio.sleep(1.2)  # B's watcher has looked at least once since it started

            created = await client.post(
                f"{a}/api/v1/associations/{tenant.slug}/notices",
                json={"title": "夏祭りのお知らせ", "body": "盆踊りをします。", "visibility": "public",
                      "category": "行事", "publish": True},
                headers={"authorization": f"Bearer {token.secret}"},
            )
            assert created.status_code == 201, created.text
            assert await shows_within(client, homepage, "夏祭りのお知らせ", 2.0) < 2.0

            # Straight in the database, as the worker or another machine would write it.
            await Association.update({Association.introduction: "新しい紹介文"}).where(Association.id == tenant.id)
            assert await shows_within(client, homepage, "新しい紹介文", 2.0) < 2.0
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
        for server in servers:
            server.wait(timeout=10)


async def test_the_watcher_names_each_changed_association_once(tenant, city):
    from tests.factories import make_association

    forgotten: list[str] = []
    watcher = ChangeWatcher(forgotten.append)
    await watcher.poll()  # start-up: what exists is only noted
    assert forgotten == []
    other = await make_association(city, slug="kaede", name="楓町内会")
    await Association.update({Association.introduction: "変更"}).where(Association.id == tenant.id)
    await Association.update({Association.introduction: "もう一度"}).where(Association.id == tenant.id)
    assert await watcher.poll() == 3
    assert sorted(forgotten) == sorted([other.slug, tenant.slug])
    forgotten.clear()
    assert await watcher.poll() == 0 and forgotten == []


async def test_changes_to_who_may_see_what_are_noted_as_access(tenant):
    """The access triggers (notices migration 2026-12-04T20:40): what a kept session, principal
    or viewer was read from; a renewal or a change that alters nobody's access is not noted."""
    from datetime import UTC, datetime, timedelta

    from chonaikai.accounts.roles import Role
    from chonaikai.accounts.sessions import DatabaseStore
    from chonaikai.accounts.tables import Account, RoleGrant, WebSession
    from chonaikai.page_changes import ACCESS
    from chonaikai.roster.tables import Han, Household
    from tests.auth import make_account
    from tests.factories import make_household

    household = await make_household(tenant, "見本 太郎", han="1班")
    account_id = await make_account("taro@example.jp", Role.MEMBER, tenant, household_id=household["id"])
    await DatabaseStore().set("a-session", b'{"account_id": 1}', expires_in=3600)
    forgotten: list[str] = []
    watcher = ChangeWatcher(forgotten.append)
    await watcher.poll()

    async def noted() -> bool:
        await watcher.poll()
        found = ACCESS in forgotten
        forgotten.clear()
        return found

    # Nobody's access: a household's channel, a session's renewal (expiry only).
    await Household.update({Household.channel: "paper"}).where(Household.id == household["id"])
    await WebSession.update({WebSession.expires_at: datetime.now(UTC) + timedelta(days=90)}, force=True)
    assert not await noted()
    two = (await tenant.select(Han, Han.id).where(Han.name == "2班").first())["id"]
    changes = [
        Household.update({Household.han: two}).where(Household.id == household["id"]),
        Household.update({Household.credential_epoch: 1}).where(Household.id == household["id"]),
        Household.update({Household.moved_out: True}).where(Household.id == household["id"]),
        RoleGrant.update({RoleGrant.role: "han_leader"}).where(RoleGrant.account == account_id),
        RoleGrant.delete().where(RoleGrant.account == account_id),
        Account.update({Account.display_name: "見本"}).where(Account.id == account_id),
        WebSession.update({WebSession.value: b"{}"}, force=True),
        WebSession.delete(force=True),
        Household.delete().where(Household.id == household["id"]),
    ]
    for change in changes:
        await change
        assert await noted(), change


def test_kept_sessions_last_longer_only_while_the_access_changes_are_read():
    from chonaikai.accounts.signed_in_cache import (
        FRESH_WATCH_SECONDS,
        WATCHED_SECONDS,
        SignedInCache,
    )

    now = [1000.0]
    cache = SignedInCache(seconds=1.0, clock=lambda: now[0])
    cache.keep_watched("unwatched", "before any read", cache.generation)
    cache.watched(now[0], first=True)  # the first read: what was kept before it is forgotten
    assert cache.get("unwatched") is None
    cache.keep_watched(("session", "s"), "row", cache.generation)
    cache.keep(("reads", 1), {1}, cache.generation)  # not what the triggers watch: a second only
    for _ in range(10):  # read every second: the session stays, the read marks do not
        now[0] += 1.0
        cache.watched(now[0], first=False)
        assert cache.get(("session", "s")) == "row"
    assert cache.get(("reads", 1)) is None
    now[0] += FRESH_WATCH_SECONDS + 0.1  # the reads stopped (database busy): back to a second
    assert cache.get(("session", "s")) is None
    cache.keep_watched(("session", "s"), "row", cache.generation)
    cache.watched(now[0], first=False)
    now[0] += WATCHED_SECONDS  # never longer than WATCHED_SECONDS, however fresh the watch
    cache.watched(now[0], first=False)
    assert cache.get(("session", "s")) is None


async def test_a_session_ended_in_the_database_ends_on_another_process_within_two_seconds(tenant, tmp_path):
    """A member's session kept by a server (longer than a second, as its watcher reads the access
    changes) ends there within 2 s of its role being removed elsewhere."""
    from litestar.serialization import encode_json

    from chonaikai.accounts.roles import Role
    from chonaikai.accounts.sessions import SESSION_COOKIE, SESSION_MAX_AGE, DatabaseStore
    from chonaikai.accounts.tables import RoleGrant
    from tests.auth import make_account
    from tests.delivery.helpers import make_notice
    from tests.factories import make_household

    await make_notice(tenant, "会員だけの回覧", visibility="members")
    household = await make_household(tenant, "見本 太郎", han="1班")
    account_id = await make_account("taro@example.jp", Role.MEMBER, tenant, household_id=household["id"])
    await DatabaseStore().set("s" * 64, encode_json({"account_id": account_id}), expires_in=SESSION_MAX_AGE)
    port = free_port()
    server = start_server(port, tmp_path / "server.log")
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=10, cookies={SESSION_COOKIE: "s" * 64}) as client:
            await wait_until_up(client, base, tmp_path / "server.log")
            board = f"{base}/a/{tenant.slug}/notices/"
            await asyncio.sleep(1.2)  # the watcher has read at least once
            for _ in range(3):  # kept past the one second
                assert "会員だけの回覧" in (await client.get(board)).text
                await asyncio.sleep(0.6)
            await RoleGrant.delete().where(RoleGrant.account == account_id)  # as another machine would
            started = time.monotonic()
            while "会員だけの回覧" in (await client.get(board)).text:
                assert time.monotonic() - started < 2.0, "still shown to a member whose role was removed"
                await asyncio.sleep(0.1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
