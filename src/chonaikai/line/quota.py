"""The channel's monthly message quota, checked before a large send.

LINE counts a multicast as one message per recipient. Before the LINE deliveries of a notice go
out, officers can see how many messages they need and how many the month has left; if it is
not enough, the deliveries beyond what is left go by e-mail (households with an address) or
paper instead — chosen by the officer, never half-sent in silence. A send that still hits the
limit fails with that reason shown on the delivery (``channel.REASON_QUOTA``).
"""

from __future__ import annotations

from dataclasses import dataclass

from chonaikai.db import write_transaction
from chonaikai.delivery import api as delivery
from chonaikai.delivery.tables import Delivery
from chonaikai.line.api import LineApi, Quota
from chonaikai.line.config import channel_for_association
from chonaikai.line.links import audit
from chonaikai.line.tables import LineLink
from chonaikai.roster.tables import Household
from chonaikai.tenancy.scope import Tenant


@dataclass(frozen=True)
class QuotaCheck:
    needed: int  # messages this send needs (one per LINE user)
    households: int
    quota: Quota

    @property
    def remaining(self) -> int | None:
        return self.quota.remaining

    @property
    def enough(self) -> bool:
        return self.remaining is None or self.needed <= self.remaining


async def read_quota(tenant: Tenant, api_base: str | None = None) -> Quota:
    channel = await channel_for_association(tenant.id)
    async with LineApi(channel, api_base=api_base) as api:
        return await api.quota()


async def _pending_line(tenant: Tenant, notice_id: int) -> list[tuple[int, int, int]]:
    """(delivery id, household id, LINE users) of the notice's LINE deliveries not yet sent."""
    deliveries = await tenant.select(Delivery, Delivery.id, Delivery.household).where(
        (Delivery.notice == notice_id) & (Delivery.channel == "line") & (Delivery.status == "pending")
    ).order_by(Delivery.id)
    if not deliveries:
        return []
    counts: dict[int, int] = {}
    household_ids = sorted({row["household"] for row in deliveries})
    for start in range(0, len(household_ids), 900):
        for row in await tenant.select(LineLink, LineLink.household).where(
            LineLink.household.is_in(household_ids[start : start + 900]) & (LineLink.active == True)  # noqa: E712
        ):
            counts[row["household"]] = counts.get(row["household"], 0) + 1
    return [(row["id"], row["household"], counts.get(row["household"], 0)) for row in deliveries]


async def check_notice(tenant: Tenant, notice_id: int, api_base: str | None = None) -> QuotaCheck:
    pending = await _pending_line(tenant, notice_id)
    quota = await read_quota(tenant, api_base)
    return QuotaCheck(needed=sum(users for _, _, users in pending), households=len(pending), quota=quota)


async def send_rest_another_way(tenant: Tenant, notice_id: int, remaining: int, account_id: int | None = None) -> dict[str, int]:
    """Keep LINE for the deliveries that fit in ``remaining`` messages; the others go by e-mail
    or paper. Returns how many went each way."""
    pending = await _pending_line(tenant, notice_id)
    moved = {"line": 0, "email": 0, "paper": 0}
    over: list[tuple[int, int]] = []
    budget = remaining
    for delivery_id, household_id, users in pending:
        if users <= budget:
            budget -= users
            moved["line"] += 1
        else:
            budget = -1  # keep order: once one does not fit, the rest go another way
            over.append((delivery_id, household_id))
    if not over:
        return moved
    emails = {
        row["id"]: row["email"]
        for row in await tenant.select(Household, Household.id, Household.email).where(
            Household.id.is_in(sorted({household for _, household in over}))
        )
    }
    by_channel: dict[str, list[int]] = {"email": [], "paper": []}
    for delivery_id, household_id in over:
        by_channel["email" if "@" in (emails.get(household_id) or "") else "paper"].append(delivery_id)
    async with write_transaction():
        for channel, ids in by_channel.items():
            await delivery.reroute_pending(channel, association_id=tenant.id, ids=ids)
            moved[channel] = len(ids)
        await audit(tenant.id, None, "line.quota",
                    f"LINEの送信上限のため、お知らせ#{notice_id}の{len(over)}世帯をメール{moved['email']}件・紙{moved['paper']}件に切り替えました",
                    account_id)
    return moved
