"""db.py overrides parts of Piccolo's SQLite engine that are not public API (SharedSQLiteEngine,
_KeptConnectionTransaction). The dependency is pinned to one minor release (pyproject.toml);
if a release changes what these overrides rely on, this fails loudly — before a page does."""

from __future__ import annotations

import inspect
from importlib.metadata import version

import pytest
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction

from chonaikai.db import SharedSQLiteEngine

PINNED_MINOR = "1.38"


def test_piccolo_is_the_minor_release_the_overrides_were_written_for():
    assert version("piccolo").startswith(PINNED_MINOR + "."), (
        f"piccolo {version('piccolo')} is installed; db.py was checked against {PINNED_MINOR}.x — "
        "check the internals below, then move the pin in pyproject.toml and PINNED_MINOR together"
    )


def test_queries_outside_a_transaction_still_go_through_run_in_new_connection():
    # SharedSQLiteEngine replaces _run_in_new_connection to use kept connections.
    parameters = list(inspect.signature(SQLiteEngine._run_in_new_connection).parameters)
    assert parameters == ["self", "query", "args", "query_type", "table"]
    source = inspect.getsource(SQLiteEngine.run_querystring)
    assert "current_transaction" in source and "_run_in_new_connection" in source
    assert list(inspect.signature(SharedSQLiteEngine._run_in_new_connection).parameters) == parameters


def test_the_transaction_internals_the_kept_writer_uses_are_there():
    parameters = inspect.signature(SQLiteTransaction.__init__).parameters
    assert {"engine", "transaction_type", "allow_nested"} <= set(parameters)
    source = inspect.getsource(SQLiteTransaction)
    for name in ("current_transaction.set", "self._committed", "self._rolled_back", "self.context", "get_connection"):
        assert name in source, name
    for method in ("begin", "commit", "rollback", "__aenter__"):
        assert callable(getattr(SQLiteTransaction, method)), method
    assert "connection_kwargs" in inspect.getsource(SQLiteEngine.__init__)


@pytest.mark.skipif("__import__('chonaikai.db', fromlist=['x']).is_postgres()")
async def test_the_shared_engine_answers_and_keeps_its_connections(tmp_path):
    engine = SharedSQLiteEngine(path=str(tmp_path / "x.sqlite3"), pool_size=2)
    try:
        assert await engine._run_in_new_connection("SELECT 1 AS one") == [{"one": 1}]
        assert len(next(iter(engine._pools.values()))[0]) == 2  # kept, not opened per query
        async with engine.kept_write_transaction():
            await engine._run_in_new_connection("SELECT 2 AS two")
        assert engine._writers  # the writer connection stays open for the loop
    finally:
        await engine.close_shared_connections()
