"""A signed-in visitor's session row and principal, kept per web process for about a second.

Every page a signed-in member opens needs its session (one row) and who they are (the account,
its role grants, the household with its credential epoch): four or five queries, most of what a
signed-in page cost (bench/signed_in.py). They are kept here, per web process, for at most
``seconds`` (CHONAIKAI_SESSION_CACHE_SECONDS, default 1; 0: never kept):

- a revocation made through this process ends the session at once: every request that may
  write (any method but GET, HEAD, OPTIONS — signing out, a new card, a role removed, a LINE
  webhook) forgets everything kept here when its answer starts and again when it ends, and a
  look-up that began before such a forget is not kept (``generation``);
- a revocation made anywhere else (another web process or machine, the worker, a command)
  ends it within ``seconds``: an entry is never used after that;
- an invalid session (its household's card replaced, moved out) is never kept: it is ended
  at its next request exactly as before (accounts/credentials.py);
- writes to a session row through this process (sign-in, sign-out, renewal) forget that row.

Only what the database said about one session or one person is kept, under that session's
id or that person's ids: nothing here is shared between two people.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from chonaikai.kept import KeptValues

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignedInCache(KeptValues):
    def __init__(
        self,
        seconds: float | None = None,
        max_entries: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(seconds, max_entries, clock, setting="session_cache_seconds")

    def forget(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def forget_all(self) -> None:
        self.forget_where(None)


signed_in_cache = SignedInCache()


def forget_on_writes(app: ASGIApp) -> ASGIApp:
    """Middleware: a request that may write forgets every kept session and principal when its
    answer starts (its transaction has committed by then) and when it ends."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
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
