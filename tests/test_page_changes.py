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
