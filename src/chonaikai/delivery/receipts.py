"""Read receipts: the read link (opened / 「読みました」), one-click unsubscribe, officers' ticks,
「未確認の世帯に再送」, and the who-has-read summary (aggregated in SQL)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from piccolo.query.functions.aggregate import Count

from chonaikai.accounts.principal import Access
from chonaikai.accounts.tables import AuditEntry
from chonaikai.db import frequent_writes, in_values, is_postgres, write_transaction
from chonaikai.delivery import channels
from chonaikai.delivery.tables import Delivery
from chonaikai.notices.tables import Notice
from chonaikai.roster.tables import Han, Household
from chonaikai.tenancy.scope import Tenant
from chonaikai.tenancy.tables import Association

RESEND_INTERVAL = timedelta(hours=24)
CHANNEL_LABELS = {"email": "メール", "line": "LINE", "paper": "紙（回覧板）"}
STATUS_LABELS = {
    "pending": "送信待ち",
    "sending": "送信中",
    "sent": "送りました",
    "failed": "届きませんでした",
    "printed": "印刷しました",
}
PAPER_PENDING_LABEL = "印刷待ち"
CONFIRMED_VIA_LABELS = {"web": "リンクから", "line": "LINEから", "paper": "回覧板", "officer": "役員が記入"}
NO_HAN = "班なし"


def status_label(channel: str, status: str) -> str:
    if channel == "paper" and status == "pending":
        return PAPER_PENDING_LABEL
    return STATUS_LABELS.get(status, status)


# -- the read link -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadView:
    delivery_id: int
    token: str
    notice: dict[str, Any]
    association_name: str
    confirmed_at: datetime | None
    tenant: Tenant | None = None
    attachments: list[Any] = field(default_factory=list)

    @property
    def association_slug(self) -> str:
        """For a plain link to the association's board (nothing more is shown here)."""
        return self.tenant.slug if self.tenant else ""

    @property
    def body_html(self) -> Any:
        """The body as the notice board renders it (sanitised), or None to show plain text."""
        return render_body_html(self.notice["body"])


def render_body_html(body: str) -> Any:
    try:
        from chonaikai.notices.render import render_html  # type: ignore[import-not-found]
    except ImportError:  # the notice board's renderer is not in this build: plain text
        return None
    return render_html(body)


async def open_by_token(token: str, now: datetime | None = None) -> ReadView | None:
    """The notice behind a read link, recording the first visit as opened. None: unknown token.

    The token shows this one notice and nothing else: not the household, not other notices.
    """
    if not token or len(token) > 64:
        return None
    row = await Delivery.select(
        Delivery.id,
        Delivery.token,
        Delivery.opened_at,
        Delivery.confirmed_at,
        Delivery.notice,
        Delivery.association,
    ).where(Delivery.token == token).first()
    if row is None:
        return None
    notice = await Notice.select(
        Notice.id, Notice.title, Notice.body, Notice.category, Notice.urgent, Notice.published_at,
        Notice.answer_by, Notice.author_title, Notice.status,
    ).where((Notice.id == row["notice"]) & (Notice.association == row["association"])).first()
    if notice is None or notice["status"] not in ("published", "archived"):
        return None
    association = await Association.select().where(Association.id == row["association"]).first()
    if association is None:
        return None
    if row["opened_at"] is None:
        await receipt_writer().write(OPEN, row["token"], "", now)
    tenant = Tenant.from_row(association)
    return ReadView(
        row["id"], row["token"], notice, association["name"], row["confirmed_at"],
        tenant=tenant, attachments=await _attachments(tenant, notice["id"]),
    )


async def _attachments(tenant: Tenant, notice_id: int) -> list[Any]:
    try:
        from chonaikai.notices.attachments import list_attachments  # type: ignore[import-not-found]
    except ImportError:
        return []
    return await list_attachments(tenant, notice_id)


async def attachment_by_token(token: str, attachment_id: int) -> tuple[dict[str, Any], bytes] | None:
    """A file of the notice behind a read link (and of no other notice)."""
    if not token or len(token) > 64:
        return None
    row = await Delivery.select(Delivery.notice, Delivery.association).where(Delivery.token == token).first()
    if row is None:
        return None
    notice = await Notice.select(Notice.status).where(
        (Notice.id == row["notice"]) & (Notice.association == row["association"])
    ).first()
    association = await Association.select().where(Association.id == row["association"]).first()
    if notice is None or notice["status"] not in ("published", "archived") or association is None:
        return None
    try:
        from chonaikai.notices.attachments import find_attachment, read_attachment  # type: ignore[import-not-found]
    except ImportError:
        return None
    attachment = await find_attachment(Tenant.from_row(association), row["notice"], attachment_id)
    if attachment is None:
        return None
    try:
        return attachment, await read_attachment(attachment)
    except FileNotFoundError:
        return None


async def confirm_by_token(token: str, via: str = "web", now: datetime | None = None) -> bool | None:
    """「読みました」: records the first confirmation (idempotent). None: unknown token."""
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

    async def write(self, kind: str, token: str, via: str, now: datetime | None) -> bool | None:
        future = asyncio.get_running_loop().create_future()
        self.pending.append((kind, token, via, now or datetime.now(UTC), future))
        if len(self.flushers) < self.commits_in_flight:
            flusher = asyncio.ensure_future(self._flush())
            self.flushers.add(flusher)
            flusher.add_done_callback(self.flushers.discard)
        return await future

    async def drain(self) -> None:
        """Wait until every receipt handed in is committed (the server's shutdown)."""
        while self.flushers:
            await asyncio.wait(set(self.flushers))

    async def _flush(self) -> None:
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
                tokens_sql, tokens = in_values(sorted(times))
                if kind == CONFIRM:
                    rows = await Delivery.raw(
                        "UPDATE delivery SET confirmed_at = {}, confirmed_via = {}, opened_at = COALESCE(opened_at, {}) "
                        f"WHERE token {tokens_sql} AND confirmed_at IS NULL RETURNING token",
                        now, via, now, tokens,
                    )
                else:
                    rows = await Delivery.raw(
                        f"UPDATE delivery SET opened_at = {{}} WHERE token {tokens_sql} AND opened_at IS NULL RETURNING token",
                        now, tokens,
                    )
                found.update(row["token"] for row in rows)
            # Tokens that changed nothing: a second tap, or no such read link.
            if unchanged := sorted({token for _, token, *_ in batch} - found):
                tokens_sql, tokens = in_values(unchanged)
                rows = await Delivery.raw(f"SELECT token FROM delivery WHERE token {tokens_sql}", tokens)
                found.update(row["token"] for row in rows)
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


async def line_linked(household_id: int) -> bool:
    if not channels.LINE_LINKED_SQL:
        return False
    rows = await Household.raw(
        f"SELECT 1 AS linked FROM household h WHERE h.id = {{}} AND ({channels.LINE_LINKED_SQL})", household_id
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
    new_channel = "line" if await line_linked(household["id"]) else "paper"
    async with write_transaction():
        await Household.update({Household.channel: new_channel, Household.updated_at: now}).where(
            (Household.id == household["id"]) & (Household.channel == "email")
        )
        await Delivery.update(
            {Delivery.channel: "paper", Delivery.next_attempt_at: None, Delivery.last_error: ""}
        ).where(
            (Delivery.household == household["id"])
            & (Delivery.channel == "email")
            & (Delivery.status == "pending")
        )
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


# -- officers ------------------------------------------------------------------------------


def _han_clause(access: Access):
    """Narrows deliveries to the 班 a 班長 leads (None: the whole association)."""
    if access.han_ids is None:
        return None
    if not access.han_ids:
        return Delivery.id == -1
    return Delivery.household.han.is_in(sorted(access.han_ids))


def _where(query, *clauses):
    for clause in clauses:
        if clause is not None:
            query = query.where(clause)
    return query


async def find_notice(tenant: Tenant, notice_id: int) -> dict[str, Any] | None:
    return await tenant.select(Notice, Notice.id, Notice.title, Notice.status, Notice.published_at, Notice.audience).where(
        Notice.id == notice_id
    ).first()


@dataclass
class Summary:
    total: int = 0
    confirmed: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)  # channel -> total/confirmed
    by_han: list[dict[str, Any]] = field(default_factory=list)  # han_id, name, total, confirmed

    @property
    def percent(self) -> int:
        return round(100 * self.confirmed / self.total) if self.total else 0


async def summarize(tenant: Tenant, access: Access, notice_id: int) -> Summary:
    """Counts per status, per channel and per 班: three GROUP BY queries."""
    han_clause = _han_clause(access)
    base = Delivery.notice == notice_id
    summary = Summary()
    statuses = await _where(
        tenant.select(Delivery, Delivery.status, Count(alias="n")), base, han_clause
    ).group_by(Delivery.status)
    summary.by_status = {row["status"]: row["n"] for row in statuses}
    by_channel = await _where(
        tenant.select(Delivery, Delivery.channel, Count(alias="n"), Count(Delivery.confirmed_at, alias="confirmed")),
        base,
        han_clause,
    ).group_by(Delivery.channel)
    summary.by_channel = {row["channel"]: {"total": row["n"], "confirmed": row["confirmed"]} for row in by_channel}
    summary.total = sum(row["n"] for row in by_channel)
    summary.confirmed = sum(row["confirmed"] for row in by_channel)
    by_han = await _where(
        tenant.select(
            Delivery, Delivery.household.han.as_alias("han_id"), Count(alias="n"),
            Count(Delivery.confirmed_at, alias="confirmed"),
        ),
        base,
        han_clause,
    ).group_by(Delivery.household.han)
    names = {row["id"]: (row["position"], row["name"]) for row in await tenant.select(Han, Han.id, Han.name, Han.position)}
    rows = [
        {
            "han_id": row["han_id"],
            "name": names.get(row["han_id"], (0, NO_HAN))[1] if row["han_id"] else NO_HAN,
            "position": names.get(row["han_id"], (1 << 30, ""))[0] if row["han_id"] else 1 << 31,
            "total": row["n"],
            "confirmed": row["confirmed"],
            "percent": round(100 * row["confirmed"] / row["n"]) if row["n"] else 0,
        }
        for row in by_han
    ]
    summary.by_han = sorted(rows, key=lambda r: (r["position"], r["name"]))
    return summary


async def households(
    tenant: Tenant,
    access: Access,
    notice_id: int,
    *,
    unconfirmed_only: bool = False,
    han_id: int | None = None,
    channel: str | None = None,
    delivery_ids: list[int] | None = None,
    limit: int = 2000,
) -> list[dict[str, Any]]:
    query = tenant.select(
        Delivery,
        Delivery.id,
        Delivery.household,
        Delivery.household.name.as_alias("name"),
        Delivery.household.han.as_alias("han_id"),
        Delivery.household.han.name.as_alias("han"),
        Delivery.channel,
        Delivery.status,
        Delivery.attempts,
        Delivery.last_error,
        Delivery.sent_at,
        Delivery.opened_at,
        Delivery.confirmed_at,
        Delivery.confirmed_via,
        Delivery.reminded_at,
        Delivery.next_attempt_at,
    )
    query = _where(
        query,
        Delivery.notice == notice_id,
        _han_clause(access),
        Delivery.confirmed_at.is_null() if unconfirmed_only else None,
        (Delivery.household.han == han_id) if han_id else None,
        (Delivery.channel == channel) if channel else None,
        Delivery.id.is_in(delivery_ids) if delivery_ids else None,
    )
    rows = await query.order_by(Delivery.household.han.position, Delivery.household.kana, Delivery.household.id).limit(limit)
    for row in rows:
        row["han"] = row["han"] or NO_HAN
        row["channel_label"] = CHANNEL_LABELS.get(row["channel"], row["channel"])
        row["status_label"] = status_label(row["channel"], row["status"])
        row["confirmed_via_label"] = CONFIRMED_VIA_LABELS.get(row["confirmed_via"], "")
    return rows


async def tick(
    tenant: Tenant, access: Access, notice_id: int, household_id: int, now: datetime | None = None
) -> dict[str, Any] | None:
    """An officer records a confirmation by hand (told in person, paper 回覧板 returned).
    Returns the updated row, or None when the household is not theirs to tick."""
    now = now or datetime.now(UTC)
    row = await _where(
        tenant.select(Delivery, Delivery.id),
        Delivery.notice == notice_id,
        Delivery.household == household_id,
        _han_clause(access),
    ).first()
    if row is None:
        return None
    async with write_transaction():
        await tenant.update(
            Delivery, {Delivery.confirmed_at: now, Delivery.confirmed_via: "officer"}
        ).where((Delivery.id == row["id"]) & Delivery.confirmed_at.is_null())
    [updated] = await households_by_ids(tenant, access, notice_id, [row["id"]])
    return updated


async def households_by_ids(tenant: Tenant, access: Access, notice_id: int, ids: list[int]) -> list[dict[str, Any]]:
    return await households(tenant, access, notice_id, delivery_ids=ids)


@dataclass(frozen=True)
class ResendResult:
    queued: int  # e-mails queued again
    too_soon: int  # unconfirmed e-mail households that got one in the last 24 hours


async def resend_unconfirmed(
    tenant: Tenant, access: Access, notice_id: int, now: datetime | None = None
) -> ResendResult:
    """「未確認の世帯に再送」: e-mail again to households that have not confirmed, at most once in
    24 hours per household (counting the first send)."""
    now = now or datetime.now(UTC)
    cutoff = now - RESEND_INTERVAL
    unconfirmed = _where(
        tenant.select(Delivery, Delivery.id, Delivery.sent_at, Delivery.reminded_at),
        Delivery.notice == notice_id,
        Delivery.channel == "email",
        Delivery.status == "sent",
        Delivery.confirmed_at.is_null(),
        _han_clause(access),
    )
    rows = await unconfirmed
    due = [
        row["id"]
        for row in rows
        if max(t for t in (row["sent_at"], row["reminded_at"], cutoff - timedelta(days=1)) if t is not None) <= cutoff
    ]
    if due:
        async with write_transaction():
            for start in range(0, len(due), 500):
                await tenant.update(
                    Delivery,
                    {
                        Delivery.status: "pending",
                        Delivery.next_attempt_at: now,
                        Delivery.reminded_at: now,
                        Delivery.attempts: 0,
                        Delivery.last_error: "",
                        # A reminder is a new message: a LINE retry key of the first send would
                        # make LINE answer 409 and send nothing.
                        Delivery.retry_key: None,
                    },
                ).where(
                    Delivery.id.is_in(due[start : start + 500])
                    & (Delivery.status == "sent")
                    & Delivery.confirmed_at.is_null()
                )
    return ResendResult(queued=len(due), too_soon=len(rows) - len(due))
