"""The delivery worker: claims due deliveries in batches, hands them to their channel, records
what happened.

Claiming is a lease. A claimed row is marked ``sending`` with ``lease_until`` and
``claimed_by`` *before* anything is sent, and ``sent`` right after the channel answers. A
worker that dies leaves its rows ``sending``; once their lease has ended any worker claims
them again. So no delivery is ever lost.

At-least-once, and where a duplicate can come from: if a worker dies (or is cut off from the
database) after the channel accepted a message but before ``sent`` was written, that message
is sent again after the lease ends. The window is one batch per lane; nothing else is ever
sent twice: two workers never hold the same row (PostgreSQL ``FOR UPDATE SKIP LOCKED``; on
SQLite one worker at a time, enforced by a lease row in ``worker_lock``).

Failures: a temporary one is retried with exponential backoff and jitter; after
``max_attempts`` the delivery is ``failed`` with its last error in plain words. A permanent one
(unknown address, blocked user) fails at once.

Stopping (SIGTERM/SIGINT): no new batches are claimed; the batches being sent are finished
and recorded. If they do not finish within ``grace_seconds`` they are cancelled and their rows
released at once (back to ``pending``) rather than left to the lease.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from chonaikai.db import in_ids, is_postgres, prefer_large_checkpoints, write_transaction
from chonaikai.delivery import store
from chonaikai.delivery.channels import (
    PERMANENT,
    REASON_NO_ANSWER,
    REASON_UNKNOWN,
    SENT,
    Channel,
    DeliveryJob,
    Outcome,
)
from chonaikai.delivery.tables import Delivery, WorkerLock
from chonaikai.settings import Settings, get_settings

log = logging.getLogger(__name__)

SQLITE_LOCK_NAME = "delivery-worker"
BACKOFF_CAP_SECONDS = 6 * 3600
PUBLISH_EVERY_SECONDS = 5.0

Clock = Callable[[], datetime]
DueJobs = Callable[[datetime], Awaitable[object]]


class WorkerBusy(Exception):
    """Another worker holds the SQLite lock."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def backoff_seconds(attempt: int, base: float, rng: random.Random | None = None) -> float:
    """Wait before try ``attempt + 1``: base·2^(attempt-1), capped, with "equal jitter" so retries
    of one outage spread out instead of hitting the server together."""
    delay = min(BACKOFF_CAP_SECONDS, base * (2 ** max(0, attempt - 1)))
    return delay / 2 + (rng or random).uniform(0, delay / 2)


def failed_reason(reason: str, attempts: int) -> str:
    return f"{reason}（{attempts}回試しましたが、届けられませんでした）"


def _as_bool_time(value: Any) -> bool:
    return value is not None and value != ""


# Outcomes handed in while a batch is sent are recorded together after this long: the other
# connections' results arriving meanwhile share the commit.
GROUP_COMMIT_SECONDS = 0.003


class _Progress:
    """Records a batch's outcomes while it is being sent (issue 14): each SMTP connection waits
    for its message's "sent" to be committed before sending the next, so a worker killed at any
    moment has at most one message per connection sent but not recorded. Outcomes from several
    connections go in one commit."""

    def __init__(self, worker: Worker, jobs: list[DeliveryJob]) -> None:
        self.worker = worker
        self.jobs = {job.delivery_id: job for job in jobs}
        self.pending: list[tuple[Outcome, asyncio.Future]] = []
        self.recorded: set[int] = set()
        self.flusher: asyncio.Task | None = None

    async def report(self, outcome: Outcome) -> None:
        if outcome.delivery_id not in self.jobs:
            return
        future = asyncio.get_running_loop().create_future()
        self.pending.append((outcome, future))
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.ensure_future(self._flush())
        await future

    async def _flush(self) -> None:
        await asyncio.sleep(GROUP_COMMIT_SECONDS)
        while self.pending:
            batch, self.pending = self.pending, []
            fresh = [(outcome, future) for outcome, future in batch if outcome.delivery_id not in self.recorded]
            try:
                await self.worker.record([self.jobs[o.delivery_id] for o, _ in fresh], [o for o, _ in fresh])
                self.recorded.update(o.delivery_id for o, _ in fresh)
            except Exception:  # recorded with the rest of the batch at its end instead
                log.exception("recording %d outcomes during a send failed", len(fresh))
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def finish(self) -> None:
        if self.flusher is not None:
            await self.flusher


class Worker:
    def __init__(
        self,
        channels: Sequence[Channel],
        *,
        settings: Settings | None = None,
        lease_seconds: int | None = None,
        max_attempts: int | None = None,
        retry_seconds: float | None = None,
        clock: Clock = utcnow,
        worker_id: str | None = None,
        lanes: int = 2,
        poll_seconds: float = 1.0,
        grace_seconds: float = 30.0,
        publish_due: bool = True,
        due_jobs: DueJobs | None = None,
    ) -> None:
        settings = settings or get_settings()
        self.channels = {channel.name: channel for channel in channels}
        self.lease_seconds = lease_seconds or settings.delivery_lease_seconds
        self.max_attempts = max_attempts or settings.delivery_max_attempts
        self.retry_seconds = retry_seconds if retry_seconds is not None else settings.delivery_retry_seconds
        self.clock = clock
        self.worker_id = worker_id or f"{socket.gethostname()[:20]}:{os.getpid()}:{secrets.token_hex(3)}"
        self.lanes = max(1, lanes)
        self.poll_seconds = poll_seconds
        self.grace_seconds = grace_seconds
        # Scheduled work run between rounds (``chonaikai.jobs.run_due``: due notices, circulars,
        # reminders, session purge); the core itself knows nothing of it.
        self.due_jobs = due_jobs if publish_due else None
        self.stopping = asyncio.Event()
        self.held: set[int] = set()  # claimed, not yet recorded
        self.processed = 0
        self._last_publish = 0.0
        self._rng = random.Random()
        self._locked = False
        self._lock_renewed_at: datetime | None = None

    # -- running -------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the worker to stop after the batches it is sending (SIGTERM)."""
        self.stopping.set()

    async def run(self, once: bool = False) -> int:
        """Deliver until stopped (or, with ``once``, until nothing is due). Returns rows handled."""
        locked = False
        if not is_postgres():
            prefer_large_checkpoints()
            await self.acquire_lock()
            locked = self._locked = True
        started: list[Channel] = []
        try:
            for channel in self.channels.values():
                await channel.start()
                started.append(channel)
            while not self.stopping.is_set():
                if locked:
                    await self.renew_lock()
                await self.run_due_jobs()
                handled = await self._round_with_grace()
                if once and handled == 0:
                    break
                if handled == 0:
                    try:
                        await asyncio.wait_for(self.stopping.wait(), timeout=self.poll_seconds)
                    except TimeoutError:
                        pass
        finally:
            for channel in started:
                try:
                    await channel.close()
                except Exception:  # closing must not hide the real error
                    log.exception("closing channel %s", channel.name)
            if locked:
                self._locked = False
                await self.release_lock()
        return self.processed

    async def _round_with_grace(self) -> int:
        task = asyncio.ensure_future(self.drain_round())
        stop_wait = asyncio.ensure_future(self.stopping.wait())
        try:
            done, _ = await asyncio.wait({task, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                return task.result()
            # Stopping: let the batches in hand finish, up to the grace period.
            try:
                return await asyncio.wait_for(asyncio.shield(task), timeout=self.grace_seconds)
            except TimeoutError:
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
                await self.release_held()
                return 0
        finally:
            stop_wait.cancel()

    async def drain_round(self) -> int:
        """Each channel's lanes claim, send and record until nothing is due (or stopping)."""
        results = await asyncio.gather(
            *(
                self._lane(channel)
                for channel in self.channels.values()
                # A channel may ask for one lane (LINE: a retry group must not be split between lanes).
                for _ in range(min(self.lanes, getattr(channel, "max_lanes", self.lanes)))
            )
        )
        return sum(results)

    async def _lane(self, channel: Channel) -> int:
        if getattr(channel, "claim_ahead", False):
            return await self._lane_ahead(channel)
        handled = 0
        while not self.stopping.is_set():
            jobs = await self._claim_for(channel)
            if not jobs:
                break
            outcomes, recorded = await self._send(channel, jobs)
            await self.record([job for job in jobs if job.delivery_id not in recorded], outcomes)
            handled += len(jobs)
            await self._keep_lock()
        return handled

    async def _lane_ahead(self, channel: Channel) -> int:
        """A lane for a channel with ``claim_ahead`` (LINE, one lane): while the calls of batch k
        are in flight, batch k-1 is recorded and then batch k+1 claimed, so the database's work
        hides behind the network's and the channel's (the two writes one after the other: on
        SQLite side by side they would wait for each other's lock). The batches still go out one
        after the other, each whole (a retry group is claimed with its batch). A crash can leave
        two batches sent and not recorded instead of one: LINE's retry keys, stored before the
        calls, make their second sending a 409, not a second message. Stopping, a batch claimed
        ahead and not started is released at once; the ones sent are recorded."""
        handled = 0
        jobs = await self._claim_for(channel)
        previous: tuple[list[DeliveryJob], list[Outcome], set[int]] | None = None
        while jobs:
            sent, claimed = await asyncio.gather(
                self._send(channel, jobs), self._record_then_claim(channel, previous), return_exceptions=True
            )
            if isinstance(sent, BaseException):
                raise sent
            previous = (jobs, *sent)
            handled += len(jobs)
            if isinstance(claimed, BaseException):
                await self._record_sent_batch(*previous)
                raise claimed
            await self._keep_lock()
            if self.stopping.is_set():
                await self._release([job.delivery_id for job in claimed])
                break
            jobs = claimed
        if previous is not None:
            await self._record_sent_batch(*previous)
        return handled

    async def _record_then_claim(
        self, channel: Channel, previous: tuple[list[DeliveryJob], list[Outcome], set[int]] | None
    ) -> list[DeliveryJob]:
        if previous is None:
            return await self._claim_for(channel)
        if not is_postgres():
            await self._record_sent_batch(*previous)
            return await self._claim_for(channel)
        # PostgreSQL: side by side on two connections (disjoint rows: the batch recorded is
        # leased to us, so the claim skips it), so the server's two writes use two cores.
        recorded, claimed = await asyncio.gather(
            self._record_sent_batch(*previous), self._claim_for(channel), return_exceptions=True
        )
        if isinstance(recorded, BaseException):
            if not isinstance(claimed, BaseException):
                try:  # not sent: back to pending now rather than after the lease
                    await self._release([job.delivery_id for job in claimed])
                except Exception:
                    log.exception("releasing %d claimed deliveries failed; their lease will end", len(claimed))
            raise recorded
        if isinstance(claimed, BaseException):
            raise claimed
        return claimed

    async def _record_sent_batch(self, jobs: list[DeliveryJob], outcomes: list[Outcome], recorded: set[int]) -> None:
        await self.record([job for job in jobs if job.delivery_id not in recorded], outcomes)

    async def _claim_for(self, channel: Channel) -> list[DeliveryJob]:
        if self.stopping.is_set():
            return []
        return await self.claim(
            channel.name,
            channel.batch_size,
            key_group=int(getattr(channel, "key_group", 0)),
            households=bool(getattr(channel, "needs_households", True)),
        )

    async def _keep_lock(self) -> None:
        """A long round (a city circular) must not outlive the SQLite lock: renew it on the way."""
        if not self._locked or self._lock_renewed_at is None:
            return
        if (self.clock() - self._lock_renewed_at).total_seconds() > self.lease_seconds / 3:
            try:
                await self.renew_lock()
            except WorkerBusy as error:  # the lanes finish their batch in hand, then stop
                log.error("%s", error)

    async def _send(self, channel: Channel, jobs: list[DeliveryJob]) -> tuple[list[Outcome], set[int]]:
        """The channel's outcomes, and the deliveries already recorded while it sent (a channel
        with ``reports_progress`` hands each outcome in as soon as it is known)."""
        progress = _Progress(self, jobs) if getattr(channel, "reports_progress", False) else None
        try:
            if progress is not None:
                outcomes = await channel.send(jobs, report=progress.report)  # type: ignore[call-arg]
            else:
                outcomes = await channel.send(jobs)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("channel %s failed on a batch of %d", channel.name, len(jobs))
            outcomes = [Outcome.retry(job.delivery_id, REASON_UNKNOWN) for job in jobs]
        if progress is None:
            return outcomes, set()
        await progress.finish()
        return outcomes, progress.recorded

    async def run_due_jobs(self) -> None:
        """The scheduled work handed in (``due_jobs``), at most every few seconds."""
        if self.due_jobs is None:
            return
        loop_time = asyncio.get_running_loop().time()
        if self._last_publish and loop_time - self._last_publish < PUBLISH_EVERY_SECONDS:
            return
        self._last_publish = loop_time
        try:
            await self.due_jobs(self.clock())
        except Exception:
            log.exception("scheduled jobs failed; trying again later")

    # -- claiming ------------------------------------------------------------------------

    async def claim(
        self, channel_name: str, limit: int, *, key_group: int = 0, households: bool = True
    ) -> list[DeliveryJob]:
        """Lease up to ``limit`` due rows of a channel, with the rest of their retry groups.
        ``key_group``: rows without a retry key get one in the same write, shared by at most this
        many rows of one notice (``store.claim``; LINE). ``households``: look up each
        household's e-mail address and name (a channel that needs neither says so)."""
        now = self.clock()
        lease_until = now + timedelta(seconds=self.lease_seconds)
        prefix = store.new_key_prefix() if key_group > 0 else ""
        async with write_transaction():
            rows = await store.claim(channel_name, limit, now, lease_until, self.worker_id, key_group, prefix)
            if not rows:
                return []
            rows += await self._claim_rest_of_retry_groups(rows, now, lease_until, prefix)
            self.held.update(row[0] for row in rows)
            if households:
                ids_sql, ids = in_ids([row[3] for row in rows])
                found = await Delivery.raw(f"SELECT id, email, name FROM household WHERE id {ids_sql}", ids).run()
            else:
                found = []
        by_id = {row["id"]: row for row in found}
        rows.sort(key=itemgetter(0))
        new = DeliveryJob.claimed
        nobody: dict[str, Any] = {}
        # row: [id, association, notice, household, channel, token, attempts, retry_key, reminded_at]
        return [
            new(
                *row[:7],
                (by_id.get(row[3], nobody).get("email") or "") if by_id else "",
                (by_id.get(row[3], nobody).get("name") or "") if by_id else "",
                row[7],
                _as_bool_time(row[8]),
            )
            for row in rows
        ]

    async def _claim_rest_of_retry_groups(
        self, rows: list[list], now: datetime, lease_until: datetime, new_prefix: str
    ) -> list[list]:
        """Rows that share a retry key (one LINE multicast that may have been accepted) must go
        out together again: if a later call carried the same key for only some of them, LINE
        would answer 409 for the others even when the first call had not been accepted, and
        they would be counted sent without ever arriving. So the rest of each group comes along,
        whatever its own next attempt time (backoff jitter spreads a group's rows out), and so
        does a dead worker's row whose lease ended. Keys this claim has just given out (their
        ``new_prefix``) have no other rows."""
        keys = sorted(
            {key for row in rows if (key := row[7]) and not (new_prefix and key.startswith(new_prefix))}
        )
        if not keys:
            return []
        return await store.claim_retry_groups(keys, now, lease_until, self.worker_id)

    # -- recording -----------------------------------------------------------------------

    async def record(self, jobs: list[DeliveryJob], outcomes: list[Outcome]) -> None:
        now = self.clock()
        by_id = {outcome.delivery_id: outcome for outcome in outcomes}
        sent: dict[str | None, list[int]] = {}
        permanent: dict[str, list[int]] = {}
        retries: list[tuple[DeliveryJob, Outcome]] = []
        for job in jobs:
            outcome = by_id.get(job.delivery_id) or Outcome.retry(job.delivery_id, REASON_NO_ANSWER)
            if outcome.kind == SENT:
                # A key the row already carries (LINE stores it before the call) need not be
                # written again: such rows all go in one statement.
                key = None if outcome.retry_key == job.retry_key else outcome.retry_key
                sent.setdefault(key, []).append(job.delivery_id)
            elif outcome.kind == PERMANENT:
                permanent.setdefault(outcome.reason, []).append(job.delivery_id)
            else:
                retries.append((job, outcome))
        async with write_transaction():
            for retry_key, ids in sent.items():
                await store.record_sent(ids, now, retry_key)
            for reason, ids in permanent.items():
                await store.record_failed_many(ids, reason, self.worker_id)
            for job, outcome in retries:
                reason = outcome.reason or REASON_UNKNOWN
                if job.attempt >= self.max_attempts:
                    await store.record_failed(
                        job.delivery_id, failed_reason(reason, job.attempt), outcome.retry_key, self.worker_id
                    )
                else:
                    later = now + timedelta(seconds=backoff_seconds(job.attempt, self.retry_seconds, self._rng))
                    await store.record_retry(job.delivery_id, later, reason, outcome.retry_key, self.worker_id)
        self.held.difference_update(job.delivery_id for job in jobs)
        self.processed += len(jobs)

    async def release_held(self) -> None:
        """Give back rows claimed but not recorded (stopping before their batch finished)."""
        await self._release(sorted(self.held))

    async def _release(self, ids: list[int]) -> None:
        if not ids:
            return
        async with write_transaction():
            await store.release(ids, self.worker_id, self.clock())
        log.info("released %d deliveries on stop", len(ids))
        self.held.difference_update(ids)

    # -- the SQLite lock -----------------------------------------------------------------

    async def acquire_lock(self) -> None:
        """Take the one-worker lease on SQLite, or raise WorkerBusy naming who holds it."""
        now = self.clock()
        until = now + timedelta(seconds=self.lease_seconds)
        async with write_transaction():
            row = await WorkerLock.select().where(WorkerLock.name == SQLITE_LOCK_NAME).first()
            if row is None:
                await WorkerLock.insert(
                    WorkerLock(name=SQLITE_LOCK_NAME, holder=self.worker_id, lease_until=until)
                )
                self._lock_renewed_at = now
                return
            if row["holder"] != self.worker_id and row["lease_until"] > now:
                raise WorkerBusy(
                    f"another worker ({row['holder']}) is already delivering from this SQLite database. "
                    "On SQLite only one worker may run at a time; use PostgreSQL for more. "
                    f"If that worker is gone, its lock ends at {row['lease_until']:%Y-%m-%d %H:%M:%S} UTC."
                )
            await WorkerLock.update({WorkerLock.holder: self.worker_id, WorkerLock.lease_until: until}).where(
                WorkerLock.name == SQLITE_LOCK_NAME
            )
        self._lock_renewed_at = now

    async def renew_lock(self) -> None:
        now = self.clock()
        until = now + timedelta(seconds=self.lease_seconds)
        async with write_transaction():
            updated = await WorkerLock.update({WorkerLock.lease_until: until}).where(
                (WorkerLock.name == SQLITE_LOCK_NAME) & (WorkerLock.holder == self.worker_id)
            ).returning(WorkerLock.id)
        if not updated:
            # Our lease ran out and another worker took over: stop rather than work side by side.
            self.stop()
            raise WorkerBusy("this worker lost its SQLite lock to another worker; stopping")
        self._lock_renewed_at = now

    async def release_lock(self) -> None:
        await WorkerLock.delete().where(
            (WorkerLock.name == SQLITE_LOCK_NAME) & (WorkerLock.holder == self.worker_id)
        )


def registered_senders(settings: Settings | None = None) -> list[Channel]:
    """A sender for every registered channel the worker delivers through."""
    from chonaikai.delivery.channels import registered

    settings = settings or get_settings()
    return [spec.sender(settings) for spec in registered().values() if spec.sender is not None]
