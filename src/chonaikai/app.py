"""The Litestar application: one factory that wires the domain routers together."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from litestar import Litestar, Router
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
from litestar.plugins.jinja import JinjaTemplateEngine as Engine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Receive, Scope, Send

from chonaikai import __version__
from chonaikai.accounts.landing import where as signin_where
from chonaikai.accounts.menu import association_menu, current_principal, role_summary
from chonaikai.accounts.officer_routes import router as officers_router
from chonaikai.accounts.principal import provide_principal
from chonaikai.accounts.routes import router as accounts_router
from chonaikai.accounts.sessions import DatabaseStore, session_config
from chonaikai.accounts.signed_in_cache import forget_on_writes
from chonaikai.api_docs import API_DESCRIPTION, document_api, render_plugins
from chonaikai.circulars.routes import association_circulars_router
from chonaikai.circulars.routes import route_handlers as circular_routes
from chonaikai.clock import register_filters
from chonaikai.db import get_engine, postgres_pool
from chonaikai.delivery.read_front import read_front
from chonaikai.delivery.readlink import drain_receipts, shared_reads
from chonaikai.delivery.routes import CONFIRMED_FRAGMENT, receipts_router
from chonaikai.delivery.routes import ROUTERS as delivery_routers
from chonaikai.delivery.routes import api_router as receipts_api_router
from chonaikai.devtools.mail_routes import dev_routes
from chonaikai.health import healthz, liveness
from chonaikai.homepage.routes import router as homepage_router
from chonaikai.kept import freeze_start_up
from chonaikai.line.routes import api_line_router, association_line_router, line_router
from chonaikai.notices.answer_routes import answers_area
from chonaikai.notices.answer_routes import read_router as answers_read_router
from chonaikai.notices.api import answers_api
from chonaikai.notices.api import router as notices_api_router
from chonaikai.notices.home import association_router
from chonaikai.notices.logic import read_marks
from chonaikai.notices.routes import router as notices_router
from chonaikai.notices.shared_pieces import shared_pieces
from chonaikai.page_cache import PageCache, renders_shared_copy
from chonaikai.page_changes import watching as watching_changes
from chonaikai.printing.routes import router as printing_router
from chonaikai.printing.routes import sheet_link_router
from chonaikai.roster.api import router as roster_api_router
from chonaikai.roster.routes import association_roster_router
from chonaikai.roster.routes import router as roster_router
from chonaikai.safety.api import association_api_router as safety_association_api_router
from chonaikai.safety.api import router as safety_api_router
from chonaikai.safety.banner import before_request as safety_banner
from chonaikai.safety.routes import association_safety_router
from chonaikai.safety.routes import city_router as safety_city_router
from chonaikai.settings import Settings, get_settings
from chonaikai.signed_in_front import signed_in_front
from chonaikai.tenancy.deps import provide_tenant
from chonaikai.tenancy.logic import HostMap
from chonaikai.tenancy.routes import public_router
from chonaikai.web import (
    HTMX_FILE,
    STATIC_DIR,
    TEMPLATES_DIR,
    TEXT_SIZE_COOKIE,
    HostRoutingMiddleware,
    client_error_handler,
    forbidden_handler,
    not_authorized_handler,
    not_found_handler,
    out_of_range_handler,
    server_error_handler,
    set_text_size,
    text_size_of,
)
from chonaikai.wiring import wire


def template_config(directory: Path = TEMPLATES_DIR, reload: bool = True) -> TemplateConfig:
    def configure(engine: Engine) -> None:
        engine.engine.globals.update(
            htmx_file=HTMX_FILE,
            text_size_cookie=TEXT_SIZE_COOKIE,
            text_size_of=text_size_of,
            current_principal=current_principal,
            association_menu=association_menu,
            role_summary=role_summary,
            shared_copy=lambda request: renders_shared_copy(request.scope),
        )
        register_filters(engine.engine)
        engine.engine.trim_blocks = True
        engine.engine.lstrip_blocks = True
        # Checking each template file's time on every render is for editing them (dev) only.
        engine.engine.auto_reload = reload

    return TemplateConfig(directory=directory, engine=Engine, engine_callback=configure)



# Everything of one association lives under /a/{slug}: the tenant dependency is provided once,
# here; each area's router only says what it needs (require(Permission.X) per route).
association_space = Router(
    path="/a/{slug:str}",
    dependencies={"tenant": Provide(provide_tenant)},
    route_handlers=[
        association_router,
        notices_router,
        answers_area,
        printing_router,
        receipts_router,
        association_roster_router,
        association_line_router,
        association_circulars_router,
        officers_router,
        homepage_router,
        association_safety_router,
    ],
)
# The JSON API of one association (bearer tokens), with the same tenant dependency.
association_api = Router(
    path="/api/v1/associations/{slug:str}",
    dependencies={"tenant": Provide(provide_tenant)},
    route_handlers=[
        notices_api_router, roster_api_router, api_line_router, receipts_api_router, safety_association_api_router,
    ],
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


# Production is served over HTTPS only (Fly's proxy): browsers should never try plain HTTP.
HSTS_HEADER = (b"strict-transport-security", b"max-age=63072000")


def security_headers_middleware(app: ASGIApp, hsts: bool = False) -> ASGIApp:
    headers_to_add = [*SECURITY_HEADERS, *([HSTS_HEADER] if hsts else [])]

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_with_headers(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(header for header in headers_to_add if header[0] not in present),
                ]
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware


# GETs that record something (a read link's "opened", a LINE button's sign-in): a link checker's
# HEAD must not do either, so these keep answering HEAD with 405.
HEAD_NOT_AS_GET = ("/r/", "/line/go/")


def head_as_get_middleware(app: ASGIApp) -> ASGIApp:
    """HEAD is answered as GET without the body (uptime monitors use HEAD; Litestar's @get
    handlers answered it 405)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD" or scope["path"].startswith(HEAD_NOT_AS_GET):
            await app(scope, receive, send)
            return

        async def without_body(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await app({**scope, "method": "GET"}, receive, without_body)

    return middleware


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    wire()  # the delivery core's content sources and channels
    page_cache = PageCache(settings.page_cache_seconds)
    shared_reads.seconds = settings.page_cache_seconds  # read pages are kept as long as public pages
    page_cache.also_forget(shared_pieces.forget)  # signed-in pages' shared parts (notices/shared_pieces.py)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with postgres_pool(get_engine()), watching_changes(page_cache):
            # CHONAIKAI_GC_FREEZE=0: only for measuring what the freeze is worth (bench/*.py --no-freeze).
            if settings.env != "test" and os.environ.get("CHONAIKAI_GC_FREEZE", "1") != "0":
                # bench/confirm.py: p99 133 ms before, 29 ms after.
                freeze_start_up()
            yield
            await drain_receipts()  # readers' 「読みました」 still on their way to the database
            await read_marks.flush()  # and signed-in readers' read marks (notices/logic.py)
            close = getattr(get_engine(), "close_shared_connections", None)
            if close:
                await close()

    app = Litestar(
        route_handlers=[
            public_router,
            association_space,
            association_api,
            accounts_router,
            signin_where,
            *circular_routes,
            *delivery_routers,
            *dev_routes(settings.env),
            answers_read_router,
            answers_api,
            roster_router,
            line_router,
            sheet_link_router,
            safety_city_router,
            safety_api_router,
            healthz,
            liveness,
            set_text_size,
            create_static_files_router(path="/static", directories=[STATIC_DIR], name="static"),
        ],
        template_config=template_config(reload=settings.is_dev),
        dependencies={"principal": Provide(provide_principal)},
        before_request=safety_banner,  # loads the menu's principal too
        # forget_on_writes: a write through this process ends revoked sessions at once (signed_in_cache.py).
        middleware=[forget_on_writes, session_config(secure=not settings.is_dev).middleware, page_cache.middleware()],
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
        # Level 1: a read page (7 KB) compresses in a third of level 9's time for ~10 % more bytes
        # (bench/read.py); kept pages are compressed once anyway.
        compression_config=CompressionConfig(backend="gzip", minimum_size=500, gzip_compress_level=1),
        exception_handlers={
            NotFoundException: not_found_handler,
            NotAuthorizedException: not_authorized_handler,
            PermissionDeniedException: forbidden_handler,
            ValidationException: client_error_handler,
            409: client_error_handler,
            413: client_error_handler,
            429: client_error_handler,
            OverflowError: out_of_range_handler,
            asyncpg.exceptions.DataError: out_of_range_handler,
            500: server_error_handler,
        },
        openapi_config=OpenAPIConfig(
            title="chonaikai",
            version=__version__,
            path="/schema",
            description=API_DESCRIPTION,
            render_plugins=render_plugins(),
        ),
        lifespan=[lifespan],
        debug=False,
    )
    document_api(app)
    return app


def create_asgi_app(settings: Settings | None = None, app: Litestar | None = None) -> ASGIApp:
    """The app as served: host routing and security headers wrap it, since Litestar's own
    middleware runs only after a route was matched."""
    settings = settings or get_settings()
    app = app or create_app(settings)
    host_map = HostMap(tenant_domain=settings.tenant_domain)
    # The read front answers most visits of /r/{token} before Litestar (delivery/read_front.py), the
    # signed-in front a member's board and notice page (signed_in_front.py).
    routed = read_front(HostRoutingMiddleware(signed_in_front(app, app), host_map), app.csrf_config, CONFIRMED_FRAGMENT)
    wrapped = security_headers_middleware(routed, hsts=settings.env == "production")
    return head_as_get_middleware(wrapped)
