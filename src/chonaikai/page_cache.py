"""Rendered public pages for visitors who are not signed in, reused for a few seconds.

Most requests are residents reading their association's homepage, board or a public notice
without signing in, and every one of them sees the same page. A handler marked
``opt={"shared_page": True}`` has its answer kept per host, path, 「文字を大きく」 cookie and gzip,
the only things such a page varies by:

- a visitor with a session cookie (an officer, a signed-in member), an htmx request or a query
  string is never served from it and never fills it — except the board's searches
  (``shared_page="with_query"``: the same words give every such visitor the same page); a page
  is kept only when it was rendered for nobody — decided from the principal the handler
  actually resolved (a bearer token opens nothing outside /api/);
- the page is rendered without a CSRF token (base.html, ``shared_copy``) and kept without the
  cookies of the visitor who happened to fill it; its one form, the text-size switch, is exempt
  from CSRF (it only sets a display cookie);
- when a page is due again, visitors get the previous copy (at most one period older) while it is
  rendered once apart from them; the first visitors of a page not kept yet wait for one render,
  so 64 visitors arriving together do not render it 64 times.

Litestar's own response cache is not used: it keeps the response after compression and CSRF, so
it would hand one visitor's CSRF cookie, and gzip bytes, to everyone.

Each web process has its own cache. A write to an association through a process forgets that
association's pages there before the answer leaves; other processes forget them within about a
second (page_changes.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.scope.state import CONNECTION_STATE_KEY

from chonaikai.accounts.sessions import SESSION_COOKIE
from chonaikai.web import parse_cookie_header, text_size_of

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Writes under these paths change what one association's public pages show.
ASSOCIATION_WRITE_PREFIXES = ("/a/", "/api/v1/associations/")
# A city's writes (circulars forwarded automatically) may reach any association.
CITY_WRITE_PREFIXES = ("/c/", "/api/v1/cities/")
WRITE_PREFIXES = ASSOCIATION_WRITE_PREFIXES + CITY_WRITE_PREFIXES


def _cookies(scope: Scope) -> dict[str, str]:
    for name, value in scope["headers"]:
        if name == b"cookie":
            return parse_cookie_header(value)
    return {}


def is_shared_request(scope: Scope) -> bool:
    """A request that may be answered with, and may fill, the shared copy of a page."""
    if scope["method"] != "GET" or scope.get("query_string"):
        return False
    for name, value in scope["headers"]:
        if name == b"hx-request" and value == b"true":
            return False
    return SESSION_COOKIE not in _cookies(scope)


def rendered_for_nobody(scope: Scope) -> bool:
    """Whether the page was rendered for no one: decided from the principal actually resolved for
    it (and the session loaded), never from the request's headers alone."""
    principal = (scope.get("state") or {}).get("principal")
    if principal is not None and principal.is_authenticated:
        return False
    session = scope.get("session")
    return not (isinstance(session, dict) and session)


def renders_shared_copy(scope: Scope) -> bool:
    """This answer will be kept and shown to other visitors: render it without a CSRF token
    (base.html asks through the template global ``shared_copy``)."""
    handler = scope.get("route_handler")
    shared = handler.opt.get("shared_page") if handler is not None else None
    if shared == "with_query" and scope.get("query_string"):
        # The board, whose searches (?q=) are the same page for every such visitor too: judged
        # as the page without its query (the key keeps the query).
        scope = {**scope, "query_string": b""}
    return bool(shared) and is_shared_request(scope) and rendered_for_nobody(scope)


def _page_key(scope: Scope) -> str:
    host = encoding = b""
    for name, value in scope["headers"]:
        if name == b"host":
            host = value
        elif name == b"accept-encoding":
            encoding = value
    size = text_size_of(_cookies(scope))
    gzip = "gzip" if b"gzip" in encoding else "plain"
    slug = (scope.get("path_params") or {}).get("slug", "")
    query = scope.get("query_string") or b""
    path = f"{scope['path']}?{query.decode('latin-1')}" if query else scope["path"]
    return f"{slug}|{host.decode('latin-1')}|{path}|{size}|{gzip}"


def _without_cookies(message: Message) -> Message:
    if message["type"] != "http.response.start":
        return message
    headers = [(name, value) for name, value in message.get("headers", []) if name.lower() != b"set-cookie"]
    return {**message, "headers": headers}


@dataclass
class _Page:
    expires: float
    messages: list[Message]


class PageCache:
    def __init__(self, seconds: int, max_entries: int = 5000, background_renders: int = 4) -> None:
        self.seconds = seconds
        # Renders apart from visitors at one time: more would only queue for database connections.
        self.background_renders = background_renders
        self.max_entries = max_entries  # a flood of distinct hosts cannot grow it without end
        self._pages: dict[str, _Page] = {}
        self._rendering: dict[str, asyncio.Future[None]] = {}
        self._background: set[asyncio.Task[None]] = set()
        # Other copies of an association's pages kept per process (signed-in pages'
        # shared pieces): forgotten with these, by slug (None: all).
        self._also: list[Callable[[str | None], None]] = []

    def also_forget(self, forget: Callable[[str | None], None]) -> None:
        self._also.append(forget)

    def __len__(self) -> int:
        return len(self._pages)

    def forget_association(self, slug: str) -> None:
        prefix = f"{slug}|"
        for key in [key for key in self._pages if key.startswith(prefix)]:
            del self._pages[key]
        for forget in self._also:
            forget(slug)

    def clear(self) -> None:
        self._pages.clear()
        for forget in self._also:
            forget(None)

    def _keep(self, key: str, messages: list[Message]) -> None:
        if len(self._pages) >= self.max_entries:
            now = time.monotonic()
            for stale in [k for k, page in self._pages.items() if page.expires <= now]:
                del self._pages[stale]
            if len(self._pages) >= self.max_entries:
                self._pages.clear()
        self._pages[key] = _Page(time.monotonic() + self.seconds, messages)

    async def serve(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        key = _page_key(scope)
        while True:
            page = self._pages.get(key)
            now = time.monotonic()
            if page is not None and page.expires > now:
                break
            if page is not None and now - page.expires < self.seconds:
                # Due again: this visitor gets the copy from a moment ago while one render runs
                # apart from any visitor's request, so nobody waits for it.
                if key not in self._rendering and len(self._background) < self.background_renders:
                    self._render_in_background(key, app, scope)
                break
            rendering = self._rendering.get(key)
            if rendering is None:
                await self._render(key, app, scope, receive, send)
                return
            await asyncio.shield(rendering)  # the first visitors of a page wait for one render
            if key not in self._pages:  # that render failed or was not a 200: render our own
                await self._render(key, app, scope, receive, send)
                return
        for message in page.messages:
            await send(message)

    def _render_in_background(self, key: str, app: ASGIApp, scope: Scope) -> None:
        # A scope of its own: Litestar keeps per-request state in it.
        state = {name: value for name, value in scope["state"].items() if name != CONNECTION_STATE_KEY}
        own_scope = {**scope, "state": state}

        async def no_body() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def nowhere(message: Message) -> None:
            return None

        task = asyncio.create_task(self._render(key, app, own_scope, no_body, nowhere))  # type: ignore[arg-type]
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _render(self, key: str, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._rendering[key] = done
        answer: list[Message] = []

        async def hold(message: Message) -> None:
            answer.append(message)

        # The answer is held until complete, so that a slow client does not keep the others waiting.
        try:
            await app(scope, receive, hold)
            if answer and answer[0].get("status") == 200 and rendered_for_nobody(scope):
                self._keep(key, [_without_cookies(message) for message in answer])
        finally:
            # Renders of one key can overlap (visitors who waited for one that was not kept each
            # render their own): only the latest one's entry is ours to remove.
            if self._rendering.get(key) is done:
                del self._rendering[key]
            done.set_result(None)
        for message in answer:
            await send(message)

    def forget_after_write(self, scope: Scope) -> None:
        from chonaikai.delivery.readlink import shared_reads  # read pages of its notices too

        path = scope["path"]
        if path.startswith(ASSOCIATION_WRITE_PREFIXES):
            slug = (scope.get("path_params") or {}).get("slug")
            if slug:
                self.forget_association(slug)
                shared_reads.forget_association(slug)
        elif path.startswith(CITY_WRITE_PREFIXES):
            self.clear()
            shared_reads.clear()

    def middleware(self) -> type:
        cache = self

        class PageCacheMiddleware:
            def __init__(self, app: ASGIApp) -> None:
                self.app = app

            async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
                if scope["type"] != "http":
                    await self.app(scope, receive, send)
                elif scope["method"] not in SAFE_METHODS and scope["path"].startswith(WRITE_PREFIXES):
                    await self.app(scope, receive, _forgetting_before_answer(cache, scope, send))
                elif cache.seconds > 0 and renders_shared_copy(scope):
                    await cache.serve(self.app, scope, receive, send)
                else:
                    await self.app(scope, receive, send)

        return PageCacheMiddleware


def _forgetting_before_answer(cache: PageCache, scope: Scope, send: Send) -> Send:
    """So that the officer's next page view, even signed out, already shows the change."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            cache.forget_after_write(scope)
        await send(message)

    return wrapped
