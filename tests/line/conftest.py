"""Fixtures for LINE tests: the fake LINE server on loopback, and an association with a channel."""

from __future__ import annotations

import pytest

from chonaikai.devtools.fake_line_server import FakeLineServer
from chonaikai.settings import get_settings
from tests.factories import make_association

CHANNEL_ID = "1650000001"
TOKEN = "test-line-access-token"
SECRET = "test0line0channel0secret0000000a"


@pytest.fixture
async def fake_line(monkeypatch):
    server = await FakeLineServer().start()
    server.add_channel(CHANNEL_ID, TOKEN, SECRET, webhook_url=f"/line/webhook/{CHANNEL_ID}")
    monkeypatch.setenv("TEST_LINE_TOKEN", TOKEN)
    monkeypatch.setenv("TEST_LINE_SECRET", SECRET)
    monkeypatch.setenv("CHONAIKAI_LINE_API_BASE", server.base_url)
    get_settings.cache_clear()
    yield server
    await server.stop()
    monkeypatch.delenv("CHONAIKAI_LINE_API_BASE")
    get_settings.cache_clear()


@pytest.fixture
async def line_tenant(city, fake_line):
    return await make_association(
        city, slug="line-town", name="LINE町内会", han=["1班", "2班"],
        line_channel={"channel_id": CHANNEL_ID, "access_token_env": "TEST_LINE_TOKEN", "channel_secret_env": "TEST_LINE_SECRET"},
    )
