"""A signed-in member's board and notice page, answered by their own route handlers without the
framework's per-request machinery in between.

A signed-in page can never be kept for the next visitor (page_cache.py), and Litestar's middleware,
dependency injection and response building cost most of such a view: about 0.35 ms of CPU against
0.1 ms for the hello route, when the handler itself builds the page from pieces kept per level
(notices/signed_in.py). So routes that declare ``opt={SIGNED_IN_FRONT: True}`` are answered here
for a plain GET with a session cookie:

- the route is found by Litestar's own router, and its handler function is called with the same
  dependencies (their providers, given the path's parameters) and query values;
- the session is read by the session middleware's own ``read_session`` (kept ≤ 1 s, or one
  statement), the before-request hook (the menu's principal, the officers' 安否確認 banner) runs as
  it does for the route, and the CSRF value is the middleware's (the cookie's, or a new one set);
- only a plain answer of the page (a ``Response``, status 200, no cookies) is sent from here.

Everything else goes on to Litestar as if this front were not there, and is answered there from
the start: a full render (a ``Template``: the first view of a level, a question form, a banner),
any exception (not found, not allowed, a bad parameter), a session that is missing, expired,
invalid or due for its daily renewal, a query value that is not plain, htmx. What the handler did
before such a hand-over it does again there; it only reads, or marks as read (idempotent).
"""

from __future__ import annotations

import inspect
import logging
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from litestar import Litestar, MediaType, Response
from litestar._asgi.utils import is_valid_host  # the router's own Host check
from litestar.di import Dependency
from litestar.exceptions import HTTPException, ImproperlyConfiguredException
from litestar.handlers import HTTPRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send
from litestar.utils import normalize_path
from litestar.utils.scope.state import ScopeState

from chonaikai.accounts.sessions import (
    SESSION_COOKIE,
    DatabaseStore,
    QuietSessionBackend,
    read_session,
    renewal_due,
)
from chonaikai.params import ascii_int
from chonaikai.web import SIGNED_IN_FRONT, CsrfCookie, parse_cookie_header

log = logging.getLogger(__name__)


class _Counts:
    answered = 0  # pages answered here (tests and benches tell the front's answers from the route's)


counts = _Counts()


@dataclass(frozen=True)
class _Query:
    name: str
    kind: type  # str or int
    default: Any


@dataclass(frozen=True)
class _Plan:
    """How to call one handler: what each of its parameters is."""

    handler: HTTPRouteHandler
    queries: tuple[_Query, ...]
    path_names: tuple[str, ...]
    dependencies: tuple[tuple[str, Callable[..., Awaitable[Any]], tuple[str, ...]], ...]  # name, provider, its path params
    wants_request: bool
    before: Callable[..., Awaitable[Any]] | None


def _plan(handler: HTTPRouteHandler, app_middleware: list[Any], path_params: frozenset[str]) -> _Plan:
    """Refuses (at start-up) a handler this front could not call exactly as Litestar would. The
    app's own middleware does nothing to these answers but what is done here: forget_on_writes
    (GETs write nothing), the sessions (read_session) and the page cache (never a session's page)."""
    own_middleware = [m for m in handler.resolve_middleware() if m not in app_middleware]
    if handler.resolve_guards() or own_middleware or handler.resolve_response_headers() \
            or handler.resolve_response_cookies() or handler.resolve_after_response() or handler.after_request:
        raise ImproperlyConfiguredException(f"{handler.name}: guards, middleware or after-hooks are not for the front")
    hints = typing.get_type_hints(handler.fn, include_extras=True)
    providers = handler.resolve_dependencies()
    queries, path_names, dependencies = [], [], []
    wants_request = False
    for name, parameter in inspect.signature(handler.fn).parameters.items():
        hint = hints.get(name)
        args = typing.get_args(hint)
        if name == "request":
            wants_request = True
        elif args and isinstance(args[-1], Dependency) and name in providers:
            provider = providers[name].dependency
            needs = tuple(inspect.signature(provider).parameters)
            if not set(needs) <= path_params:  # e.g. require(Permission.X): the route checks it
                raise ImproperlyConfiguredException(f"{handler.name}: the front cannot provide {name!r}")
            dependencies.append((name, provider, needs))
        elif args and type(args[-1]).__name__ == "PathParameter" and name in path_params:
            path_names.append(name)
        elif args and type(args[-1]).__name__ == "QueryParameter" and args[0] in (str, int) \
                and parameter.default is not inspect.Parameter.empty:
            queries.append(_Query(name, args[0], parameter.default))
        else:
            raise ImproperlyConfiguredException(f"{handler.name}: the front cannot provide {name!r}")
    return _Plan(handler, tuple(queries), tuple(path_names), tuple(dependencies), wants_request,
                 handler.resolve_before_request())


def _query_values(plan: _Plan, query_string: bytes) -> dict[str, Any] | None:
    """The handler's query values, or None when Litestar should judge them (a number that is not
    plain ASCII digits, a name given twice, bytes that are not ASCII)."""
    values = {query.name: query.default for query in plan.queries}
    if not query_string:
        return values
    if not query_string.isascii():
        return None
    kinds = {query.name: query.kind for query in plan.queries}
    seen = set()
    for name, value in parse_qsl(query_string.decode("ascii"), keep_blank_values=True):
        if name in seen:
            return None
        seen.add(name)
        kind = kinds.get(name)
        if kind is int:
            number = ascii_int(value)  # anything else (a sign, ², a huge one): Litestar's own answer
            if number is None:
                return None
            values[name] = number
        elif kind is str:
            values[name] = value
    return values


def signed_in_front(app: ASGIApp, litestar: Litestar) -> ASGIApp:
    """Wraps the app (inside host routing, so custom hosts' paths arrive as /a/{slug}/…)."""
    plans = {
        handler: _plan(handler, litestar.middleware, frozenset(route.path_parameters))
        for route in litestar.routes
        for handler in route.route_handlers
        if isinstance(handler, HTTPRouteHandler) and handler.opt.get(SIGNED_IN_FRONT)
    }
    if litestar.csrf_config is None:
        raise ImproperlyConfiguredException("the signed-in front sets the CSRF cookie as the middleware does")
    csrf_cookie = CsrfCookie(litestar.csrf_config)
    store = litestar.stores.get("sessions")
    backend = next((m.kwargs["backend"] for m in litestar.middleware
                    if isinstance(getattr(m, "kwargs", {}).get("backend"), QuietSessionBackend)), None)
    if not plans or not isinstance(store, DatabaseStore) or backend is None:
        return app  # nothing to answer here (an app built without these pieces)

    async def answer(scope: Scope, session_id: str, cookies: dict[str, str]) -> dict[str, Any] | None:
        """The page's ASGI messages, or None: the route answers it."""
        host = next((value for name, value in scope["headers"] if name == b"host"), None)
        if scope.get("root_path") or (host is not None and not is_valid_host(host)):
            return None  # the router's own checks and answers (a bad Host header: 400)
        try:
            _, handler, path, path_params, template = litestar.asgi_router.handle_routing(
                path=normalize_path(scope["path"]), method="GET")
        except HTTPException:
            return None
        plan = plans.get(handler)  # type: ignore[call-overload]
        if plan is None:
            return None
        query = _query_values(plan, scope.get("query_string", b""))
        if query is None:
            return None
        state: dict[str, Any] = dict(scope.get("state") or {})
        found = await read_session(store, session_id, state)
        if found is None or renewal_due(found):
            return None
        data = backend.deserialize_data(found[0])
        if not data:
            return None
        front_scope: Any = {
            **scope, "app": litestar, "litestar_app": litestar, "state": state, "session": data,
            "route_handler": handler, "path": path, "path_params": path_params, "path_template": template,
        }
        token, new_cookie = csrf_cookie.token_for(cookies)
        ScopeState.from_scope(front_scope).csrf_token = token
        request = litestar.request_class(front_scope)
        if plan.before is not None and await plan.before(request) is not None:
            return None
        principal = state.get("principal")
        if principal is None or not principal.is_authenticated or front_scope["session"] is not data:
            return None  # ended or changed on the way: the session middleware writes that
        kwargs: dict[str, Any] = {**query, **{name: path_params[name] for name in plan.path_names}}
        for name, provider, needs in plan.dependencies:
            kwargs[name] = await provider(**{need: path_params[need] for need in needs})
        if plan.wants_request:
            kwargs["request"] = request
        result = await handler.fn(**kwargs)
        if type(result) is not Response or result.status_code not in (None, 200) or result.cookies or result.background \
                or result.media_type != MediaType.HTML or front_scope["session"] is not data:
            return None  # a full render (Template) and anything unusual: the route's own way
        body = result.content if isinstance(result.content, bytes) else str(result.content).encode()
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        headers += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in result.headers.items()]
        if new_cookie is not None:
            headers.append(new_cookie)
        headers.append((b"content-length", str(len(body)).encode()))
        return {"headers": headers, "body": body}

    async def front(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].startswith("/a/"):
            await app(scope, receive, send)
            return
        cookie_header = b""
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookie_header = value
            elif name == b"hx-request":
                cookie_header = b""  # htmx asks for parts of pages: the route answers
                break
        cookies = parse_cookie_header(cookie_header) if cookie_header else {}
        session_id = cookies.get(SESSION_COOKIE)
        page = None
        if session_id:
            try:
                page = await answer(scope, session_id, cookies)
            except HTTPException:  # not found, not allowed (TenantNotFound too): the route's error pages
                page = None
            except Exception:  # a bug here must not cost the page: the route answers (and logs its own)
                log.warning("signed-in front: handed over after an error", exc_info=True)
                page = None
        if page is None:
            await app(scope, receive, send)
            return
        counts.answered += 1
        await send({"type": "http.response.start", "status": 200, "headers": page["headers"]})
        await send({"type": "http.response.body", "body": page["body"]})

    front.plans = plans  # type: ignore[attr-defined]  (tests: which routes it answers)
    return front
