"""LINE as a channel of the outbox (``chonaikai.delivery.channels.Channel``).

A batch of claimed deliveries is grouped by (LINE channel, notice): every recipient of a
notice on a channel gets the same message, so each group goes by multicast, at most 500 user
ids a call. Each call has an ``X-Line-Retry-Key`` written to its deliveries (``retry_key``)
BEFORE the first attempt, so that after a timeout or a 5xx — when LINE may have accepted the
call after all — the retry carries the same key and LINE answers 409 instead of sending twice;
409 means sent.

Blocked users: LINE answers 200 to a multicast that includes them and delivers nothing, so a
send cannot tell us. We learn of blocks from ``unfollow`` webhook events (and profile 404s,
``links.check_links``); those households lose their active link and fall back to e-mail or
paper. A delivery still queued for LINE whose household has no active link fails at once,
with a reason officers can read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable

from chonaikai.db import in_ids, is_postgres, write_transaction
from chonaikai.delivery import api as delivery
from chonaikai.delivery.channels import ChannelSpec, DeliveryJob, Outcome
from chonaikai.line import messages
from chonaikai.line.api import MULTICAST_LIMIT, LineApi, PreparedMessages
from chonaikai.line.api import Outcome as LineOutcome
from chonaikai.line.config import LineChannel, LineNotConfigured, channel_for_association
from chonaikai.line.links import tenant_by_id
from chonaikai.line.tables import LineLink
from chonaikai.notices.questions import load_question
from chonaikai.notices.tables import Notice
from chonaikai.roster import reach
from chonaikai.tenancy.scope import Tenant

log = logging.getLogger(__name__)

REASON_NOT_LINKED = (
    "LINEがつながっていません（ブロックされたか、登録が外れています）。メールか紙の回覧板でお届けください。"
)
REASON_QUOTA = (
    "今月のLINE送信数の上限に達したため送れませんでした。メールか紙の回覧板でお届けください"
    "（「設定 › LINE」で残りの数を確認できます）。"
)
REASON_RETRY = "LINEが混み合っているか応答がありません。しばらくしてからもう一度送ります。"
REASON_AUTH = "LINEの設定（アクセストークン）が正しくないため送れませんでした。運用担当者に連絡してください。もう一度試します。"
REASON_REJECTED = "LINEがこのお知らせを受け付けませんでした。内容を確かめてください。"
REASON_NOT_CONFIGURED = "この町内会のLINEが設定されていません。運用担当者に連絡してください。"
CACHE_SECONDS = 60.0
MAX_PARALLEL_CALLS = 8  # per worker; LINE allows ~200 multicast requests a second per channel


def chunk_households(households: list[tuple[int, list[str]]], limit: int = MULTICAST_LIMIT) -> list[list[tuple[int, list[str]]]]:
    """Split (delivery id, user ids) into calls of at most ``limit`` user ids, keeping each
    household's users in one call (a delivery is sent, or not, as a whole)."""
    chunks: list[list[tuple[int, list[str]]]] = []
    current: list[tuple[int, list[str]]] = []
    size = 0
    for delivery_id, user_ids in households:
        if current and size + len(user_ids) > limit:
            chunks.append(current)
            current, size = [], 0
        current.append((delivery_id, user_ids[:limit]))
        size += len(user_ids[:limit])
    if current:
        chunks.append(current)
    return chunks


class LineChannelSender:
    name = "line"
    # One claim is several calls' worth, sent MAX_PARALLEL_CALLS at a time: with one lane and
    # one call per claim our calls never overlapped. Retry groups stay whole: the worker claims
    # the rest of each group with any row of it, and the claim is what this channel sends.
    batch_size = MULTICAST_LIMIT * MAX_PARALLEL_CALLS
    # One lane per worker: two lanes could split the rows of one retry key between two calls
    # (see Worker._claim_rest_of_retry_groups).
    max_lanes = 1
    # The worker claims the next batch while this one's calls are in flight, gives each group of
    # at most 500 claimed rows of a notice its retry key in the claim's own write (stored before
    # any call, without writing every row a second time), and skips the households' e-mail and
    # names, which LINE does not use.
    claim_ahead = True
    key_group = MULTICAST_LIMIT
    needs_households = False

    def __init__(self, api_base: str | None = None, timeout: float | None = None) -> None:
        self.api_base = api_base
        self.timeout = timeout
        self._apis: dict[str, LineApi] = {}
        self._tenants: dict[int, Tenant] = {}
        # A 120,000-household notice is 240 batches: look the channel and the message up once a
        # minute, not once a batch (an edited notice or a new token is picked up within a minute).
        self._channels: dict[int, tuple[float, LineChannel | LineNotConfigured]] = {}
        self._messages: dict[int, tuple[float, PreparedMessages]] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for api in self._apis.values():
            await api.close()
        self._apis.clear()

    def _api(self, channel: LineChannel) -> LineApi:
        api = self._apis.get(channel.channel_id)
        if api is None or api.channel != channel:
            kwargs = {"timeout": self.timeout} if self.timeout else {}
            api = self._apis[channel.channel_id] = LineApi(channel, api_base=self.api_base, **kwargs)
        return api

    async def send(self, batch: list[DeliveryJob]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        calls: list[tuple[LineApi, str, PreparedMessages, list[tuple[int, list[str]]]]] = []
        by_association: dict[int, list[DeliveryJob]] = defaultdict(list)
        for job in batch:
            by_association[job.association_id].append(job)

        for association_id, jobs in by_association.items():
            channel = await self._channel(association_id)
            if isinstance(channel, LineNotConfigured):
                log.warning("LINE not configured for association %s: %s", association_id, channel)
                outcomes.extend(Outcome.retry(job.delivery_id, REASON_NOT_CONFIGURED) for job in jobs)
                continue
            tenant = self._tenants.get(association_id) or await tenant_by_id(association_id)
            self._tenants[association_id] = tenant
            users = await self._linked_users(tenant, channel.channel_id, {job.household_id for job in jobs})
            notices = await self._notice_messages(tenant, {job.notice_id for job in jobs})
            by_notice: dict[int, list[DeliveryJob]] = defaultdict(list)
            for job in jobs:
                if not users.get(job.household_id):
                    outcomes.append(Outcome.permanent(job.delivery_id, REASON_NOT_LINKED))
                elif job.notice_id not in notices:
                    outcomes.append(Outcome.permanent(job.delivery_id, REASON_REJECTED))
                else:
                    by_notice[job.notice_id].append(job)
            for notice_id, notice_jobs in by_notice.items():
                message = notices[notice_id]
                for key, chunk in await self._keyed_chunks(tenant, notice_jobs, users):
                    calls.append((self._api(channel), key, message, chunk))

        semaphore = asyncio.Semaphore(MAX_PARALLEL_CALLS)

        async def call(api: LineApi, key: str, message: PreparedMessages, chunk: list[tuple[int, list[str]]]) -> list[Outcome]:
            user_ids = [user_id for _, ids in chunk for user_id in ids]
            async with semaphore:
                result = await api.multicast(user_ids, message, key)
            return [self._outcome(delivery_id, key, result.outcome) for delivery_id, _ in chunk]

        for result in await asyncio.gather(*(call(*c) for c in calls)):
            outcomes.extend(result)
        return outcomes

    async def _channel(self, association_id: int) -> LineChannel | LineNotConfigured:
        cached = self._channels.get(association_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        try:
            channel: LineChannel | LineNotConfigured = await channel_for_association(association_id)
        except LineNotConfigured as error:
            channel = error
        self._channels[association_id] = (time.monotonic() + CACHE_SECONDS, channel)
        return channel

    async def _notice_messages(self, tenant: Tenant, notice_ids: set[int]) -> dict[int, PreparedMessages]:
        """The one message of each notice (built, validated by the SDK and serialised once, not per call)."""
        now = time.monotonic()
        result = {nid: cached[1] for nid in notice_ids if (cached := self._messages.get(nid)) and cached[0] > now}
        missing = sorted(notice_ids - set(result))
        if missing:
            for notice in await tenant.select(Notice).where(Notice.id.is_in(missing)):
                question = load_question(notice["question"], notice["answer_deadline"])
                flex = messages.notice_message(
                    tenant.name, notice["id"], notice["title"], notice["body"], urgent=notice["urgent"],
                    needs_confirmation=notice["needs_confirmation"],
                    choices=() if question.is_confirm else question.choices, deadline=question.deadline_text(),
                )
                prepared = PreparedMessages([flex])
                self._messages[notice["id"]] = (now + CACHE_SECONDS, prepared)
                result[notice["id"]] = prepared
        return result

    @staticmethod
    def _outcome(delivery_id: int, key: str, outcome: LineOutcome) -> Outcome:
        if outcome in (LineOutcome.SENT, LineOutcome.ALREADY_SENT):
            return Outcome.sent(delivery_id, retry_key=key)
        if outcome == LineOutcome.QUOTA:
            return Outcome.permanent(delivery_id, REASON_QUOTA)
        if outcome == LineOutcome.REJECTED:
            return Outcome.permanent(delivery_id, REASON_REJECTED)
        reason = REASON_AUTH if outcome == LineOutcome.AUTH else REASON_RETRY
        return Outcome.retry(delivery_id, reason, retry_key=key)

    @staticmethod
    async def _linked_users(tenant: Tenant, channel_id: str, household_ids: Iterable[int]) -> dict[int, list[str]]:
        ids_sql, ids = in_ids(sorted(household_ids))
        # Raw SQL with the ids as one parameter: Piccolo's is_in() spends more time cleaning
        # thousands of values than the query takes. Still scoped to the tenant, like every tenant
        # query; "+association" and "channel_id || ''" keep SQLite from walking the association or
        # channel index (every link of a 100,000-household city) instead of looking up the batch's
        # households (valid SQL on PostgreSQL too).
        # The pairs come back as one JSON text: thousands of rows would each become a dict in
        # the driver and in Piccolo first, costing more than the lookup itself.
        pairs = "json_agg(json_build_array(household, line_user_id) ORDER BY id)" if is_postgres() else \
            "json_group_array(json_array(household, line_user_id))"
        inner = "" if is_postgres() else " ORDER BY id"
        rows = await LineLink.raw(
            f"SELECT {pairs} AS pairs FROM (SELECT id, household, line_user_id FROM line_link "
            "WHERE +association = {} AND channel_id || '' = {} "
            f"AND active = true AND household {ids_sql}{inner}) AS links",
            tenant.id, channel_id, ids,
        ).run()
        users: dict[int, list[str]] = defaultdict(list)
        for household, user_id in json.loads((rows[0]["pairs"] if rows else None) or "[]"):
            users[household].append(user_id)
        return users

    @staticmethod
    async def _keyed_chunks(tenant: Tenant, jobs: list[DeliveryJob], users: dict[int, list[str]]) -> list[tuple[str, list[tuple[int, list[str]]]]]:
        """Calls of ≤500 user ids, each with its retry key; new keys are stored before any call.

        Deliveries that already carry a key (an earlier attempt that may have been accepted)
        go together again under that same key, so LINE can recognise the retry.
        """
        keyed: dict[str, list[DeliveryJob]] = defaultdict(list)
        fresh: list[DeliveryJob] = []
        for job in jobs:
            (keyed[job.retry_key] if job.retry_key else fresh).append(job)
        result: list[tuple[str, list[tuple[int, list[str]]]]] = []
        new_keys: dict[str, list[int]] = {}
        for key, group in keyed.items():
            for index, chunk in enumerate(chunk_households([(j.delivery_id, users[j.household_id]) for j in group])):
                chunk_key = key if index == 0 else str(uuid.uuid4())
                if index:
                    new_keys[chunk_key] = [delivery_id for delivery_id, _ in chunk]
                result.append((chunk_key, chunk))
        for chunk in chunk_households([(j.delivery_id, users[j.household_id]) for j in fresh]):
            key = str(uuid.uuid4())
            new_keys[key] = [delivery_id for delivery_id, _ in chunk]
            result.append((key, chunk))
        # All of them written (and committed) before the first call: a crash after LINE accepted
        # a call still leaves its key on its rows, so the next worker retries with it; and no row
        # of a split group still carries the old key when a call with that key has gone out.
        if new_keys:
            async with write_transaction():
                for key, ids in new_keys.items():
                    await delivery.set_retry_key(tenant.id, key, ids)
        return result



def _sender(settings: object) -> LineChannelSender:
    return LineChannelSender()


# A household on LINE is reachable while one of its LINE users still follows the account.
SPEC = ChannelSpec(
    name="line",
    reachable_sql=reach.LINE_REACHABLE_SQL,  # the one effective-channel rule (roster/reach.py)
    sender=_sender,
    label="LINE",
)
