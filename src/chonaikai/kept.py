"""Values kept per web process for a few seconds, forgotten all at once by a generation number.

The signed-in caches (``accounts.signed_in_cache``: sessions and principals, about a second;
``notices.shared_pieces``: pages rendered per level, as long as the public pages) share this:
an entry is never used after its time, and a value looked up before a forget is not kept
(``keep`` takes the ``generation`` read before the look-up).

And what start-up built, kept for the process's whole life (``freeze_start_up``).
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import random
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

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

    def keep(self, key: Hashable, value: Any, generation: int, longer: float = 1.0, spread: float = 0.0) -> None:
        """Keep ``value`` if nothing was forgotten since ``generation`` was read (before the look-up);
        ``longer``: so many times ``seconds``; ``spread``: up to that share less, at random.

        Spread for values of many readers read at about the same moment (each one's read marks
        when a crowd arrives): kept equally long, they would all end, and be read again, in the
        same few milliseconds at every turn (200 statements queueing on the pool every 5 s)."""
        seconds = self.seconds
        if seconds <= 0 or generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        if spread:
            longer *= 1 - spread * random.random()
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


def _apart(read: Awaitable[T]) -> asyncio.Task[T]:
    """``read`` as a task in an empty context: no caller's contextvars (Piccolo's current
    transaction among them) reach a read made for several callers."""
    return asyncio.get_running_loop().create_task(read, context=contextvars.Context())  # type: ignore[arg-type]


class OneLoad:
    """Callers needing the same value at the same time wait for one read of it.

    A kept value ends for every request at the same moment: the next 64 requests each read it
    again, queueing on the connection pool (the tenant every 5 s, bench/signed_in.py: a p99 of
    ~100 ms on PostgreSQL). The read runs as a task of its own: a caller that goes away (a
    closed connection) does not cancel it for the others. It runs in a context of its own too
    (``_apart``): never inside one caller's database transaction, so what it gives many callers
    is only what was committed."""

    def __init__(self) -> None:
        self._reads: dict[Hashable, asyncio.Task[Any]] = {}

    def reading(self, key: Hashable) -> bool:
        return key in self._reads

    async def load(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        task = self._reads.get(key)
        if task is None or task.get_loop() is not asyncio.get_running_loop():  # (a test's loop that has ended)
            task = self._reads[key] = _apart(read())
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


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Batched(Generic[K, V]):
    """Look-ups of many keys asked for at about the same moment, answered by one statement.

    Each member's own values (their read marks, their 「読みました」) cannot be shared, but the
    requests of one moment can ask for them together: ``get`` waits until the requests the event
    loop is running now have asked theirs, then ``read_many`` reads all their keys at once
    (bench/signed_in.py with 5,000 members: one statement per view became one per ~10 views).
    A key ``read_many`` does not return is answered None. Like ``OneLoad``, the read runs apart
    from every caller's context (outside their transactions)."""

    def __init__(self, read_many: Callable[[list[K]], Awaitable[dict[K, V]]]) -> None:
        self.read_many = read_many
        self._asked: dict[K, asyncio.Future[V | None]] = {}
        self.statements = 0  # tests and benchmarks: how many reads were made

    async def get(self, key: K) -> V | None:
        loop = asyncio.get_running_loop()
        if self._asked and next(iter(self._asked.values())).get_loop() is not loop:
            self._asked = {}  # asked in a loop that has ended (tests): never to be read there
        answer = self._asked.get(key)
        if answer is None:
            if not self._asked:  # after the callbacks ready now: their keys join
                loop.call_soon(self._read_asked, context=contextvars.Context())
            answer = self._asked[key] = loop.create_future()
        return await asyncio.shield(answer)

    def _read_asked(self) -> None:
        asked, self._asked = self._asked, {}
        if asked:
            _apart(self._answer(asked))

    async def _answer(self, asked: dict[K, asyncio.Future[V | None]]) -> None:
        self.statements += 1
        try:
            values = await self.read_many(list(asked))
        except BaseException as error:  # every waiting request gets the error (as its own read would)
            for answer in asked.values():
                if not answer.done():
                    answer.set_exception(error)
                    answer.exception()  # retrieved: a request gone is no warning
            if not isinstance(error, Exception):
                raise
            return
        for key, answer in asked.items():
            if not answer.done():
                answer.set_result(values.get(key))
