"""Where the answers of a check are kept: every answer appended, the newest per household counts.

All reads and writes of answers go through these functions, so the rest of ``safety`` does not
care where they are stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chonaikai.db import in_ids
from chonaikai.safety.tables import SafetyAnswer
from chonaikai.tenancy.scope import Tenant


async def record(
    tenant: Tenant,
    check_id: int,
    household_id: int,
    value: str,
    *,
    note: str,
    via: str,
    entered_by: int | None,
    entered_by_label: str,
    at: datetime,
) -> None:
    await SafetyAnswer.insert(
        tenant.new(
            SafetyAnswer, safety_check=check_id, household=household_id, value=value, note=note, via=via,
            entered_by=entered_by, entered_by_label=entered_by_label, answered_at=at,
        )
    )


_CURRENT_SQL = (
    "SELECT a.household AS household, a.value AS value, a.note AS note, a.via AS via, "
    "a.entered_by AS entered_by, a.entered_by_label AS entered_by_label, a.answered_at AS answered_at "
    "FROM safety_answer a WHERE a.association = {} AND a.safety_check = {} AND a.id = ("
    "SELECT max(b.id) FROM safety_answer b WHERE b.safety_check = a.safety_check AND b.household = a.household)"
)


async def current(tenant: Tenant, check_id: int) -> dict[int, dict[str, Any]]:
    """household id → its answer that counts (the newest)."""
    rows = await SafetyAnswer.raw(_CURRENT_SQL, tenant.id, check_id).run()
    return {row["household"]: row for row in rows}


async def history(tenant: Tenant, check_id: int, household_id: int) -> list[dict[str, Any]]:
    """Every answer for one household, oldest first."""
    return await (
        tenant.select(SafetyAnswer)
        .where((SafetyAnswer.safety_check == check_id) & (SafetyAnswer.household == household_id))
        .order_by(SafetyAnswer.id)
    )


async def counts(check_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """check id → {value: households} over the newest answer of each household (any association)."""
    if not check_ids:
        return {}
    sql, value = in_ids(check_ids)
    rows = await SafetyAnswer.raw(
        "SELECT a.safety_check AS check_id, a.value AS value, count(*) AS n FROM safety_answer a "
        f"WHERE a.safety_check {sql} AND a.id = (SELECT max(b.id) FROM safety_answer b "
        "WHERE b.safety_check = a.safety_check AND b.household = a.household) "
        "GROUP BY a.safety_check, a.value",
        value,
    ).run()
    result: dict[int, dict[str, int]] = {}
    for row in rows:
        result.setdefault(row["check_id"], {})[row["value"]] = int(row["n"])
    return result
