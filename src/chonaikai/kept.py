"""Values kept per web process for a few seconds, forgotten all at once by a generation number.

The signed-in caches (``accounts.signed_in_cache``: sessions and principals, about a second;
``notices.shared_pieces``: pages rendered per level, as long as the public pages) share this:
an entry is never used after its time, and a value looked up before a forget is not kept
(``keep`` takes the ``generation`` read before the look-up).

And what start-up built, kept for the process's whole life (``freeze_start_up``).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


def freeze_start_up() -> None:
    """Keep what start-up built (modules, the app, the SDKs) out of the cyclic collector's full
    passes, which walk every tracked object each time. The web process (``app.py``): such passes
    paused requests ~100 ms. The delivery worker: a LINE fan-out makes thousands of short-lived
    objects a batch, so full passes come often; they were half of its CPU time
    (docs/performance.md, LINE sending)."""
    gc.collect()
    gc.freeze()


class KeptValues:
    def __init__(
        self,
        seconds: float | None = None,
        max_entries: int = 5000,
        clock: Callable[[], float] = time.monotonic,
        setting: str = "page_cache_seconds",
    ) -> None:
        self._seconds = seconds
        self.max_entries = max_entries
        self.clock = clock
        self.setting = setting  # the Settings field giving ``seconds`` when none was set
        self.generation = 0
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._loading = OneLoad()

    @property
    def seconds(self) -> float:
        if self._seconds is None:
            from chonaikai.settings import get_settings

            return getattr(get_settings(), self.setting)
        return self._seconds

    @seconds.setter
    def seconds(self, value: float | None) -> None:
        self._seconds = value

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> Any | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self.clock():
            self._entries.pop(key, None)
            return None
        return entry[1]

    def keep(self, key: Hashable, value: Any, generation: int, longer: float = 1.0) -> None:
        """Keep ``value`` if nothing was forgotten since ``generation`` was read (before the look-up);
        ``longer``: so many times ``seconds``."""
        seconds = self.seconds
        if seconds <= 0 or generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (self.clock() + seconds * longer, value)

    async def load(self, key: Hashable, read: Callable[[], Awaitable[T]], longer: float = 1.0) -> T:
        """The value kept under ``key``, or ``read()`` kept: requests missing it at the same time
        wait for one read (``OneLoad``). One that comes after a forget does not join a read that
        began before it."""
        kept = self.get(key)
        if kept is not None:
            return kept
        generation = self.generation

        async def read_and_keep() -> T:
            value = await read()
            if value is not None:
                self.keep(key, value, generation, longer)
            return value

        return await self._loading.load((key, generation), read_and_keep)

    def forget_where(self, matches: Callable[[Hashable], bool] | None = None) -> None:
        """Forget the entries whose key matches (None: all of them); what is being looked up
        right now is not kept afterwards."""
        self.generation += 1
        if matches is None:
            self._entries.clear()
        else:
            for key in [key for key in self._entries if matches(key)]:
                del self._entries[key]


class OneLoad:
    """Callers needing the same value at the same time wait for one read of it.

    A kept value ends for every request at the same moment: the next 64 requests each read it
    again, queueing on the connection pool (the tenant every 5 s, bench/signed_in.py: a p99 of
    ~100 ms on PostgreSQL). The read runs as a task of its own: a caller that goes away (a
    closed connection) does not cancel it for the others."""

    def __init__(self) -> None:
        self._reads: dict[Hashable, asyncio.Task[Any]] = {}

    def reading(self, key: Hashable) -> bool:
        return key in self._reads

    async def load(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        task = self._reads.get(key)
        if task is None:
            task = self._reads[key] = asyncio.ensure_future(read())
            task.add_done_callback(lambda done: self._landed(key, done))
        return await asyncio.shield(task)

    def _landed(self, key: Hashable, task: asyncio.Task[Any]) -> None:
        if self._reads.get(key) is task:
            del self._reads[key]
        if not task.cancelled():
            task.exception()  # retrieved: the callers waiting got it; none waiting is no warning

    def is_current(self, key: Hashable) -> bool:
        """Inside a read: it is still the one for ``key`` (not forgotten since it began)."""
        return self._reads.get(key) is asyncio.current_task()

    def forget(self, key: Hashable) -> None:
        """Who comes next reads afresh (a change was made while a read was under way)."""
        self._reads.pop(key, None)

    def forget_all(self) -> None:
        self._reads.clear()
