"""The official line-bot-sdk async client, for one channel, and what its answers mean for us.

``CHONAIKAI_LINE_API_BASE`` redirects every endpoint (the fake server on loopback in tests
and the demo). Every answer becomes a ``SendOutcome`` the outbox understands:

- 200 → sent; 409 on a retry key → the first attempt was accepted → sent, never again;
- 429 "monthly limit" → quota (officers must choose e-mail or paper: retrying cannot help);
- 429 rate limit, 5xx, timeouts, broken connections → retry later with backoff;
- 401/403 → the channel's token is wrong: retried (an operator can fix it) and said plainly;
- other 4xx → the request itself is wrong: permanent.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aiohttp
from linebot.v3.messaging import (
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    Message,
    MulticastRequest,
    ReplyMessageRequest,
)
from linebot.v3.messaging.exceptions import ApiException
from pydantic.v1 import PrivateAttr

from chonaikai.line.config import LineChannel
from chonaikai.settings import get_settings

log = logging.getLogger(__name__)

MULTICAST_LIMIT = 500  # user ids per multicast call (LINE's limit)
REQUEST_TIMEOUT_SECONDS = 20.0


class Outcome(StrEnum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"  # 409: the retry key was accepted before
    RETRY = "retry"
    QUOTA = "quota"
    AUTH = "auth"
    REJECTED = "rejected"


@dataclass(frozen=True)
class SendOutcome:
    outcome: Outcome
    status: int | None = None
    detail: str = ""

    @property
    def delivered(self) -> bool:
        return self.outcome in (Outcome.SENT, Outcome.ALREADY_SENT)


@dataclass(frozen=True)
class Quota:
    limit: int | None  # None: no monthly limit
    used: int

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)


class PreparedMessages:
    """Messages validated by the SDK once (``Message.from_dict``) and turned into LINE's JSON
    shape once: a 120,000-household notice is 240 calls carrying the same message."""

    __slots__ = ("models", "dicts")

    def __init__(self, messages: list[dict[str, Any] | Message]) -> None:
        if not 1 <= len(messages) <= 5:
            raise ValueError(f"LINE takes 1 to 5 messages a call, got {len(messages)}")
        self.models = [m if isinstance(m, Message) else Message.from_dict(m) for m in messages]
        self.dicts = [model.to_dict() for model in self.models]


class _PreparedMulticast(MulticastRequest):
    """The SDK's MulticastRequest, serialised from the prepared message dicts.

    ``MulticastRequest.to_dict`` walks the message tree twice per call (pydantic's ``dict()``,
    then each message's ``to_dict()``) and the constructor validates all 500 ids one by one:
    together 7x the cost of the HTTP request itself. The body it produces is the same
    (tests/line/test_sending.py compares them)."""

    _message_dicts: list[dict[str, Any]] = PrivateAttr(default_factory=list)

    @classmethod
    def of(cls, user_ids: list[str], messages: PreparedMessages) -> _PreparedMulticast:
        # construct(): no per-id validation. The ids are LINE's own (from webhooks, stored at
        # linking) and the count is checked by LineApi.multicast; LINE answers 400 otherwise.
        request = cls.construct(messages=messages.models, to=user_ids, notification_disabled=False)
        request._message_dicts = messages.dicts
        return request

    def to_dict(self) -> dict[str, Any]:
        return {"messages": self._message_dicts, "to": self.to, "notificationDisabled": self.notification_disabled}


def _error_message(error: ApiException) -> str:
    try:
        return str(json.loads(error.body or b"{}").get("message", ""))
    except (ValueError, AttributeError):
        return ""


def classify(error: BaseException) -> SendOutcome:
    if isinstance(error, ApiException):
        status = error.status or 0
        message = _error_message(error)
        if status == 409:
            return SendOutcome(Outcome.ALREADY_SENT, status, message)
        if status == 429 and "monthly limit" in message:
            return SendOutcome(Outcome.QUOTA, status, message)
        if status == 429 or status >= 500:
            return SendOutcome(Outcome.RETRY, status, message)
        if status in (401, 403):
            return SendOutcome(Outcome.AUTH, status, message)
        return SendOutcome(Outcome.REJECTED, status, message)
    # Timeouts and broken connections: LINE may or may not have accepted the request.
    return SendOutcome(Outcome.RETRY, None, type(error).__name__)


class LineApi:
    """One channel's client. Use ``async with LineApi(channel) as api``; reuses one connection pool."""

    def __init__(self, channel: LineChannel, api_base: str | None = None, timeout: float = REQUEST_TIMEOUT_SECONDS) -> None:
        self.channel = channel
        configuration = Configuration(host=api_base or get_settings().line_api_base, access_token=channel.access_token)
        configuration.connection_pool_maxsize = 16
        self._client = AsyncApiClient(configuration)
        self.api = AsyncMessagingApi(self._client)
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def __aenter__(self) -> LineApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._client.close()

    async def multicast(self, user_ids: list[str], messages: PreparedMessages | list[dict[str, Any] | Message],
                        retry_key: str) -> SendOutcome:
        if not 1 <= len(user_ids) <= MULTICAST_LIMIT:
            raise ValueError(f"multicast takes 1 to {MULTICAST_LIMIT} user ids, got {len(user_ids)}")
        if not isinstance(messages, PreparedMessages):
            messages = PreparedMessages(messages)
        request = _PreparedMulticast.of(user_ids, messages)
        try:
            await self.api.multicast(request, x_line_retry_key=retry_key, _request_timeout=self.timeout)
        except (TimeoutError, ApiException, aiohttp.ClientError) as error:
            outcome = classify(error)
            log.info("LINE multicast to %d users (key %s): %s %s", len(user_ids), retry_key, outcome.outcome, outcome.status)
            return outcome
        return SendOutcome(Outcome.SENT, 200)

    async def reply(self, reply_token: str, messages: list[dict[str, Any]]) -> bool:
        """Replies are free of quota; a lost one is logged, never retried (the token expires)."""
        request = ReplyMessageRequest(reply_token=reply_token, messages=[Message.from_dict(m) for m in messages])
        try:
            await self.api.reply_message(request, _request_timeout=self.timeout)
        except (TimeoutError, ApiException, aiohttp.ClientError) as error:
            log.warning("LINE reply failed: %s", classify(error))
            return False
        return True

    async def quota(self) -> Quota:
        quota = await self.api.get_message_quota(_request_timeout=self.timeout)
        consumption = await self.api.get_message_quota_consumption(_request_timeout=self.timeout)
        limit = quota.value if str(getattr(quota.type, "value", quota.type)) == "limited" else None
        return Quota(limit=limit, used=consumption.total_usage)

    async def is_reachable(self, user_id: str) -> bool | None:
        """Whether the user still follows the account: a profile 404 means blocked or unknown.
        None when LINE could not say (error or timeout)."""
        try:
            await self.api.get_profile(user_id, _request_timeout=self.timeout)
        except ApiException as error:
            if error.status == 404:
                return False
            return None
        except (TimeoutError, aiohttp.ClientError):
            return None
        return True
