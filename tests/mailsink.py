"""A real SMTP server (aiosmtpd) on loopback that keeps what it receives, for tests.

``tests/conftest.py`` starts one per test session on a free port and points the settings
(CHONAIKAI_SMTP_HOST/PORT) at it; the ``mail_sink`` fixture empties it for each test:

    async def test_x(mail_sink):
        ...send something...
        assert mail_sink.messages[0]["subject"] == "…"
        mail_sink.refuse("gone@example.jp", 550)   # this address gets "550 no such user"
        mail_sink.refuse("busy@example.jp", 451)   # this one "451 try again later"
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller

# aiosmtpd logs every command at INFO; a failing test's output should show our own lines.
logging.getLogger("mail.log").setLevel(logging.WARNING)

REPLIES = {
    550: "550 5.1.1 No such user here",
    551: "551 5.1.6 User has moved",
    552: "552 5.2.2 Mailbox full",
    553: "553 5.1.3 Mailbox name not allowed",
    421: "421 4.3.0 Service not available, closing channel",
    450: "450 4.2.1 Mailbox busy, try later",
    451: "451 4.3.0 Local error, try again later",
    452: "452 4.3.1 Insufficient storage",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Envelope:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes


class MailSink:
    """The SMTP handler and the test's view of what arrived."""

    def __init__(
        self, port: int | None = None, host: str = "127.0.0.1", login: tuple[str, str] | None = None
    ) -> None:
        self.host = host
        self.login = login  # (user, password) the server insists on, if any
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        self.refusals: dict[str, str] = {}
        self.sessions = 0  # EHLOs seen: one per SMTP connection
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    # aiosmtpd hooks (run on the server's own thread and loop) --------------------------------

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        session.host_name = hostname
        self.sessions += 1
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        reply = self.refusals.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        data = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        with self._lock:
            self.envelopes.append(Envelope(envelope.mail_from, tuple(envelope.rcpt_tos), data))
            self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    # For tests -------------------------------------------------------------------------------

    def refuse(self, address: str, code: int = 550) -> None:
        """Answer RCPT TO for ``address`` with ``code`` (5xx permanent, 4xx temporary)."""
        self.refusals[address.lower()] = REPLIES.get(code, f"{code} refused for this test")

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.envelopes.clear()
        self.refusals.clear()
        self.sessions = 0

    def to(self, address: str) -> list[EmailMessage]:
        """Messages whose envelope went to ``address``."""
        with self._lock:
            return [
                message
                for message, envelope in zip(self.messages, self.envelopes, strict=True)
                if address.lower() in (rcpt.lower() for rcpt in envelope.rcpt_tos)
            ]

    async def wait_for(self, count: int, seconds: float = 5.0) -> list[EmailMessage]:
        """Wait until at least ``count`` messages arrived (for mail sent by a background task)."""
        deadline = time.monotonic() + seconds
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} messages, got {len(self.messages)}")
            await asyncio.sleep(0.02)
        return list(self.messages)

    def start(self) -> MailSink:
        extra = {}
        if self.login is not None:
            extra = {
                "auth_required": True,
                "auth_require_tls": False,  # loopback only; real servers get STARTTLS or TLS
                "authenticator": self._authenticate,
            }
        self._controller = Controller(self, hostname=self.host, port=self.port, ready_timeout=5, **extra)
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop every open connection (to test reconnecting)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(), auth_data.password.decode()
        ) == self.login
        return AuthResult(success=ok, handled=False)  # let aiosmtpd answer 535 on failure

    @property
    def running(self) -> bool:
        return self._controller is not None


def text_of(message: EmailMessage, subtype: str = "plain") -> str:
    """The decoded text (or ``"html"``) part of a received message."""
    part = message.get_body((subtype,))
    assert part is not None, f"no text/{subtype} part"
    # Bodies in base64 keep their canonical CRLF line ends; tests compare lines.
    return part.get_content().replace("\r\n", "\n")
