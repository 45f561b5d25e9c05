"""The Litestar application: one factory that wires the domain routers together."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import (
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.openapi.config import OpenAPIConfig
from litestar.static_files import create_static_files_router
from litestar.types import ASGIApp, Receive, Scope, Send

from chonaikai import __version__
from chonaikai.accounts.officer_routes import router as officers_router
from chonaikai.accounts.principal import provide_principal
from chonaikai.accounts.routes import router as accounts_router
from chonaikai.accounts.sessions import DatabaseStore, session_config
from chonaikai.circulars.routes import route_handlers as circular_routes
from chonaikai.db import get_engine, postgres_pool
from chonaikai.delivery.receipts import drain_receipts
from chonaikai.delivery.routes import ROUTERS as delivery_routers
from chonaikai.health import healthz, liveness
from chonaikai.line.routes import api_line_router, association_line_router, line_router
from chonaikai.mail.routes import dev_routes
from chonaikai.notices.api import router as notices_api_router
from chonaikai.notices.routes import router as notices_router
from chonaikai.page_cache import PageCache
from chonaikai.printing.routes import router as printing_router
from chonaikai.roster.routes import router as roster_router
from chonaikai.safety.banner import before_request as safety_banner
from chonaikai.safety.routes import ROUTERS as safety_routers
from chonaikai.settings import Settings, get_settings
from chonaikai.tenancy.logic import HostMap
from chonaikai.tenancy.routes import association_router, public_router
from chonaikai.web import (
    STATIC_DIR,
    HostRoutingMiddleware,
    client_error_handler,
    forbidden_handler,
    not_authorized_handler,
    not_found_handler,
    out_of_range_handler,
    server_error_handler,
    set_text_size,
    template_config,
)

CSRF_COOKIE = "chonaikai_csrf"
CSRF_HEADER = "x-chonaikai-csrf"

# Inline scripts are never allowed; htmx is loaded from our own origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


def security_headers_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_with_headers(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(header for header in SECURITY_HEADERS if header[0] not in present),
                ]
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    page_cache = PageCache(settings.page_cache_seconds)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with postgres_pool(get_engine()):
            if settings.env != "test":
                # What start-up built lives as long as the process: keep it out of the cyclic
                # collector's full passes, which walked all of it and paused requests ~100 ms
                # (bench/confirm.py: p99 133 ms before, 29 ms after).
                gc.collect()
                gc.freeze()
            yield
            await drain_receipts()  # readers' 「読みました」 still on their way to the database
            close = getattr(get_engine(), "close_shared_connections", None)
            if close:
                await close()

    return Litestar(
        route_handlers=[
            public_router,
            association_router,
            accounts_router,
            *circular_routes,
            *delivery_routers,
            officers_router,
            *dev_routes(settings.env),
            notices_router,
            notices_api_router,
            roster_router,
            printing_router,
            *safety_routers,
            line_router, association_line_router, api_line_router,
            healthz,
            liveness,
            set_text_size,
            create_static_files_router(path="/static", directories=[STATIC_DIR], name="static"),
        ],
        template_config=template_config(reload=settings.is_dev),
        dependencies={"principal": Provide(provide_principal)},
        before_request=safety_banner,  # loads the menu's principal too
        middleware=[session_config(secure=not settings.is_dev).middleware, page_cache.middleware()],
        stores={"sessions": DatabaseStore()},
        state=State({"page_cache": page_cache}),
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name=CSRF_COOKIE,
            header_name=CSRF_HEADER,
            cookie_secure=not settings.is_dev,
            cookie_samesite="lax",
            # Regular expressions searched anywhere in the path: anchored, or an association
            # whose slug is "u" or "api" would lose CSRF protection. /u/: RFC 8058 one-click.
            # /prefs/: the text-size switch only sets a display cookie, and shared public
            # pages (page_cache.py) carry no token.
            exclude=["^/api/", "^/line/webhook", "^/healthz", "^/u/", "^/prefs/"],
        ),
        compression_config=CompressionConfig(backend="gzip", minimum_size=500),
        exception_handlers={
            NotFoundException: not_found_handler,
            NotAuthorizedException: not_authorized_handler,
            PermissionDeniedException: forbidden_handler,
            ValidationException: client_error_handler,
            409: client_error_handler,
            413: client_error_handler,
            OverflowError: out_of_range_handler,
            asyncpg.exceptions.DataError: out_of_range_handler,
            500: server_error_handler,
        },
        openapi_config=OpenAPIConfig(title="chonaikai", version=__version__, path="/schema"),
        lifespan=[lifespan],
        debug=False,
    )


def create_asgi_app(settings: Settings | None = None, app: Litestar | None = None) -> ASGIApp:
    """The app as served: host routing and security headers wrap it, since Litestar's own
    middleware runs only after a route was matched."""
    settings = settings or get_settings()
    app = app or create_app(settings)
    host_map = HostMap(tenant_domain=settings.tenant_domain)
    return security_headers_middleware(HostRoutingMiddleware(app, host_map))
