"""E-mail messages as ready-to-send bytes.

A notice goes to thousands of households. Building an ``email.message.EmailMessage`` per
recipient costs ~0.8 ms, so ``NoticeMail`` renders the Jinja templates, encodes the headers and
lays out the MIME structure once per notice; ``for_recipient`` then only joins byte pieces
with the few things that differ per household (To, Date, Message-ID, the read and unsubscribe
links) and base64-encodes the two bodies with ``binascii`` (C code).

Encoding choices (see docs/mail.md): UTF-8 everywhere; bodies in base64 because Japanese text
in quoted-printable takes 9 bytes per character (base64: 4); Subject and display names as
RFC 2047 B-encoded words of whole characters, folded so no header line passes 78 characters.
"""

from __future__ import annotations

import binascii
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parseaddr
from pathlib import Path
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from chonaikai.settings import PROJECT_ROOT, Settings, get_settings

CHANNELS_DIR = PROJECT_ROOT / "notices" / "channels"
CRLF = b"\r\n"
# Slots are marked with NUL characters, which we strip from every input, so a notice body
# can never contain a slot of its own (and so never another household's link).
_SLOT = "\x00{}\x00"
_SLOT_SPLIT = re.compile("\x00([a-z_]+)\x00")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{8,200}$")
# ASCII addresses only: we do not ask servers for SMTPUTF8.
_ADDRESS_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
_MESSAGE_ID_RE = re.compile(r"^<[!-=?-~]{1,200}@[A-Za-z0-9.-]{1,200}>$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# 45 bytes of UTF-8 -> 60 base64 characters; with "=?utf-8?b?" and "?=" a word stays within 75.
_WORD_BYTES = 45
EXCERPT_CHARS = 2000


class InvalidAddress(ValueError):
    """An e-mail address we will not put into a message (malformed, or not plain ASCII)."""


def check_address(address: str) -> str:
    address = address.strip()
    if len(address) > 254 or not _ADDRESS_RE.match(address):
        raise InvalidAddress(f"not a usable e-mail address: {address!r}")
    return address


def _clean(text: str) -> str:
    """Drop NULs and other control characters (keeps tab and newline)."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


_LINE_BREAKS = re.compile(r"[ \t]*[\n\t][ \t\n]*")


def _one_line(text: str) -> str:
    # Only line breaks and tabs become a space: a 全角 space inside a title stays as typed.
    return _LINE_BREAKS.sub(" ", _clean(text)).strip()


def encode_words(text: str, used: int = 0) -> str:
    """``text`` as RFC 2047 encoded words (UTF-8, base64), split between whole characters and
    folded onto continuation lines so no line passes 78 characters; ``used`` is how much of
    the first line the header name already takes. Plain short ASCII is left readable."""
    text = _one_line(text)
    if text.isascii() and used + len(text) <= 78 and "=?" not in text:
        return text
    # "=?utf-8?b?" + "?=" is 12 characters; 4 base64 characters carry 3 bytes.
    limit = max(3, min(_WORD_BYTES, (78 - used - 12) // 4 * 3))
    words = []
    chunk = bytearray()
    for char in text:
        encoded = char.encode()
        if len(chunk) + len(encoded) > limit:
            words.append(bytes(chunk))
            chunk = bytearray()
            limit = _WORD_BYTES
        chunk += encoded
    if chunk:
        words.append(bytes(chunk))
    return "\r\n ".join(
        "=?utf-8?b?" + binascii.b2a_base64(word, newline=False).decode() + "?=" for word in words
    )


def format_address(name: str, address: str, used: int = 0) -> str:
    """``名前 <address>`` for a header, the name encoded when it is not plain ASCII."""
    address = check_address(address)
    name = _one_line(name)
    if not name:
        return address
    if name.isascii():
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        phrase = f'"{quoted}"'
    else:
        phrase = encode_words(name, used)
    last_line = phrase.rpartition("\n")[2] if "\n" in phrase else " " * used + phrase
    separator = "\r\n " if len(last_line) + len(address) + 3 > 78 else " "
    return f"{phrase}{separator}<{address}>"


def _b64_body(data: bytes) -> bytes:
    """Base64 in lines of 76 characters (RFC 2045)."""
    encoded = binascii.b2a_base64(data, newline=False)
    return CRLF.join([encoded[i : i + 76] for i in range(0, len(encoded), 76)])


_date_cache: tuple[int, bytes] = (0, b"")


def _date_header() -> bytes:
    # Formatting a date costs a few microseconds; a mail run sends thousands within one second.
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, format_datetime(datetime.fromtimestamp(now, UTC)).encode())
    return _date_cache[1]


def sender_address(settings: Settings) -> tuple[str, str]:
    """(display name, address) of CHONAIKAI_MAIL_FROM."""
    name, address = parseaddr(settings.mail_from)
    return name, check_address(address)


def make_message_id(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    domain = sender_address(settings)[1].rpartition("@")[2]
    return f"<{secrets.token_hex(16)}@{domain}>"


def _environment(directory: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        # Only the HTML rendering escapes; text bodies carry the words as they are.
        autoescape=lambda name: bool(name) and "html" in name,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


_environments: dict[Path, jinja2.Environment] = {}


def channel_environment(directory: Path = CHANNELS_DIR) -> jinja2.Environment:
    if directory not in _environments:
        _environments[directory] = _environment(directory)
    return _environments[directory]


def _render(template_name: str, context: dict) -> tuple[str, str]:
    """Render a channel template: (subject set inside it with ``{% set subject %}``, body)."""
    module = channel_environment().get_template(template_name).make_module(context)
    return _one_line(str(getattr(module, "subject", ""))), str(module)


def _to_crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


@dataclass(frozen=True)
class Link:
    """An attachment or other link shown in a notice mail (attachments are linked, never attached)."""

    label: str
    url: str


@dataclass(frozen=True)
class ChoiceLink:
    """One answer of a notice's question: its words and the ``?choice=`` value for the read link."""

    label: str
    query: str


class _Body:
    """A rendered body split at its slots: static UTF-8 pieces and slot names in between."""

    __slots__ = ("pieces",)

    def __init__(self, text: str) -> None:
        parts = _SLOT_SPLIT.split(_to_crlf(text))
        # Even indexes are static text, odd ones slot names.
        self.pieces: list[bytes | str] = [
            part.encode() if index % 2 == 0 else part for index, part in enumerate(parts)
        ]

    def fill(self, values: dict[str, bytes]) -> bytes:
        return _b64_body(b"".join(p if isinstance(p, bytes) else values[p] for p in self.pieces))


class NoticeMail:
    """One notice, ready to be mailed to many households.

    >>> mail = NoticeMail("一斉清掃のお知らせ", "桜町内会", "本文…")
    >>> data = mail.for_recipient("taro@example.jp", token)
    """

    def __init__(
        self,
        title: str,
        association_name: str,
        body_text: str,
        body_html: str | None = None,
        attachments: Sequence[Link | tuple[str, str]] = (),
        *,
        settings: Settings | None = None,
        choices: Sequence[str] = (),
        answer_deadline: str = "",
    ) -> None:
        """``choices``: the notice's question (出欠, アンケート …); each becomes a link opening the
        read page with that choice pre-selected (a GET records nothing: scanners follow links)."""
        self.settings = settings or get_settings()
        base_url = self.settings.base_url.rstrip("/")
        self.base_url = base_url.encode()
        title = _one_line(title)
        association_name = _one_line(association_name)
        text = _clean(body_text).strip()
        truncated = len(text) > EXCERPT_CHARS
        if truncated:
            text = text[:EXCERPT_CHARS].rstrip() + "…"
        links = [
            Link(_one_line(link[0]), _absolute(base_url, link[1]))
            if isinstance(link, tuple)
            else Link(_one_line(link.label), _absolute(base_url, link.url))
            for link in attachments
        ]
        context = {
            "title": title,
            "association_name": association_name,
            "body": text,
            # body_html is the notice page's own rendering, already made safe by the notices code.
            "body_html": Markup(_clean(body_html)) if body_html else None,
            "truncated": truncated,
            "attachments": links,
            "read_url": _SLOT.format("read_url"),
            "unsubscribe_url": _SLOT.format("unsubscribe_url"),
            "choices": [ChoiceLink(_one_line(choice), quote(choice, safe="")) for choice in choices],
            "answer_deadline": _one_line(answer_deadline),
        }
        subject, text_body = _render("email_text.j2", context)
        _, html_body = _render("email_html.j2", context)
        self.subject = subject or title
        self._text = _Body(text_body)
        self._html = _Body(html_body)

        from_name, from_address = sender_address(self.settings)
        self._domain = from_address.rpartition("@")[2]
        boundary = f"=_chonaikai_{secrets.token_hex(12)}"
        self._head = (
            f"From: {format_address(association_name or from_name, from_address, 6)}\r\n"
            f"Subject: {encode_words(self.subject, 9)}\r\n"
            "MIME-Version: 1.0\r\n"
            f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n'
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        ).encode()
        part_headers = "Content-Type: {}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        self._before_text = (
            f"\r\nThis is a multi-part message in MIME format.\r\n--{boundary}\r\n"
            + part_headers.format("text/plain")
        ).encode()
        self._before_html = (f"\r\n--{boundary}\r\n" + part_headers.format("text/html")).encode()
        self._end = f"\r\n--{boundary}--\r\n".encode()

    def message_id(self) -> str:
        return f"<{secrets.token_hex(16)}@{self._domain}>"

    def for_recipient(
        self, address: str, token: str, message_id: str | None = None, name: str = ""
    ) -> bytes:
        """The whole message for one household, as bytes for ``SMTPSender.send_many``.

        ``token`` is the delivery's read-link token (URL-safe characters only).
        """
        if not _TOKEN_RE.match(token):
            raise ValueError("token must be URL-safe base64 characters")
        to = format_address(name, address, 4) if name else check_address(address)
        message_id = message_id or self.message_id()
        if not _MESSAGE_ID_RE.match(message_id):
            raise ValueError(f"bad Message-ID: {message_id!r}")
        token_bytes = token.encode()
        values = {
            "read_url": self.base_url + b"/r/" + token_bytes,
            "unsubscribe_url": self.base_url + b"/u/" + token_bytes,
        }
        return b"".join(
            (
                self._head,
                b"To: ", to.encode(), CRLF,
                b"Date: ", _date_header(), CRLF,
                b"Message-ID: ", message_id.encode(), CRLF,
                b"List-Unsubscribe: <", values["unsubscribe_url"], b">\r\n",
                self._before_text,
                self._text.fill(values),
                self._before_html,
                self._html.fill(values),
                self._end,
            )
        )


def _absolute(base_url: str, url: str) -> str:
    url = _one_line(url)
    return base_url + url if url.startswith("/") else url


def single_part_message(
    to: str, subject: str, text: str, *, from_name: str = "", settings: Settings | None = None
) -> bytes:
    """A plain-text message (sign-in links, invitations): small, personal, sent one at a time."""
    settings = settings or get_settings()
    default_name, from_address = sender_address(settings)
    headers = (
        f"From: {format_address(from_name or default_name, from_address, 6)}\r\n"
        f"To: {check_address(to)}\r\n"
        f"Subject: {encode_words(subject, 9)}\r\n"
        f"Date: {_date_header().decode()}\r\n"
        f"Message-ID: {make_message_id(settings)}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        # A sign-in link must not trigger vacation auto-replies (RFC 3834).
        "Auto-Submitted: auto-generated\r\n"
        "\r\n"
    ).encode()
    return headers + _b64_body(_to_crlf(_clean(text)).encode()) + CRLF


def signin_message(to: str, link: str, *, settings: Settings | None = None) -> bytes:
    """The e-mail with a sign-in link (valid 15 minutes, once)."""
    subject, text = _render("signin.j2", {"link": _one_line(link)})
    return single_part_message(to, subject, text, settings=settings)


def invitation_message(
    to: str,
    association_name: str,
    role_label: str,
    link: str,
    *,
    days_valid: int = 7,
    settings: Settings | None = None,
) -> bytes:
    """The e-mail inviting someone to be an officer (会長 invites 副会長, 会計, 広報, 班長 …)."""
    subject, text = _render(
        "invitation.j2",
        {
            "association_name": _one_line(association_name),
            "role_label": _one_line(role_label),
            "link": _one_line(link),
            "days_valid": days_valid,
        },
    )
    return single_part_message(to, subject, text, from_name=_one_line(association_name), settings=settings)
