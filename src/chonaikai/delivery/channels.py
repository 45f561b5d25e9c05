"""Channels: how households are reached, registered with the core at start-up.

Each channel (e-mail, LINE, paper; an SMS channel in the tests) registers a ``ChannelSpec``:
its name (the value of ``household.channel`` that chooses it), a SQL condition telling
whether a household can really be reached that way, and — unless it is handled by hand like
paper — a factory for the ``Channel`` the worker sends through. The core builds its SQL from
the registry; it names no channel's tables. A household whose channel cannot reach it gets
paper (``FALLBACK``): nobody is silently skipped.

The worker interface: how the worker hands claimed deliveries to a channel.

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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

SENT = "sent"
RETRY = "retry"
PERMANENT = "permanent"

FALLBACK = "paper"  # the channel of a household no other channel can reach


@dataclass(frozen=True)
class ChannelSpec:
    """A channel as the core knows it.

    ``reachable_sql``: a SQL condition over the household row aliased ``h`` (valid on SQLite
    and PostgreSQL), true when this channel can reach the household, e.g.
    ``"h.email LIKE '%_@_%'"`` or ``"EXISTS (SELECT 1 FROM line_link ll WHERE ll.household =
    h.id AND ll.active = true)"``.
    ``sender``: makes the ``Channel`` the worker sends through (given the settings); None for a
    channel handled by people (paper: printed and carried), whose rows are never claimed.
    """

    name: str
    reachable_sql: str
    sender: Callable[[Any], Channel] | None = None
    label: str = ""


_registry: dict[str, ChannelSpec] = {}


def register(spec: ChannelSpec) -> None:
    """Add (or replace) a channel. Called once per channel at start-up (``chonaikai.wiring``)."""
    if spec.name == FALLBACK and spec.sender is not None:
        raise ValueError("the fallback channel (paper) is handled by hand: it has no sender")
    _registry[spec.name] = spec


def unregister(name: str) -> None:
    _registry.pop(name, None)


def registered() -> dict[str, ChannelSpec]:
    if not _registry:
        raise RuntimeError(
            "no delivery channel is registered: call chonaikai.wiring.wire() at start-up"
        )
    return dict(_registry)


def queued_channels() -> set[str]:
    """Channels whose rows the worker sends (the others wait for people: paper)."""
    return {name for name, spec in registered().items() if spec.sender is not None}


def choose_channel_sql() -> str:
    """SQL over household ``h``: the channel that reaches it — its own if that works, else paper."""
    whens = " ".join(
        f"WHEN h.channel = '{name}' AND ({spec.reachable_sql}) THEN '{name}'"
        for name, spec in sorted(registered().items())
        if name != FALLBACK
    )
    return f"CASE {whens} ELSE '{FALLBACK}' END" if whens else f"'{FALLBACK}'"


def reachable_sql(name: str) -> str | None:
    spec = _registry.get(name)
    return spec.reachable_sql if spec else None


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
    retry_key: str | None = None  # LINE X-Line-Retry-Key of an earlier try (or given at the claim), if any
    reminder: bool = False  # 「未確認の世帯に再送」: say so in the message

    @classmethod
    def claimed(
        cls,
        delivery_id: int,
        association_id: int,
        notice_id: int,
        household_id: int,
        channel: str,
        token: str,
        attempt: int,
        email: str,
        household_name: str,
        retry_key: str | None,
        reminder: bool,
    ) -> DeliveryJob:
        """The worker's constructor for thousands of claimed rows: the frozen dataclass's
        ``__init__`` sets each field through ``object.__setattr__`` (a 4,000-row LINE claim spent
        10 ms there); this fills the instance's dict at once. Same object, same fields."""
        job = object.__new__(cls)
        job.__dict__.update(
            delivery_id=delivery_id,
            association_id=association_id,
            notice_id=notice_id,
            household_id=household_id,
            channel=channel,
            token=token,
            attempt=attempt,
            email=email,
            household_name=household_name,
            retry_key=retry_key,
            reminder=reminder,
        )
        return job


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
    # Optional, read with getattr by the worker: ``max_lanes`` (LINE: 1), ``reports_progress``
    # (e-mail), ``claim_ahead`` (claim the next batch and record the previous one while this one
    # is sent), ``key_group`` (rows per retry key given by the claim itself) and
    # ``needs_households`` (False: skip looking up e-mail addresses and names).

    async def start(self) -> None:
        """Open connections (called once when the worker starts)."""

    async def send(self, batch: list[DeliveryJob]) -> list[Outcome]:
        """Send every job; never raise for one recipient's failure — answer an Outcome."""

    async def close(self) -> None:
        """Close connections (called once when the worker stops)."""
