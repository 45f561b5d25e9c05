"""The read link /r/{token}: the page (recorded as opened), 「読みました」 (group-committed),
the files of the content behind it, and one-click unsubscribe (RFC 8058).

What the page shows comes from the content's owner through the port
(``chonaikai.delivery.content``); the rows are written by ``chonaikai.delivery.store``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chonaikai.accounts.tables import AuditEntry
from chonaikai.db import (
    fetch_rows,
    frequent_writes,
    get_engine,
    in_values,
    is_postgres,
    write_transaction,
)
from chonaikai.delivery import channels, content, store
from chonaikai.delivery.tables import Delivery
from chonaikai.roster.tables import Household
from chonaikai.settings import get_settings
from chonaikai.tenancy.scope import Tenant
from chonaikai.tenancy.tables import Association

log = logging.getLogger(__name__)


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
    shared: SharedRead | None = field(default=None, compare=False, repr=False)
    own: bool = False  # the page shows something of the household's own (an answer)

    @property
    def association_slug(self) -> str:
        """For a plain link to the association's board (nothing more is shown here)."""
        return self.tenant.slug if self.tenant else ""


@dataclass
class SharedRead:
    """What every read page of one piece of content shares: the content, its association and
    (filled by the route) the pages rendered with stand-ins for the token and CSRF value
    (``read_front.SharedPage``, by ``read_front.page_key``)."""

    readable: Any
    association: dict[str, Any]
    tenant: Tenant
    expires: float
    pages: dict[Any, str] = field(default_factory=dict)


class SharedReads:
    """Per web process, for ``CHONAIKAI_PAGE_CACHE_SECONDS`` like the public pages, and
    forgotten with them: at once after a write through this process, within a second after a
    change anywhere (chonaikai.page_changes). When a circular reaches 120,000 households they
    all open the same notice: one load of it instead of three queries and a Markdown render each."""

    MAX_ENTRIES = 2000

    def __init__(self, seconds: int | None = None) -> None:
        self._entries: dict[tuple[int, int], SharedRead] = {}
        self._loading: dict[tuple[int, int], asyncio.Future] = {}
        self.seconds = seconds  # None: CHONAIKAI_PAGE_CACHE_SECONDS (the app sets its own)

    async def get(self, association_id: int, content_id: int) -> SharedRead | None:
        key = (association_id, content_id)
        kept = self._entries.get(key)
        if kept is not None and kept.expires > time.monotonic():
            return kept
        # The first readers of a notice arrive together (a circular's e-mails go out at once):
        # one load for all of them, not one each (on PostgreSQL they queued for the pool).
        loading = self._loading.get(key)
        if loading is None or loading.get_loop() is not asyncio.get_running_loop():
            loading = self._loading[key] = asyncio.ensure_future(self._load(association_id, content_id))
            loading.add_done_callback(lambda done: self._loading.pop(key, None) if self._loading.get(key) is done else None)
        return await asyncio.shield(loading)

    async def _load(self, association_id: int, content_id: int) -> SharedRead | None:
        key = (association_id, content_id)
        now = time.monotonic()
        readable = await content.source().read_content(association_id, content_id)
        association = await Association.select().where(Association.id == association_id).first()
        if readable is None or association is None:
            self._entries.pop(key, None)
            return None
        seconds = self.seconds if self.seconds is not None else get_settings().page_cache_seconds
        kept = SharedRead(readable, association, Tenant.from_row(association), now + seconds)
        if seconds > 0:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = kept
        return kept

    def peek(self, association_id: int, content_id: int) -> SharedRead | None:
        """What is kept of this content, without loading it (the read front's question)."""
        kept = self._entries.get((association_id, content_id))
        return kept if kept is not None and kept.expires > time.monotonic() else None

    def forget_association(self, slug: str) -> None:
        for key in [key for key, kept in self._entries.items() if kept.tenant.slug == slug]:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()


shared_reads = SharedReads()


@dataclass(frozen=True)
class Link:
    """A read link as one lookup finds it: its delivery row, whether its household still lives
    there and is in the content's audience (``current``), and whether its page shows something
    of the household's own (``own``: an answer given), so that the shared page is not its page."""

    delivery_id: int
    content_id: int
    association_id: int
    household_id: int
    opened: bool
    confirmed_at: datetime | None
    current: bool
    own: bool


_LOOKUP_SQL: dict[bool, str] = {}  # by database kind (how a list of tokens is one parameter)


def _lookup_sql() -> str:
    """One statement for everything visits need to know (it was four queries a visit), for the
    tokens given as one parameter."""
    postgres = is_postgres()
    if postgres not in _LOOKUP_SQL:
        source = content.source()
        in_audience = source.in_audience_sql("d.notice", "d.household")
        own = source.own_part_sql("d.notice", "d.household")
        tokens, _ = in_values([""])
        _LOOKUP_SQL[postgres] = (
            "SELECT d.token, d.id, d.notice, d.association, d.household, d.opened_at, d.confirmed_at, "
            "CASE WHEN h.id IS NULL OR h.moved_out OR h.erased_at IS NOT NULL THEN 0 "
            f"WHEN {in_audience} THEN 1 ELSE 0 END AS current, "
            f"CASE WHEN {own} THEN 1 ELSE 0 END AS own "
            "FROM delivery d LEFT JOIN household h ON h.id = d.household AND h.association = d.association "
            f"WHERE d.token {tokens}"
        )
    return _LOOKUP_SQL[postgres]


async def _look_up(tokens: list[str]) -> dict[str, Link]:
    _, value = in_values(tokens)
    return {
        row["token"]: Link(
            row["id"], row["notice"], row["association"], row["household"], row["opened_at"] is not None,
            _timestamp(row["confirmed_at"]), bool(row["current"]), bool(row["own"]),
        )
        for row in await fetch_rows(_lookup_sql(), value)
    }


class LinkLookups:
    """Visits arriving together are looked up together: the tokens of the requests read in one
    turn of the event loop go to the database in one statement. When a notice reaches every
    household at once, a statement (a round trip, on SQLite a hop to the connection's thread)
    per visit was most of a visit's cost. A visit waits for one statement, shared with the
    visits of the same turn; batches do not wait for each other."""

    MAX_BATCH = 200

    def __init__(self) -> None:
        self.waiting: dict[str, list[asyncio.Future]] = {}
        self.scheduled = False
        self.running: set[asyncio.Task] = set()

    async def get(self, token: str) -> Link | None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.waiting.setdefault(token, []).append(future)
        if not self.scheduled:
            self.scheduled = True
            loop.call_soon(self._start)
        return await future

    def _start(self) -> None:
        self.scheduled = False
        waiting, self.waiting = self.waiting, {}
        tokens = list(waiting)
        for start in range(0, len(tokens), self.MAX_BATCH):
            batch = {token: waiting[token] for token in tokens[start : start + self.MAX_BATCH]}
            task = asyncio.ensure_future(self._run(batch))
            self.running.add(task)
            task.add_done_callback(self.running.discard)

    async def _run(self, batch: dict[str, list[asyncio.Future]]) -> None:
        try:
            found = await _look_up(list(batch))
        except Exception as error:  # every visitor waiting learns it failed (their 500)
            for futures in batch.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(error)
            return
        for token, futures in batch.items():
            for future in futures:
                if not future.done():
                    future.set_result(found.get(token))


_lookups: dict[int, LinkLookups] = {}


async def lookup(token: str) -> Link | None:
    """The read link behind a token (None: no such link)."""
    if not token or len(token) > 64:
        return None
    if get_engine().current_transaction.get() is not None:  # a caller's transaction: in it, alone
        return (await _look_up([token])).get(token)
    return await _of_this_loop(_lookups, LinkLookups).get(token)


async def open_by_token(token: str, now: datetime | None = None) -> ReadView | Withdrawn | None:
    """The content behind a read link, recording the first visit as opened (within a second,
    without waiting: see ``ReceiptWriter.note_open``). None: unknown token; WITHDRAWN: its
    household is no longer in the audience.

    The token shows this one piece of content and nothing else: not the household, not others.
    """
    link = await lookup(token)
    if link is None:
        return None
    shared = await shared_reads.get(link.association_id, link.content_id)
    if shared is None:
        return None
    if not link.current:
        return WITHDRAWN
    if not link.opened:
        receipt_writer().note_open(token, now)  # written within a second; nobody waits
    readable = shared.readable
    return ReadView(
        link.delivery_id, token, readable.item, shared.association["name"], link.confirmed_at,
        tenant=shared.tenant, attachments=readable.attachments, body_html=readable.body_html, shared=shared,
        own=link.own,
    )


def _timestamp(value: Any) -> datetime | None:
    """A raw query on SQLite returns timestamps as text."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


async def attachment_by_token(token: str, attachment_id: int) -> tuple[dict[str, Any], bytes] | None:
    """A file of the content behind a read link (and of no other), while the link still shows it."""
    link = await lookup(token)
    if link is None or not link.current:
        return None
    return await content.source().attachment(link.association_id, link.content_id, attachment_id)


async def link_state(token: str) -> Withdrawn | bool | None:
    """Before 「読みました」 is taken from a read link: True while it still shows its content to its
    household, WITHDRAWN once it does not, None for an unknown token."""
    link = await lookup(token)
    if link is None:
        return None
    return True if link.current else WITHDRAWN


async def confirm_by_token(token: str, via: str = "web", now: datetime | None = None) -> bool | None:
    """「読みました」: records the first confirmation (idempotent). None: unknown token.
    (The read link's page asks ``link_state`` first.)"""
    if not token or len(token) > 64:
        return None
    return await receipt_writer().write(CONFIRM, token, via, now)


OPEN = "open"
CONFIRM = "confirm"
OPEN_SECONDS = 1.0  # the longest a visit waits to be written (docs/delivery.md: what a crash loses)


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
        self.pending: list[tuple[str, str, str, datetime, asyncio.Future | None]] = []
        self.flushers: set[asyncio.Task] = set()
        self.running = 0
        # Visits of read links: nobody waits for them, so they are gathered for up to
        # OPEN_SECONDS and written with one statement (a crash loses at most that much).
        self.opens: dict[str, datetime] = {}
        self.open_timer: asyncio.TimerHandle | None = None

    async def write(self, kind: str, token: str, via: str, now: datetime | None) -> bool | None:
        future = asyncio.get_running_loop().create_future()
        self.pending.append((kind, token, via, now or datetime.now(UTC), future))
        self._start_flusher()
        return await future

    def note_open(self, token: str, now: datetime | None = None) -> None:
        """A read link was opened: written with the commit that follows within OPEN_SECONDS."""
        self.opens.setdefault(token, now or datetime.now(UTC))
        if self.open_timer is None:
            self.open_timer = asyncio.get_running_loop().call_later(OPEN_SECONDS, self._opens_due)

    def _opens_due(self) -> None:
        self.open_timer = None
        opens, self.opens = self.opens, {}
        self.pending.extend((OPEN, token, "", moment, None) for token, moment in opens.items())
        if opens:
            self._start_flusher()

    def _start_flusher(self) -> None:
        # ``running`` counts flushers still inside their loop; it drops in the same step as a
        # flusher's last look at ``pending`` (a done-callback runs a loop turn later, and a
        # receipt handed in between would wait for a flusher that had already left).
        if self.running < self.commits_in_flight:
            self.running += 1
            flusher = asyncio.ensure_future(self._flush())
            self.flushers.add(flusher)
            flusher.add_done_callback(self.flushers.discard)

    async def drain(self) -> None:
        """Wait until every receipt handed in is committed, visits too (the server's shutdown)."""
        if self.open_timer is not None:
            self.open_timer.cancel()
        self._opens_due()
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
                    if future is not None and not future.done():
                        future.set_exception(error)
                if not any(future for *_, future in batch):
                    log.exception("read links opened but not recorded: %d", len(batch), exc_info=error)
                continue
            for _, token, _, _, future in batch:
                if future is not None and not future.done():
                    future.set_result(True if token in found else None)

    async def _commit(self, batch: list[tuple[str, str, str, datetime, asyncio.Future | None]]) -> set[str]:
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
            if unchanged := sorted({token for _, token, _, _, future in batch if future is not None} - found):
                found |= await store.existing_tokens(unchanged)
        return found


_writers: dict[int, ReceiptWriter] = {}


def receipt_writer() -> ReceiptWriter:
    """The writer of this event loop."""
    return _of_this_loop(_writers, ReceiptWriter)


def _of_this_loop(kept: dict[int, Any], make: Any) -> Any:
    """One per event loop: the futures they hand out belong to the loop that made them."""
    loop_id = id(asyncio.get_running_loop())
    found = kept.get(loop_id)
    if found is None:
        if len(kept) > 16:  # loops of finished test runs
            kept.clear()
        found = kept[loop_id] = make()
    return found


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
