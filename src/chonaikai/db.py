"""Database engines for SQLite (embedded default) and PostgreSQL (production).

Piccolo's SQLite engine opens a fresh connection (and thread) for every query
outside a transaction, which throttles a web page to a fraction of what the
server can do. ``SharedSQLiteEngine`` keeps a few connections open per event loop
and hands them out round-robin for those queries; transactions still get their
own connection, exactly as in Piccolo. WAL lets readers and the one writer work
side by side, and the busy timeout makes writers queue instead of failing.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import json
import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager, nullcontext
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import aiosqlite
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory
from piccolo.querystring import QueryString
from piccolo.table import Table

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_SECONDS = 10.0
# asyncpg refuses more than 32,767 parameters in one statement.
BULK_INSERT_ROWS = 1000


class SharedSQLiteEngine(SQLiteEngine):
    __slots__ = ("_pools", "_pool_size", "_writers", "wal_autocheckpoint")

    def __init__(self, path: str, pool_size: int = 4, **kwargs: Any) -> None:
        super().__init__(path=path, timeout=SQLITE_BUSY_TIMEOUT_SECONDS, **kwargs)
        self._pool_size = pool_size
        # One pool per event loop: aiosqlite futures belong to the loop that made them.
        self._pools: dict[int, tuple[list[aiosqlite.Connection], itertools.cycle]] = {}
        self._writers: dict[int, aiosqlite.Connection] = {}
        self.wal_autocheckpoint: int | None = None  # pages; SQLite's own default (1,000) when None

    async def get_connection(self) -> aiosqlite.Connection:
        connection = await aiosqlite.connect(**self.connection_kwargs)
        connection.row_factory = dict_factory  # type: ignore[assignment]
        await connection.execute("PRAGMA foreign_keys = 1")
        await connection.execute("PRAGMA synchronous = NORMAL")
        if self.wal_autocheckpoint:
            await connection.execute(f"PRAGMA wal_autocheckpoint = {int(self.wal_autocheckpoint)}")
        return connection

    async def _shared_connection(self) -> aiosqlite.Connection:
        loop_id = id(asyncio.get_running_loop())
        pool = self._pools.get(loop_id)
        if pool is None:
            connections = [await self.get_connection() for _ in range(self._pool_size)]
            pool = (connections, itertools.cycle(connections))
            self._pools[loop_id] = pool
        return next(pool[1])

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: type[Table] | None = None,
    ):
        connection = await self._shared_connection()
        # isolation_level=None: each statement commits on its own. Executed and read to the end in
        # one call on the connection's thread: a request cancelled while waiting (a sibling
        # dependency failed) must not leave a half-read cursor, whose open read transaction made
        # every later write on this shared connection fail with "database is locked".
        return await connection.execute_fetchall(query, args or [])

    async def close_shared_connections(self) -> None:
        loop_id = id(asyncio.get_running_loop())
        pool = self._pools.pop(loop_id, None)
        if pool:
            for connection in pool[0]:
                await connection.close()
        writer = self._writers.pop(loop_id, None)
        if writer is not None:
            await writer.close()

    async def _writer_connection(self) -> aiosqlite.Connection:
        loop_id = id(asyncio.get_running_loop())
        connection = self._writers.get(loop_id)
        if connection is None:
            connection = self._writers[loop_id] = await self.get_connection()
        return connection

    def kept_write_transaction(self) -> _KeptConnectionTransaction:
        """A write transaction on a connection kept open for the event loop, for one caller
        that writes often and never twice at once (the read-receipt writer): opening a
        connection (a thread and two PRAGMAs) cost more than the transaction itself."""
        return _KeptConnectionTransaction(self)


class _KeptConnectionTransaction(SQLiteTransaction):
    """Piccolo's SQLite transaction, on the engine's kept writer connection, left open after."""

    def __init__(self, engine: SharedSQLiteEngine) -> None:
        super().__init__(engine, transaction_type=TransactionType.immediate, allow_nested=False)

    async def get_connection(self) -> aiosqlite.Connection:
        return await self.engine._writer_connection()  # type: ignore[attr-defined]

    async def __aexit__(self, exception_type, exception, traceback) -> bool:
        try:
            if exception is not None and not self._rolled_back:
                await self.rollback()
            elif exception is None and not self._committed and not self._rolled_back:
                await self.commit()
        finally:
            self.engine.current_transaction.reset(self.context)
        return exception is None


def sqlite_path(url: str) -> str:
    # sqlite:///relative/or/absolute -> the path after the third slash, as SQLAlchemy does.
    path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else url[len("sqlite:") :]
    return unquote(path) or "chonaikai.sqlite3"


def postgres_config(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    config: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "database": parts.path.lstrip("/"),
        "user": unquote(parts.username) if parts.username else "postgres",
    }
    if parts.password:
        config["password"] = unquote(parts.password)
    if "sslmode=disable" in (parts.query or ""):
        config["ssl"] = False
    return config


def create_engine(url: str, sqlite_pool_size: int = 4) -> Engine:
    if url.startswith("sqlite:"):
        path = sqlite_path(url)
        if path != ":memory:":
            # A fresh clone has no var/ folder yet.
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with sqlite3.connect(path) as connection:  # WAL is a property of the file: set it once.
            connection.execute("PRAGMA journal_mode = WAL")
        return SharedSQLiteEngine(path=path, pool_size=sqlite_pool_size)
    return PostgresEngine(config=postgres_config(url))


def run_with_database(coroutine: Awaitable[T]) -> T:
    """asyncio.run for CLI commands: closes the SQLite connections afterwards.

    aiosqlite connections live in non-daemon threads, so a command that left
    them open would never exit.
    """

    async def run_then_close() -> T:
        try:
            return await coroutine
        finally:
            close = getattr(get_engine(), "close_shared_connections", None)
            if close is not None:
                await close()

    return asyncio.run(run_then_close())


def get_engine() -> Engine:
    """The process's engine: ``DB`` of the module named by PICCOLO_CONF, as Piccolo finds it
    (``chonaikai.piccolo_conf`` unless configured otherwise). Looked up by name, so this module
    does not import the configuration that imports it."""
    name = os.environ.get("PICCOLO_CONF") or "chonaikai.piccolo_conf"
    module = sys.modules.get(name) or importlib.import_module(name)
    return module.DB


def is_postgres(engine: Engine | None = None) -> bool:
    return (engine or get_engine()).engine_type == "postgres"


# A process that writes in bulk (the delivery worker: a 120,000-household notice is two writes of
# every row in 4,000-row statements) lets the WAL grow to ~80 MB before a commit copies it into
# the database: at SQLite's default 1,000 pages (4 MB) almost every commit checkpointed, copying
# the same index pages again each time and syncing the file.
BULK_WAL_AUTOCHECKPOINT_PAGES = 20_000


def prefer_large_checkpoints(pages: int = BULK_WAL_AUTOCHECKPOINT_PAGES) -> None:
    """SQLite: this process's new connections checkpoint the WAL only past ``pages`` pages."""
    engine = get_engine()
    if isinstance(engine, SharedSQLiteEngine):
        engine.wal_autocheckpoint = pages


def write_transaction():
    """A transaction for writes: IMMEDIATE on SQLite so two writers queue instead of deadlocking."""
    engine = get_engine()
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()


def frequent_writes():
    """For one task that writes many times a second, statements that need not be atomic
    together (the read-receipt writer). SQLite: one IMMEDIATE transaction on a connection kept
    for the event loop, so they share one commit and open no connection. PostgreSQL: no
    transaction; each statement commits on its own, so no row lock is held from one statement
    to the next, and two such tasks side by side cannot deadlock."""
    engine = get_engine()
    if isinstance(engine, SharedSQLiteEngine):
        return engine.kept_write_transaction()
    return nullcontext()


def in_ids(ids: Sequence[int], engine: Engine | None = None) -> tuple[str, Any]:
    """``IN`` over many ids as ONE query parameter: ``(sql, value)`` for ``f"… id {sql}"``.

    Piccolo composes a raw query at ~2 µs a placeholder (a 4,000-id batch: 8 ms per
    statement) and both drivers cap the number of parameters; one array (PostgreSQL) or one
    JSON list (SQLite's json_each) costs neither."""
    return in_values([int(i) for i in ids], engine)


def in_values(values: Sequence[int] | Sequence[str], engine: Engine | None = None) -> tuple[str, Any]:
    """``in_ids`` for a list of ids or of texts (read-link tokens)."""
    if is_postgres(engine):
        return "= ANY({})", list(values)
    return "IN (SELECT value FROM json_each({}))", json.dumps(list(values))


_NATIVE_SQL: dict[tuple[str, bool], str] = {}


def _native_sql(sql: str, postgres: bool) -> str:
    """``{}`` placeholders (Piccolo's) as the driver's own: ``$1, $2 …`` or ``?``."""
    native = _NATIVE_SQL.get((sql, postgres))
    if native is None:
        parts = sql.split("{}")
        native = parts[0] + "".join(
            (f"${number}" if postgres else "?") + part for number, part in enumerate(parts[1:], start=1)
        )
        _NATIVE_SQL[(sql, postgres)] = native
    return native


async def fetch_rows(sql: str, *args: Any) -> list[dict[str, Any]]:
    """A read on a hot path (read links' visits), straight to the driver: the query builder's
    composing of the statement cost more than an indexed lookup. ``sql`` takes ``{}``
    placeholders as ``Table.raw`` does. Inside a transaction, in the transaction."""
    engine = get_engine()
    if engine.current_transaction.get() is None:
        if isinstance(engine, SharedSQLiteEngine):
            connection = await engine._shared_connection()
            return list(await connection.execute_fetchall(_native_sql(sql, False), args))  # type: ignore[arg-type]
        if isinstance(engine, PostgresEngine) and engine.pool is not None:
            async with engine.pool.acquire() as connection:
                return [dict(record) for record in await connection.fetch(_native_sql(sql, True), *args)]
    return await engine.run_querystring(QueryString(sql, *args))  # also without a pool: a command, a test


async def insert_many(table: type[Table], rows: Sequence[Table]) -> None:
    """Insert rows in chunks (call inside a transaction to make it all-or-nothing)."""
    for start in range(0, len(rows), BULK_INSERT_ROWS):
        await table.insert(*rows[start : start + BULK_INSERT_ROWS]).run()


async def check_database() -> None:
    """Raise if the database does not answer a trivial query. On SQLite on a connection of its
    own: the shared ones may be queued behind writes waiting for another writer's lock."""
    engine = get_engine()
    if isinstance(engine, SharedSQLiteEngine):
        connection = await engine.get_connection()
        try:
            await (await connection.execute("SELECT 1")).fetchall()
        finally:
            await connection.close()
        return
    await engine.run_ddl("SELECT 1")


async def _no_session_reset(connection: Any) -> None:
    """A pooled connection goes back without asyncpg's default reset statement (``RESET ALL``,
    ``UNLISTEN *``, ``CLOSE ALL``, unlocking advisory locks): a round trip at every release —
    on the read link's visit, a third of its time — to undo session state this code never sets
    (no ``SET``, ``LISTEN``, cursors or session advisory locks). A transaction left open is still
    rolled back by asyncpg before this is called."""


@asynccontextmanager
async def postgres_pool(engine: Engine, max_size: int = 10) -> AsyncIterator[None]:
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(max_size=max_size, reset=_no_session_reset)
        try:
            yield
        finally:
            await engine.close_connection_pool()
    else:
        yield
