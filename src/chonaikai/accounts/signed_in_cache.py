"""A signed-in visitor's session row and principal, kept per web process (a second, or while watched longer).

Every page a signed-in member opens needs its session (one row) and who they are (the account,
its role grants, the household with its credential epoch): four or five queries, most of what a
signed-in page cost (bench/signed_in.py). They are kept here, per web process, for at most
``seconds`` (CHONAIKAI_SESSION_CACHE_SECONDS, default 1; 0: never kept):

- a revocation made through this process ends the session at once: every request that may
  write (any method but GET, HEAD, OPTIONS — signing out, a new card, a role removed, a LINE
  webhook) forgets everything kept here when its answer starts and again when it ends, and a
  look-up that began before such a forget is not kept (``generation``);
- a revocation made anywhere else (another web process or machine, the worker, a command)
  ends it within ``seconds``: an entry is never used after that; except that while this
  process reads the access changes every second (page_changes.py: database triggers note every
  change to sessions, grants, accounts and households' access in ``page_change``), a session,
  principal or viewer is kept up to WATCHED_SECONDS and forgotten at the first read after such a
  change: within about a second, as before, without a statement per page view;
- an invalid session (its household's card replaced, moved out) is never kept: it is ended
  at its next request exactly as before (accounts/credentials.py);
- writes to a session row through this process (sign-in, sign-out, renewal) forget that row.

Only what the database said about one session or one person is kept, under that session's
id or that person's ids: nothing here is shared between two people.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from chonaikai.kept import KeptValues

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# While this process reads the access changes every second (page_changes.py: triggers note every
# change to sessions, role grants, accounts and households' 班, credentials or moving out), what
# they cover is kept up to this long: a change anywhere forgets it at the next read instead.
WATCHED_SECONDS = 300.0
# A read older than this (the database busy, the watcher stopped): back to ``seconds``.
FRESH_WATCH_SECONDS = 1.5


class SignedInCache(KeptValues):
    def __init__(
        self,
        seconds: float | None = None,
        max_entries: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(seconds, max_entries, clock, setting="session_cache_seconds")
        self.watched_at = float("-inf")  # when the last read of the access changes began

    def watched(self, began_at: float, first: bool) -> None:
        """page_changes.py read the access changes (beginning at ``began_at`` on this clock) and
        forgot what they named. Its first read only notes the changes already there, so nothing
        looked up before it may be kept longer than ``seconds``: forgotten then."""
        if first:
            self.forget_all()
        self.watched_at = began_at

    def keep_watched(self, key: Hashable, value: Any, generation: int) -> None:
        """Keep a value read from what the access triggers watch (a session row, a principal, a
        viewer): ``seconds`` as any other, and while the watch is fresh up to WATCHED_SECONDS."""
        self.keep(key, value, generation)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries[key] = (entry[0], entry[1], self.clock() + WATCHED_SECONDS)

    def get(self, key: Hashable) -> Any | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        now = self.clock()
        if now < entry[0]:
            return entry[1]
        if len(entry) > 2 and now < entry[2] and now - self.watched_at <= FRESH_WATCH_SECONDS:
            return entry[1]
        self._entries.pop(key, None)
        return None

    def forget(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def forget_all(self) -> None:
        self.forget_where(None)


signed_in_cache = SignedInCache()


# Posts through a read link (「読みました」, an answer, a 安否確認 reply) act as the household on
# its own delivery and change none of what is kept here; in a disaster they come by the
# thousand a minute, and each would empty the officers' kept sessions.
NOT_ACCESS_WRITES = ("/r/",)


def forget_on_writes(app: ASGIApp) -> ASGIApp:
    """Middleware: a request that may write forgets every kept session and principal when its
    answer starts (its transaction has committed by then) and when it ends."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS or scope["path"].startswith(NOT_ACCESS_WRITES):
            await app(scope, receive, send)
            return

        async def forgetting(message: Message) -> None:
            if message["type"] == "http.response.start":
                signed_in_cache.forget_all()
            await send(message)

        try:
            await app(scope, receive, forgetting)
        finally:
            signed_in_cache.forget_all()

    return middleware
