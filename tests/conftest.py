"""Test set-up: one database per test session (SQLite file, or PostgreSQL when
CHONAIKAI_TEST_DATABASE_URL is set), migrated once, emptied before every test."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_tmp = Path(tempfile.mkdtemp(prefix="chonaikai-test-"))
os.environ["CHONAIKAI_ENV"] = "test"
os.environ["CHONAIKAI_DATABASE_URL"] = os.environ.get(
    "CHONAIKAI_TEST_DATABASE_URL", f"sqlite:///{_tmp / 'test.sqlite3'}"
)
os.environ.setdefault("CHONAIKAI_UPLOAD_DIR", str(_tmp / "uploads"))
os.environ["CHONAIKAI_BASE_URL"] = "http://testserver"
# Tests create, change and delete associations between requests: look them up every time.
os.environ["CHONAIKAI_TENANT_CACHE_SECONDS"] = "0"
os.environ["CHONAIKAI_PAGE_CACHE_SECONDS"] = "0"  # tests/test_page_cache.py turns it on

# Every test sends mail to a real SMTP server on loopback (tests/mailsink.py), started below.
from tests.mailsink import MailSink, free_port  # noqa: E402

_SMTP_PORT = free_port()
os.environ["CHONAIKAI_SMTP_HOST"] = "127.0.0.1"
os.environ["CHONAIKAI_SMTP_PORT"] = str(_SMTP_PORT)
os.environ["CHONAIKAI_SMTP_TLS"] = "none"
os.environ.pop("CHONAIKAI_SMTP_USER", None)
os.environ.pop("CHONAIKAI_SMTP_PASSWORD", None)

import httpx  # noqa: E402
import pytest  # noqa: E402
from piccolo.table import sort_table_classes  # noqa: E402

from chonaikai.cli import migrate  # noqa: E402
from chonaikai.db import get_engine, postgres_pool  # noqa: E402
from chonaikai.settings import get_settings  # noqa: E402
from chonaikai.wiring import wire  # noqa: E402
from tests.factories import make_association, make_city  # noqa: E402, F401

wire()  # the delivery core's content sources and channels, as every entry point does


def all_tables():
    from piccolo.conf.apps import Finder

    return sort_table_classes(Finder().get_table_classes())


@pytest.fixture(scope="session")
def settings():
    return get_settings()


@pytest.fixture(scope="session", autouse=True)
def mail_server():
    sink = MailSink(port=_SMTP_PORT).start()
    yield sink
    sink.stop()


@pytest.fixture
def mail_sink(mail_server):
    """The loopback SMTP server, emptied for this test (``.messages``, ``.refuse(addr, 550)``)."""
    if not mail_server.running:  # a test stopped it to try reconnecting
        mail_server.start()
    mail_server.clear()
    yield mail_server
    mail_server.clear()
    if not mail_server.running:
        mail_server.start()


@pytest.fixture(scope="session", autouse=True)
async def migrated_database():
    await migrate()
    # One asyncpg pool for the session: without it every query opens a new connection.
    async with postgres_pool(get_engine()):
        yield get_engine()
    close = getattr(get_engine(), "close_shared_connections", None)
    if close:
        await close()


@pytest.fixture(autouse=True)
async def empty_database(migrated_database):
    # Children first, so foreign keys with ON DELETE RESTRICT never refuse.
    for table in reversed(all_tables()):
        await table.delete(force=True)
    # Read pages kept by an app of an earlier test (cached_app) name ids this database reuses.
    from chonaikai.delivery import readlink

    readlink.shared_reads.clear()
    readlink.shared_reads.seconds = None
    yield


@pytest.fixture(scope="session")
def litestar_app():
    from chonaikai.app import create_app

    return create_app()


@pytest.fixture
def asgi_app(litestar_app):
    from chonaikai.app import create_asgi_app

    # A fresh wrapper per test: its host map must not remember another test's associations.
    return create_asgi_app(app=litestar_app)


@pytest.fixture
async def client(asgi_app):
    transport = httpx.ASGITransport(app=asgi_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def city():
    return await make_city()


@pytest.fixture
async def tenant(city):
    return await make_association(city, slug="sakura", name="テスト桜町内会", han=["1班", "2班", "3班"])
