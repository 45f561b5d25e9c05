"""Values kept per web process for a few seconds, forgotten all at once by a generation number.

The signed-in caches (``accounts.signed_in_cache``: sessions and principals, about a second;
``notices.shared_pieces``: pages rendered per level, as long as the public pages) share this:
an entry is never used after its time, and a value looked up before a forget is not kept
(``keep`` takes the ``generation`` read before the look-up).

And what start-up built, kept for the process's whole life (``freeze_start_up``).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Hashable
from typing import Any


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

    def forget_where(self, matches: Callable[[Hashable], bool] | None = None) -> None:
        """Forget the entries whose key matches (None: all of them); what is being looked up
        right now is not kept afterwards."""
        self.generation += 1
        if matches is None:
            self._entries.clear()
        else:
            for key in [key for key in self._entries if matches(key)]:
                del self._entries[key]
