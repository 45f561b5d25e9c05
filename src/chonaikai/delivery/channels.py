"""The channel interface: how the worker hands claimed deliveries to e-mail, LINE (and tests).

A channel receives a batch of ``DeliveryJob`` (rows the worker has leased and marked
``sending``) and answers one ``Outcome`` per job:

- ``Outcome.sent(id)``: handed over; the worker records ``sent_at``.
- ``Outcome.retry(id, reason)``: a temporary failure (server down, rate limit); the worker
  tries again later with exponential backoff, and marks the delivery failed after
  ``MAX_ATTEMPTS``.
- ``Outcome.permanent(id, reason)``: never going to work (unknown address, blocked user);
  failed at once, not retried. ``reason`` is shown to officers: plain Japanese.

A job missing from the answer is treated as a temporary failure, so nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

SENT = "sent"
RETRY = "retry"
PERMANENT = "permanent"

# A SQL condition over the household row aliased ``h`` that is true when the household can
# really be reached on LINE (its account is linked). Until the LINE channel sets it, LINE
# households fall back to paper, so nobody is silently skipped. The LINE helper sets this,
# e.g. "EXISTS (SELECT 1 FROM line_link ll WHERE ll.household = h.id)".
LINE_LINKED_SQL: str | None = (
    "EXISTS (SELECT 1 FROM line_link ll WHERE ll.household = h.id AND ll.active = true)"
)

# Words for officers (shown on the who-has-read page).
REASON_UNKNOWN = "送信できませんでした。しばらくしてからもう一度試します。"
REASON_NO_ANSWER = "送信の結果がわかりませんでした。もう一度試します。"


@dataclass(frozen=True)
class DeliveryJob:
    """One claimed delivery, with what a channel needs to send it."""

    delivery_id: int
    association_id: int
    notice_id: int
    household_id: int
    channel: str
    token: str  # read link /r/{token}
    attempt: int  # 1 for the first try
    email: str = ""
    household_name: str = ""
    retry_key: str | None = None  # LINE X-Line-Retry-Key of an earlier try, if any
    reminder: bool = False  # 「未確認の世帯に再送」: say so in the message


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    kind: str  # sent | retry | permanent
    reason: str = ""  # plain Japanese, for officers
    retry_key: str | None = None  # remembered for the next try (LINE)

    @classmethod
    def sent(cls, delivery_id: int, retry_key: str | None = None) -> Outcome:
        return cls(delivery_id, SENT, "", retry_key)

    @classmethod
    def retry(cls, delivery_id: int, reason: str = REASON_UNKNOWN, retry_key: str | None = None) -> Outcome:
        return cls(delivery_id, RETRY, reason, retry_key)

    @classmethod
    def permanent(cls, delivery_id: int, reason: str) -> Outcome:
        return cls(delivery_id, PERMANENT, reason)


@runtime_checkable
class Channel(Protocol):
    """What the worker needs from a channel. ``name`` matches ``Delivery.channel``."""

    name: str
    batch_size: int  # how many jobs one ``send`` call takes (LINE multicast: 500)

    async def start(self) -> None:
        """Open connections (called once when the worker starts)."""

    async def send(self, batch: list[DeliveryJob]) -> list[Outcome]:
        """Send every job; never raise for one recipient's failure — answer an Outcome."""

    async def close(self) -> None:
        """Close connections (called once when the worker stops)."""
