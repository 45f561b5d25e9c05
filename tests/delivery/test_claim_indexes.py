"""The claim's searches each walk a partial index of just the rows they look for (the other
states write no entry into it: docs/performance.md, LINE sending). A search whose condition
stopped matching its index's would walk a whole index or the table instead."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chonaikai.db import in_values, is_postgres, write_transaction
from chonaikai.delivery import store
from chonaikai.delivery.outbox import create_deliveries
from chonaikai.delivery.tables import Delivery
from tests.delivery.helpers import make_households, make_notice


@pytest.fixture
async def queued(tenant):
    """Rows waiting to be sent, as the planner would see them after a publish."""
    await make_households(tenant, 300, channel="email")
    await create_deliveries(await make_notice(tenant))
    if is_postgres():
        await Delivery.raw("ANALYZE delivery").run()


async def _plan(sql: str, *args) -> str:
    if not is_postgres():
        rows = await Delivery.raw("EXPLAIN QUERY PLAN " + sql, *args).run()
        return " ".join(row["detail"] for row in rows)
    async with write_transaction():
        # The test's tables are small: without this PostgreSQL might read them whole either way.
        await Delivery.raw("SET LOCAL enable_seqscan = off").run()
        rows = await Delivery.raw("EXPLAIN " + sql, *args).run()
    return " ".join(row["QUERY PLAN"] for row in rows)


@pytest.mark.parametrize(
    ("search", "index"),
    [(store._EXPIRED, "delivery_leased"), (store._URGENT, "delivery_urgent_due"), (store._PENDING, "delivery_due")],
)
async def test_each_claim_search_walks_its_own_partial_index(queued, search, index):
    plan = await _plan(search, datetime.now(UTC), "email", 10)
    assert f"{index} " in plan, plan


async def test_the_rest_of_retry_groups_is_found_through_two_partial_indexes(queued):
    keys_sql, keys_value = in_values(["a-key", "another-key"])
    plan = await _plan(
        f"SELECT id FROM delivery WHERE {store.retry_group_rows(keys_sql)}", keys_value, datetime.now(UTC), keys_value
    )
    assert "delivery_retry_group " in plan and "delivery_leased " in plan, plan
