"""The demo's built-in mail catcher: a real SMTP server on loopback that keeps every message.

``chonaikai demo`` starts it when no SMTP server is configured, so a newcomer can sign in and
watch notices go out without any outside service; ``/dev/mail`` (only when CHONAIKAI_ENV=dev)
lists what arrived. Messages are kept as ``.eml`` files, so every web process and the
delivery worker see the same mailbox, and it survives a restart.
"""

from __future__ import annotations

import email
import email.policy
import logging
import os
import re
import secrets
import socket
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from chonaikai.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

DEV_MAIL_DIR = PROJECT_ROOT / "var" / "dev-mail"
KEEP = 500  # the newest messages kept; older files are removed
_ID_RE = re.compile(r"^[0-9]{19,20}-[0-9a-f]{8}$")


class CatchingHandler:
    """aiosmtpd handler: every message accepted, written to ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        data = envelope.original_content or envelope.content
        message_id = f"{time.time_ns()}-{secrets.token_hex(4)}"
        head = f"X-Chonaikai-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n".encode()
        temporary = self.directory / f".{message_id}.tmp"
        temporary.write_bytes(head + data)
        temporary.replace(self.directory / f"{message_id}.eml")  # readers never see half a file
        _prune(self.directory)
        return "250 Message accepted for delivery"


def _prune(directory: Path) -> None:
    files = sorted(directory.glob("*.eml"))
    for old in files[:-KEEP]:
        old.unlink(missing_ok=True)


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def start_catcher(host: str = "127.0.0.1", port: int = 8025, directory: Path | None = None):
    """Start the catcher on its own thread; returns the aiosmtpd Controller (``.stop()``)."""
    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    controller = Controller(CatchingHandler(directory or DEV_MAIL_DIR), hostname=host, port=port, ready_timeout=5)
    controller.start()
    return controller


def demo_catcher_wanted(environ: dict[str, str] | None = None) -> bool:
    """In the demo (CHONAIKAI_ENV=dev) with no SMTP server named, mail goes to the catcher."""
    env = os.environ if environ is None else environ
    return env.get("CHONAIKAI_ENV", "dev") == "dev" and not env.get("CHONAIKAI_SMTP_HOST")


@dataclass(frozen=True)
class Caught:
    id: str
    subject: str
    sender: str
    to: str
    date: str

    @classmethod
    def of(cls, message_id: str, message: EmailMessage) -> Caught:
        return cls(
            id=message_id,
            subject=str(message.get("subject", "")),
            sender=str(message.get("from", "")),
            to=str(message.get("x-chonaikai-envelope-to") or message.get("to", "")),
            date=str(message.get("date", "")),
        )


def _parse(path: Path) -> EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[return-value]


def list_caught(directory: Path | None = None, limit: int = 100) -> list[Caught]:
    directory = directory or DEV_MAIL_DIR
    if not directory.is_dir():
        return []
    files = sorted(directory.glob("*.eml"), reverse=True)[:limit]
    return [Caught.of(path.stem, _parse(path)) for path in files]


def read_caught(message_id: str, directory: Path | None = None) -> tuple[Caught, EmailMessage] | None:
    if not _ID_RE.match(message_id):
        return None
    path = (directory or DEV_MAIL_DIR) / f"{message_id}.eml"
    if not path.is_file():
        return None
    message = _parse(path)
    return Caught.of(message_id, message), message


def body_of(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body((subtype,))
    if part is None:
        return None
    return part.get_content().replace("\r\n", "\n")


def start_demo_mail(environ: dict[str, str] | None = None):
    """Start the catcher for the demo when wanted; returns (controller, port) or None.

    Points CHONAIKAI_SMTP_HOST/PORT of this process (and the server processes it starts) at
    the catcher: the default port 8025 when free, another free port otherwise.
    """
    from chonaikai.settings import get_settings

    env = os.environ if environ is None else environ
    if not demo_catcher_wanted(env):
        return None
    port = int(env.get("CHONAIKAI_SMTP_PORT") or 8025)
    if not port_is_free("127.0.0.1", port):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    controller = start_catcher("127.0.0.1", port)
    env["CHONAIKAI_SMTP_HOST"] = "127.0.0.1"
    env["CHONAIKAI_SMTP_PORT"] = str(port)
    env["CHONAIKAI_SMTP_TLS"] = "none"
    get_settings.cache_clear()
    return controller, port
