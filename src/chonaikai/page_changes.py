"""Every web process forgets an association's kept pages within about a second of a change anywhere.

Public pages are kept per web process (page_cache.py) and associations per process for a few
seconds (tenancy.logic.TenantCache). A write through one process forgets its own copies at
once; the other processes — another Fly machine, or the worker publishing a scheduled notice —
learn of it here:

- triggers on ``notice``, ``attachment``, ``association`` and ``city`` (made by the notices
  migration 2026-12-04T15:30) add a row to ``page_change`` (the association's slug, or ``*`` for a city: all pages) with the database
  clock, in the same transaction as the change: nothing that writes can forget it;
- each web process asks once a second for the rows of the last two minutes it has not seen
  yet (one indexed range read, a few rows), and forgets those associations' pages and tenant;
- changes to who may see what (sessions, role grants, accounts, a household's 班, credentials
  or moving out: triggers of the notices migration 2026-12-04T20:40) add ``~access``: every
  process forgets its kept sessions and principals (accounts/signed_in_cache.py), which it keeps
  longer than a second only while these reads keep coming.

It is a poll, not LISTEN/NOTIFY: NOTIFY takes a global lock at commit, listeners that lose their
connection miss messages, and it does not exist on SQLite (several processes on one SQLite file
are kept in step the same way). A change committed by a transaction older than the two-minute
window (none of ours lasts that long) would fall back to the page's own expiry (30 s).
Rows older than an hour are deleted by whichever process notices them first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from chonaikai.db import is_postgres

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
WINDOW_SECONDS = 120
KEEP_SECONDS = 3600
ALL = "*"
ACCESS = "~access"  # who may see what changed: kept sessions and principals (accounts/signed_in_cache.py)

_SQLITE_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
_POSTGRES_NOW = "extract(epoch FROM clock_timestamp())"

class ChangeWatcher:
    """Reads page_change once a second and calls ``forget(slug)`` for each new row (``*``: all)."""

    def __init__(self, forget: Callable[[str], None],
                 after_read: Callable[[float, bool], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.forget = forget
        self.after_read = after_read  # (when the read began, whether it was the first)
        self.clock = clock
        self._seen: set[int] = set()
        self._started = False
        self._last_prune = 0.0

    async def poll(self) -> int:
        """One look; returns how many changes were new."""
        from chonaikai.tenancy.tables import Association

        now = _POSTGRES_NOW if is_postgres() else _SQLITE_NOW
        began = self.clock()
        rows = await Association.raw(
            f"SELECT id, slug FROM page_change WHERE changed_at > {now} - {WINDOW_SECONDS}"
        )
        first = not self._started
        fresh = [row for row in rows if row["id"] not in self._seen] if self._started else []
        self._seen = {row["id"] for row in rows}  # at start-up nothing is kept yet: only note them
        self._started = True
        for slug in {row["slug"] for row in fresh}:
            self.forget(slug)
        if self.after_read is not None:
            self.after_read(began, first)
        if time.monotonic() - self._last_prune > 600:
            self._last_prune = time.monotonic()
            await Association.raw(f"DELETE FROM page_change WHERE changed_at < {now} - {KEEP_SECONDS}")
        return len(fresh)

    async def run(self) -> None:
        while True:
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end the watching
                log.exception("page_change: could not read the changes; trying again")
            await asyncio.sleep(POLL_SECONDS)


def forget_everywhere_in_process(page_cache) -> Callable[[str], None]:  # type: ignore[no-untyped-def]
    from chonaikai.accounts.signed_in_cache import signed_in_cache
    from chonaikai.delivery.readlink import shared_reads
    from chonaikai.tenancy.logic import tenant_cache

    def forget(slug: str) -> None:
        if slug == ACCESS:
            signed_in_cache.forget_all()
        elif slug == ALL:
            page_cache.clear()
            tenant_cache.clear()
            shared_reads.clear()
        else:
            page_cache.forget_association(slug)
            page_cache.forget_association("")  # directory and city pages list the associations
            tenant_cache.forget(slug)
            shared_reads.forget_association(slug)

    return forget


@contextlib.asynccontextmanager
async def watching(page_cache) -> AsyncIterator[None]:  # type: ignore[no-untyped-def]
    """For the web process's lifespan: watch while it serves (when anything is kept at all)."""
    from chonaikai.accounts.signed_in_cache import signed_in_cache
    from chonaikai.tenancy.logic import tenant_cache

    if page_cache.seconds <= 0 and tenant_cache.ttl <= 0 and signed_in_cache.seconds <= 0:
        yield
        return
    watcher = ChangeWatcher(forget_everywhere_in_process(page_cache), signed_in_cache.watched, signed_in_cache.clock)
    task = asyncio.create_task(watcher.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
