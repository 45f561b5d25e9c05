"""The claim's three searches each walk a partial index of just the rows they look for (the
other states write no entry into it: docs/performance.md, LINE sending). A search whose
condition stopped matching its index's would walk a whole index or the table instead."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chonaikai.db import is_postgres, write_transaction
from chonaikai.delivery import store
from chonaikai.delivery.tables import Delivery


async def _plan(sql: str, *args) -> str:
    if not is_postgres():
        rows = await Delivery.raw("EXPLAIN QUERY PLAN " + sql, *args).run()
        return " ".join(row["detail"] for row in rows)
    async with write_transaction():
        # The test's tables are tiny: without this PostgreSQL would read them whole either way.
        await Delivery.raw("SET LOCAL enable_seqscan = off").run()
        rows = await Delivery.raw("EXPLAIN " + sql, *args).run()
    return " ".join(row["QUERY PLAN"] for row in rows)


@pytest.mark.parametrize(
    ("search", "index"),
    [(store._EXPIRED, "delivery_leased"), (store._URGENT, "delivery_urgent_due"), (store._PENDING, "delivery_due")],
)
async def test_each_claim_search_walks_its_own_partial_index(tenant, search, index):
    plan = await _plan(search, datetime.now(UTC), "line", 10)
    assert f"{index} " in plan + " ", plan
