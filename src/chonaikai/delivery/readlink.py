"""The read link /r/{token}: the page (recorded as opened), 「読みました」 (group-committed),
the files of the content behind it, and one-click unsubscribe (RFC 8058).

What the page shows comes from the content's owner through the port
(``chonaikai.delivery.content``); the rows are written by ``chonaikai.delivery.store``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chonaikai.accounts.tables import AuditEntry
from chonaikai.db import frequent_writes, is_postgres, write_transaction
from chonaikai.delivery import channels, content, store
from chonaikai.delivery.tables import Delivery
from chonaikai.roster.tables import Household
from chonaikai.tenancy.scope import Tenant
from chonaikai.tenancy.tables import Association

log = logging.getLogger(__name__)

# How long the read page waits for its "opened" receipt: a moment on a quiet day, never the
# database's busy timeout. After it the receipt finishes (or fails, logged) on its own.
OPEN_WAIT_SECONDS = 0.5


class Withdrawn:
    """The read link is real but its household is no longer in the content's audience (the
    audience narrowed, or the household moved out or was erased): a kind page, not the text."""


WITHDRAWN = Withdrawn()

CHANNEL_LABELS = {"email": "メール", "line": "LINE", "paper": "紙（回覧板）"}


@dataclass(frozen=True)
class ReadView:
    delivery_id: int
    token: str
    notice: dict[str, Any]
    association_name: str
    confirmed_at: datetime | None
    tenant: Tenant | None = None
    attachments: list[Any] = field(default_factory=list)
    body_html: Any = None  # the body as the notice board renders it (sanitised), or None: plain text

    @property
    def association_slug(self) -> str:
        """For a plain link to the association's board (nothing more is shown here)."""
        return self.tenant.slug if self.tenant else ""


async def _still_for_household(row: dict[str, Any]) -> bool:
    """The delivery's household still lives there and is still in the content's audience."""
    household = await Household.select(Household.moved_out, Household.erased_at).where(
        (Household.id == row["household"]) & (Household.association == row["association"])
    ).first()
    if household is None or household["moved_out"] or household["erased_at"] is not None:
        return False
    audience = content.source().audience_sql(1)
    found = await Delivery.raw(
        f"SELECT 1 AS ok FROM ({audience}) AS audience WHERE audience.household = {{}}", row["notice"], row["household"]
    )
    return bool(found)


async def _delivery_for(token: str, *columns: Any) -> dict[str, Any] | None:
    if not token or len(token) > 64:
        return None
    return await Delivery.select(
        Delivery.notice, Delivery.association, Delivery.household, *columns
    ).where(Delivery.token == token).first()


def _log_open_failure(future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("a read link's 'opened' was not recorded: %s", future.exception())


async def _record_opened(token: str, now: datetime | None) -> None:
    """Bookkeeping: the reader's page never waits long for it and never fails because of it."""
    write = asyncio.ensure_future(receipt_writer().write(OPEN, token, "", now))
    write.add_done_callback(_log_open_failure)
    await asyncio.wait({write}, timeout=OPEN_WAIT_SECONDS)


async def open_by_token(token: str, now: datetime | None = None) -> ReadView | Withdrawn | None:
    """The content behind a read link, recording the first visit as opened. None: unknown token;
    WITHDRAWN: its household is no longer in the audience.

    The token shows this one piece of content and nothing else: not the household, not others.
    """
    row = await _delivery_for(token, Delivery.id, Delivery.token, Delivery.opened_at, Delivery.confirmed_at)
    if row is None:
        return None
    readable = await content.source().read_content(row["association"], row["notice"])
    if readable is None:
        return None
    if not await _still_for_household(row):
        return WITHDRAWN
    association = await Association.select().where(Association.id == row["association"]).first()
    if association is None:
        return None
    if row["opened_at"] is None:
        await _record_opened(row["token"], now)
    return ReadView(
        row["id"], row["token"], readable.item, association["name"], row["confirmed_at"],
        tenant=Tenant.from_row(association), attachments=readable.attachments, body_html=readable.body_html,
    )


async def attachment_by_token(token: str, attachment_id: int) -> tuple[dict[str, Any], bytes] | None:
    """A file of the content behind a read link (and of no other), while the link still shows it."""
    row = await _delivery_for(token)
    if row is None or not await _still_for_household(row):
        return None
    return await content.source().attachment(row["association"], row["notice"], attachment_id)


async def link_state(token: str) -> Withdrawn | bool | None:
    """Before 「読みました」 is taken from a read link: True while it still shows its content to its
    household, WITHDRAWN once it does not, None for an unknown token."""
    row = await _delivery_for(token)
    if row is None:
        return None
    return True if await _still_for_household(row) else WITHDRAWN


async def confirm_by_token(token: str, via: str = "web", now: datetime | None = None) -> bool | None:
    """「読みました」: records the first confirmation (idempotent). None: unknown token.
    (The read link's page asks ``link_state`` first.)"""
    if not token or len(token) > 64:
        return None
    return await receipt_writer().write(CONFIRM, token, via, now)


OPEN = "open"
CONFIRM = "confirm"


class ReceiptWriter:
    """Group commit for read receipts: visits and 「読みました」 arriving together are written by
    one statement per kind for all of them, and each request is answered only after that write
    committed (so a confirmation is durable when the reader sees 「受け付けました」).

    There is no fixed wait: a receipt arriving while no commit runs is committed at once (alone,
    on a quiet day); those arriving during a commit go together in the next one. Under load a
    commit therefore carries whatever came in while the last one ran, which keeps the wait per
    request near one commit's time. One transaction per request made SQLite writers queue on its
    lock (and fail with "database is locked" under load).

    SQLite has one writer, so one commit runs at a time (``db.frequent_writes``: one transaction
    on a kept connection); PostgreSQL takes two side by side, each statement committing on its
    own, so that requests do not wait for a commit's round trips while the server has CPU to
    spare, and no lock is held between statements (no deadlock between the two).
    """

    def __init__(self, max_batch: int = 500, commits_in_flight: int | None = None) -> None:
        self.max_batch = max_batch
        # On SQLite the commits share one kept connection (frequent_writes): never two at once.
        self.commits_in_flight = (commits_in_flight or 2) if is_postgres() else 1
        self.pending: list[tuple[str, str, str, datetime, asyncio.Future]] = []
        self.flushers: set[asyncio.Task] = set()
        self.running = 0

    async def write(self, kind: str, token: str, via: str, now: datetime | None) -> bool | None:
        future = asyncio.get_running_loop().create_future()
        self.pending.append((kind, token, via, now or datetime.now(UTC), future))
        # ``running`` counts flushers still inside their loop; it drops in the same step as a
        # flusher's last look at ``pending`` (a done-callback runs a loop turn later, and a
        # receipt handed in between would wait for a flusher that had already left).
        if self.running < self.commits_in_flight:
            self.running += 1
            flusher = asyncio.ensure_future(self._flush())
            self.flushers.add(flusher)
            flusher.add_done_callback(self.flushers.discard)
        return await future

    async def drain(self) -> None:
        """Wait until every receipt handed in is committed (the server's shutdown)."""
        while self.flushers:
            await asyncio.wait(set(self.flushers))

    async def _flush(self) -> None:
        try:
            await self._flush_pending()
        finally:
            self.running -= 1

    async def _flush_pending(self) -> None:
        await asyncio.sleep(0)  # requests already parsed in this turn of the loop join this commit
        while self.pending:
            batch, self.pending = self.pending[: self.max_batch], self.pending[self.max_batch :]
            try:
                found = await self._commit(batch)
            except Exception as error:  # every waiting request learns it failed
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for _, token, _, _, future in batch:
                if not future.done():
                    future.set_result(True if token in found else None)

    async def _commit(self, batch: list[tuple[str, str, str, datetime, asyncio.Future]]) -> set[str]:
        found: set[str] = set()
        # One statement per kind (and way of confirming) for the whole batch; the earliest
        # request time of each token stands for it (they are milliseconds apart).
        groups: dict[tuple[str, str], dict[str, datetime]] = {}
        for kind, token, via, now, _ in batch:
            group = groups.setdefault((kind, via), {})
            group[token] = min(now, group.get(token, now))
        async with frequent_writes():
            # Raw SQL, the tokens as one parameter: Piccolo cleans each value of is_in() or of
            # a placeholder at more cost than the query itself.
            for (kind, via), times in sorted(groups.items()):
                now = min(times.values())
                if kind == CONFIRM:
                    found |= await store.confirm_tokens(list(times), via, now)
                else:
                    found |= await store.open_tokens(list(times), now)
            # Tokens that changed nothing: a second tap, or no such read link.
            if unchanged := sorted({token for _, token, *_ in batch} - found):
                found |= await store.existing_tokens(unchanged)
        return found


_writers: dict[int, ReceiptWriter] = {}


def receipt_writer() -> ReceiptWriter:
    """The writer of this event loop (futures belong to the loop that made them)."""
    loop_id = id(asyncio.get_running_loop())
    writer = _writers.get(loop_id)
    if writer is None:
        if len(_writers) > 16:  # loops of finished test runs
            _writers.clear()
        writer = _writers[loop_id] = ReceiptWriter()
    return writer


async def drain_receipts() -> None:
    """Commit the receipts still waiting in this event loop (before its connections close)."""
    writer = _writers.get(id(asyncio.get_running_loop()))
    if writer is not None:
        await writer.drain()


# -- one-click unsubscribe (RFC 8058) ------------------------------------------------------


@dataclass(frozen=True)
class UnsubscribeResult:
    new_channel: str  # "line" | "paper"
    changed: bool


async def household_for_token(token: str) -> dict[str, Any] | None:
    if not token or len(token) > 64:
        return None
    row = await Delivery.select(Delivery.household, Delivery.association).where(Delivery.token == token).first()
    if row is None:
        return None
    return await Household.select(Household.id, Household.channel, Household.association).where(
        (Household.id == row["household"]) & (Household.association == row["association"])
    ).first()


async def reachable(household_id: int, channel: str) -> bool:
    """Whether a registered channel can reach this household now."""
    condition = channels.reachable_sql(channel)
    if not condition:
        return False
    rows = await Household.raw(
        f"SELECT 1 AS reachable FROM household h WHERE h.id = {{}} AND ({condition})", household_id
    )
    return bool(rows)


async def unsubscribe_by_token(token: str, now: datetime | None = None) -> UnsubscribeResult | None:
    """Stop e-mail for the household of this read link: LINE if linked, else paper. Recorded for
    officers in the audit log; e-mails not yet sent to it go on paper instead."""
    household = await household_for_token(token)
    if household is None:
        return None
    now = now or datetime.now(UTC)
    if household["channel"] != "email":
        return UnsubscribeResult(household["channel"], changed=False)
    new_channel = "line" if await reachable(household["id"], "line") else channels.FALLBACK
    async with write_transaction():
        await Household.update({Household.channel: new_channel, Household.updated_at: now}).where(
            (Household.id == household["id"]) & (Household.channel == "email")
        )
        await store.reroute_pending(channels.FALLBACK, None, household_id=household["id"], from_channel="email", clear_error=True)
        await AuditEntry.insert(
            AuditEntry(
                association=household["association"],
                household=household["id"],
                action="delivery.unsubscribe",
                detail=f"メールの受け取りをやめました（{CHANNEL_LABELS[new_channel]}に切り替え）",
                created_at=now,
            )
        )
    return UnsubscribeResult(new_channel, changed=True)
