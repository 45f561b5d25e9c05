"""Sending ready-made messages over several long-lived SMTP connections.

aiosmtplib has neither connection pooling nor PIPELINING, so one connection waits for a reply
after every command; throughput comes from several connections working side by side
(CHONAIKAI_SMTP_CONNECTIONS). Connections stay open between ``send_many`` calls and are
opened again when the server drops them.

Each message gets a ``SendResult``: sent, a permanent failure (5xx: unknown address, refused
content — retrying will not help) or a temporary one (4xx, lost connection, timeout — the
delivery worker retries these later).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiosmtplib

from chonaikai.mail.compose import InvalidAddress, check_address, sender_address
from chonaikai.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendResult:
    envelope_to: str
    ok: bool
    permanent: bool = False  # only meaningful when not ok
    code: int | None = None
    error: str = ""

    @property
    def temporary(self) -> bool:
        return not self.ok and not self.permanent


def _failure(to: str, code: int | None, message: str) -> SendResult:
    # 5xx is final (RFC 5321 §4.2.1); 4xx, no code (connection trouble) and anything odd may pass.
    permanent = code is not None and 500 <= code < 600
    return SendResult(to, ok=False, permanent=permanent, code=code, error=message.strip()[:500])


class SMTPSender:
    """``async with SMTPSender() as sender: results = await sender.send_many([(to, data), …])``."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        connections: int | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.settings = settings or get_settings()
        self.connections = max(1, connections or self.settings.smtp_connections)
        self.timeout = timeout
        self.envelope_from = sender_address(self.settings)[1]
        self._idle: list[aiosmtplib.SMTP] = []
        self._local_hostname = urlsplit(self.settings.base_url).hostname or "localhost"

    async def __aenter__(self) -> SMTPSender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_user or None,
            password=s.smtp_password or None,
            use_tls=s.smtp_tls == "tls",
            start_tls=True if s.smtp_tls == "starttls" else False,
            timeout=self.timeout,
            local_hostname=self._local_hostname,
        )

    async def _connected(self) -> aiosmtplib.SMTP:
        """A connection from the idle list, or a new one (connect, STARTTLS and login as set)."""
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client
        client = self._client()
        await client.connect()
        return client

    async def _release(self, client: aiosmtplib.SMTP) -> None:
        if client.is_connected and len(self._idle) < self.connections:
            self._idle.append(client)
        else:
            await _quit(client)

    async def _send_one(self, client: aiosmtplib.SMTP, to: str, data: bytes) -> SendResult:
        try:
            await client.sendmail(self.envelope_from, [to], data)
            return SendResult(to, ok=True)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0]
            return _failure(to, refusal.code, refusal.message)
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code == 421:  # the server is closing this connection
                client.close()
            return _failure(to, exc.code, exc.message)

    async def send_many(
        self,
        messages: Sequence[tuple[str, bytes]],
        on_result: Callable[[int, SendResult], Awaitable[None]] | None = None,
    ) -> list[SendResult]:
        """Send each ``(envelope recipient, message bytes)``; results in the same order.

        ``on_result(index, result)`` is awaited as soon as each message's result is known, before
        its connection sends the next one (the delivery worker records "sent" there, so a crash
        re-sends at most one message per connection)."""
        results: list[SendResult | None] = [None] * len(messages)
        if not messages:
            return []
        next_index = 0
        server_down: str | None = None  # set when connecting fails: the rest fail fast

        async def report(index: int) -> None:
            result = results[index]
            if on_result is None or result is None:
                return
            try:
                await on_result(index, result)
            except Exception:  # bookkeeping: the caller records every result at the end anyway
                log.exception("recording the result of one message failed")

        async def work() -> None:
            nonlocal next_index, server_down
            client: aiosmtplib.SMTP | None = None
            try:
                while next_index < len(messages):
                    index = next_index
                    next_index += 1
                    to, data = messages[index]
                    try:
                        check_address(to)
                    except InvalidAddress as exc:
                        results[index] = _failure(to, 553, str(exc))
                        await report(index)
                        continue
                    # A kept connection the server has dropped meanwhile (servers close idle
                    # ones) gets one fresh connection and one more try; after that the
                    # delivery worker's retry with backoff takes over.
                    for _attempt in (1, 2):
                        if server_down is not None:
                            results[index] = _failure(to, None, server_down)
                            break
                        if client is None or not client.is_connected:
                            try:
                                client = await self._connected()
                            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                                # Wrong password or server away: a problem of ours, not of this
                                # address, so temporary for every message.
                                server_down = f"SMTP server not usable: {type(exc).__name__}: {exc}"
                                log.warning("%s", server_down)
                                results[index] = _failure(to, None, server_down)
                                break
                        try:
                            results[index] = await self._send_one(client, to, data)
                            break
                        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                            client.close()
                            client = None
                            results[index] = _failure(to, None, f"{type(exc).__name__}: {exc}")
                    await report(index)
            finally:
                if client is not None:
                    await self._release(client)

        workers = min(self.connections, len(messages))
        await asyncio.gather(*(work() for _ in range(workers)))
        return [r if r is not None else _failure(m[0], None, "not sent") for r, m in zip(results, messages, strict=True)]

    async def send(self, to: str, data: bytes) -> SendResult:
        return (await self.send_many([(to, data)]))[0]

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        await asyncio.gather(*(_quit(client) for client in idle), return_exceptions=True)


async def _quit(client: aiosmtplib.SMTP) -> None:
    if not client.is_connected:
        return
    try:
        await client.quit(timeout=5)
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        client.close()


async def send_one(to: str, data: bytes, settings: Settings | None = None) -> SendResult:
    """One message on a connection of its own (sign-in links, invitations)."""
    async with SMTPSender(settings, connections=1) as sender:
        return await sender.send(to, data)
