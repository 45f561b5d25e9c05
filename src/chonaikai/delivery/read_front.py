"""The read page /r/{token} as most of its readers get it: one lookup, the page every reader of the
content shares with their token put in, no framework in between.

Every e-mail and LINE message opens /r/{token}. When a city circular or a 安否確認 reaches 120,000
households, they all open it within minutes, each with a token of their own, so the page can
never be kept per address like the public pages. What a reader without a session sees is the same
for all readers of one notice apart from the token and the CSRF value, though: the route
(``routes.read_page``) renders that page once per notice (``SharedRead.pages``, forgotten with the
association's other pages) with stand-ins for the two, and this front answers the next readers
from it. Before, each visit went through Litestar's middleware, the session, four queries and a
render: 0.05 of the hello route; the front answers with one indexed lookup (``readlink.lookup``).

The front answers only a plain GET of ``/r/{token}`` by a visitor without a session (no query, no
htmx), of a link still shown to its household, whose page is already there and still valid, and
which shows nothing of the household's own (no answer given). Anything else — the first visit of
a notice, an unknown or withdrawn link, an answered question, a signed-in reader — goes on to the
route, which renders it (and fills the shared page).

It also takes 「読みました」 as the page's button sends it (htmx POST ``/r/{token}/confirm``, the
CSRF value in its header), checked by the CSRF middleware's own rule and committed before the
answer like the route's; a plain form post, a missing or foreign CSRF value and an unknown or
withdrawn link go on to the route (303, 403, 404, 410 as before).
"""

from __future__ import annotations

import html
import time
import zlib
from dataclasses import dataclass
from hmac import compare_digest

from litestar.config.csrf import CSRFConfig
from litestar.middleware.csrf import CSRF_SECRET_LENGTH, generate_csrf_hash
from litestar.types import ASGIApp, Receive, Scope, Send

from chonaikai.accounts.sessions import SESSION_COOKIE
from chonaikai.delivery import readlink
from chonaikai.web import CsrfCookie, parse_cookie_header, text_size_of

# The read link's token must not travel to other sites in Referer, and the page is nobody's to index.
READ_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "no-store",
}
_READ_HEADER_PAIRS = [(name.lower().encode(), value.encode()) for name, value in READ_HEADERS.items()]

# Compression as the app's CompressionConfig (gzip level 1, pages of 500 bytes and more).
GZIP_LEVEL = 1
GZIP_MINIMUM = 500


@dataclass(frozen=True)
class SharedPage:
    """One rendered read page with stand-ins for the reader's token and CSRF value."""

    text: str
    token_mark: str
    csrf_mark: str
    until: float | None  # time.time() after which the page is no longer right (a deadline), or None

    def valid(self) -> bool:
        return self.until is None or time.time() < self.until

    def for_reader(self, token: str, csrf: str) -> str:
        return self.text.replace(self.token_mark, token).replace(self.csrf_mark, html.escape(csrf))


def page_key(confirmed: bool, cookies: object) -> tuple[bool, str]:
    """What a shared read page varies by besides the content: 「読みました」 already pressed, and
    the text size (the whole page is rendered for it)."""
    return confirmed, text_size_of(cookies)


def _csrf_secret_part(token: str, secret: str) -> str | None:
    """The random part of a CSRF token whose signature is right (as Litestar's middleware checks)."""
    if len(token) < CSRF_SECRET_LENGTH + 1:
        return None
    part, signature = token[:CSRF_SECRET_LENGTH], token[CSRF_SECRET_LENGTH:]
    return part if compare_digest(signature, generate_csrf_hash(token=part, secret=secret)) else None


def csrf_tokens_match(sent: str, cookie: str, secret: str) -> bool:
    """The CSRF middleware's own test: both signed by us, and the same token."""
    sent_part, cookie_part = _csrf_secret_part(sent, secret), _csrf_secret_part(cookie, secret)
    return sent_part is not None and cookie_part is not None and compare_digest(sent_part, cookie_part)


def read_front(app: ASGIApp, csrf: CSRFConfig | None, confirmed_fragment: bytes = b"") -> ASGIApp:
    """Wraps the app (outside Litestar: its middleware runs only after a route was matched)."""
    cookie_name = csrf.cookie_name if csrf else ""
    csrf_header = csrf.header_name.lower().encode() if csrf else b""

    csrf_cookie = CsrfCookie(csrf) if csrf else None

    async def confirm(scope: Scope, receive: Receive, send: Send, token: str) -> None:
        """「読みました」 pressed on the page (htmx, the CSRF value in its header): the route's answer
        for the common case — a link still shown to its household — before the framework."""
        assert csrf is not None
        cookies: dict[str, str] = {}
        sent = ""
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookies = parse_cookie_header(value)
            elif name == csrf_header:
                sent = value.decode("latin-1")
        cookie = cookies.get(cookie_name, "")
        if not sent or not cookie or not csrf_tokens_match(sent, cookie, csrf.secret):
            await app(scope, receive, send)  # refused there, as before (403)
            return
        link = await readlink.lookup(token)
        if link is None or not link.current or not await readlink.confirm_by_token(token, via="web"):
            await app(scope, receive, send)  # the route's kind pages: unknown or withdrawn link
            return
        while (await receive()).get("more_body"):  # an htmx POST has no body to speak of
            pass
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/html; charset=utf-8"), *_READ_HEADER_PAIRS,
            (b"content-length", str(len(confirmed_fragment)).encode()),
        ]})
        await send({"type": "http.response.body", "body": confirmed_fragment})

    async def front(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith("/r/") or scope.get("query_string"):
            await app(scope, receive, send)
            return
        if scope["method"] == "POST":
            token = path[3:-8] if path.endswith("/confirm") else ""
            if (confirmed_fragment and csrf is not None and token and "/" not in token
                    and (b"hx-request", b"true") in scope["headers"]):
                await confirm(scope, receive, send, token)
            else:
                await app(scope, receive, send)
            return
        if scope["method"] != "GET":
            await app(scope, receive, send)
            return
        token = path[3:]
        cookie_header = b""
        gzip_ok = False
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookie_header = value
            elif name == b"accept-encoding":
                gzip_ok = b"gzip" in value
            elif name == b"hx-request":
                token = ""  # htmx asks for parts of pages: the route answers
        cookies = parse_cookie_header(cookie_header) if cookie_header else {}
        if not token or "/" in token or SESSION_COOKIE in cookies or csrf is None:
            await app(scope, receive, send)
            return
        link = await readlink.lookup(token)
        page = None
        if link is not None and link.current and not link.own:
            shared = readlink.shared_reads.peek(link.association_id, link.content_id)
            if shared is not None:
                page = shared.pages.get(page_key(link.confirmed_at is not None, cookies))
        if page is None or not page.valid():
            await app(scope, receive, send)  # renders the page, and keeps it for the next readers
            return
        if not link.opened:
            readlink.receipt_writer().note_open(token)  # written within a second; nobody waits
        headers = [(b"content-type", b"text/html; charset=utf-8"), *_READ_HEADER_PAIRS]
        assert csrf_cookie is not None
        csrf_value, new_cookie = csrf_cookie.token_for(cookies)
        if new_cookie:  # a first visit: the cookie the CSRF middleware would have set
            headers.append(new_cookie)
        body = page.for_reader(token, csrf_value).encode()
        if len(body) >= GZIP_MINIMUM:
            headers.append((b"vary", b"Accept-Encoding"))
            if gzip_ok:
                compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
                body = compressor.compress(body) + compressor.flush()
                headers.append((b"content-encoding", b"gzip"))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return front

