"""What every web page shares: paths, the text-size preference, error pages, host routing.

The template set-up (its globals come from accounts and page_cache) is in ``app.py``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, post
from litestar.config.csrf import CSRFConfig
from litestar.datastructures.cookie import Cookie
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.middleware.csrf import generate_csrf_token
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_404_NOT_FOUND, HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ASGIApp, Receive, Scope, Send

from chonaikai.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from chonaikai.tenancy.logic import HostMap

log = logging.getLogger(__name__)

TEMPLATES_DIR = PROJECT_ROOT / "templates"
STATIC_DIR = PROJECT_ROOT / "static"
HTMX_FILE = "vendor/htmx-2.0.11.min.js"
TEXT_SIZE_COOKIE = "chonaikai_text"
# A route's opt: its plain GETs by signed-in members are answered before the framework (signed_in_front.py).
SIGNED_IN_FRONT = "signed_in_front"
# Paths that are never rewritten into an association's space on a custom host.
GLOBAL_PREFIXES = (
    "/a/", "/c/", "/static/", "/healthz", "/schema", "/api/", "/prefs/", "/favicon.ico",
    "/signin", "/signout", "/dev/", "/r/", "/u/", "/line/", "/card", "/circular-files/",
)


def safe_next(target: str | None) -> str:
    """Only same-site paths, so a crafted link cannot bounce a member to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


# 「文字を大きく」: 大 is about 125% of the normal 18px, 特大 about 150% (site.css).
TEXT_SIZES = ("normal", "large", "xlarge")


def parse_cookie_header(raw: bytes) -> dict[str, str]:
    """A Cookie header's pairs, for the pieces that answer before the framework (page cache,
    read front)."""
    pairs = (part.split("=", 1) for part in raw.decode("latin-1").split(";"))
    return {pair[0].strip(): pair[1].strip() for pair in pairs if len(pair) == 2}


class CsrfCookie:
    """The CSRF middleware's cookie as it writes it on a page's first visit, for the fronts that
    answer before the framework (delivery/read_front.py, signed_in_front.py). Litestar's Cookie
    builds it through http.cookies at ~40 µs a time; here the value (hex: nothing to quote) is put
    into the header built once."""

    def __init__(self, csrf: CSRFConfig) -> None:
        mark = "0" * 8
        header = Cookie(
            key=csrf.cookie_name, value=mark, path=csrf.cookie_path, secure=csrf.cookie_secure,
            httponly=csrf.cookie_httponly, samesite=csrf.cookie_samesite, domain=csrf.cookie_domain,
        ).to_header(header="")
        self.name = csrf.cookie_name
        self.secret = csrf.secret
        self._before, self._after = header[: header.index(mark)], header[header.index(mark) + len(mark) :]

    def header(self, token: str) -> tuple[bytes, bytes]:
        return b"set-cookie", (self._before + token + self._after).encode("latin-1")

    def token_for(self, cookies: dict[str, str]) -> tuple[str, tuple[bytes, bytes] | None]:
        """The page's CSRF token as the middleware picks it for a safe method (the cookie's, or a
        new one), and the cookie to set when it is new."""
        token = cookies.get(self.name)
        if token:
            return token, None
        token = generate_csrf_token(secret=self.secret)
        return token, self.header(token)


def text_size_of(cookies: Any) -> str:
    """The reader's chosen text size, from the cookie (anything else: normal)."""
    size = cookies.get(TEXT_SIZE_COOKIE, "normal") if cookies else "normal"
    return size if size in TEXT_SIZES else "normal"


@post("/prefs/text-size", name="text_size")
async def set_text_size(data: URLEncodedBody[dict[str, str]]) -> Redirect:
    """The 「文字を大きく」 switch: a plain form post that works without JavaScript; the choice is
    remembered for two years."""
    size = data.get("size") if data.get("size") in TEXT_SIZES else "normal"
    response = Redirect(path=safe_next(data.get("next")), status_code=303)
    response.set_cookie(TEXT_SIZE_COOKIE, size, max_age=3600 * 24 * 365 * 2, httponly=True, samesite="lax")
    return response


class TenantNotFound(NotFoundException):
    detail = "association not found"


def is_htmx(request: Request) -> bool:
    """An htmx request wants a fragment; the same URL without it answers a whole page."""
    return request.headers.get("hx-request") == "true"


def _wants_html(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return False
    accept = request.headers.get("accept", "*/*")
    return "text/html" in accept or "*/*" in accept


def not_found_handler(request: Request, exc: HTTPException) -> Response:
    if not _wants_html(request):
        return Response({"detail": "見つかりません (not found)", "status_code": 404}, status_code=HTTP_404_NOT_FOUND)
    return Template(
        template_name="errors/404.html",
        context={"tenant_missing": isinstance(exc, TenantNotFound)},
        status_code=HTTP_404_NOT_FOUND,
    )


def not_authorized_handler(request: Request, exc: HTTPException) -> Response:
    """Strangers on a members' page are sent to sign in, and brought back afterwards."""
    if not _wants_html(request):
        return Response({"detail": "ログインが必要です (sign-in required)", "status_code": 401}, status_code=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(path="/signin", query_params={"next": target}, status_code=303)


def forbidden_handler(request: Request, exc: HTTPException) -> Response:
    if not _wants_html(request):
        return Response({"detail": "権限がありません (forbidden)", "status_code": 403}, status_code=403)
    return Template(template_name="errors/403.html", status_code=403)


# What a browser is told for request errors that reach no page of their own.
CLIENT_ERRORS = {
    400: ("入力を確かめてください", "送られた内容に、使えない文字や値がありました。前の画面に戻って、入力を確かめてください。"),
    409: ("この操作は今はできません", "ほかの人の操作と重なったか、お知らせの状態が変わりました。ページを開き直してください。"),
    413: ("ファイルが大きすぎます", "送ったファイルが大きすぎます。小さいファイルに分けるか、写真の大きさを小さくしてください。"),
    422: ("まだ公開できません", "書きかえていないところがあります。前の画面に戻って、直してから公開してください。"),
    429: ("少し時間をおいてください", "短い時間に何度も送りました。1時間ほどたってから、もう一度お試しください。"),
}


def client_error_handler(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code if exc.status_code in CLIENT_ERRORS else 400
    if not _wants_html(request):
        body = {"detail": exc.detail, "status_code": status}
        if exc.extra:  # which field, for programs (the publishing service's refusals)
            body["extra"] = exc.extra
        return Response(body, status_code=status)
    heading, text = CLIENT_ERRORS[status]
    return Template(template_name="errors/client.html", context={"heading": heading, "text": text}, status_code=status)


def out_of_range_handler(request: Request, exc: Exception) -> Response:
    """A value the database cannot store. In a link (``/notices/99999999999999999999``) it names
    nothing that can exist: not found. In a form: the person is asked to check what they typed."""
    if request.method in ("GET", "HEAD"):
        return not_found_handler(request, NotFoundException())
    return client_error_handler(request, ValidationException())


def server_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    if not _wants_html(request):
        return Response({"detail": "サーバーで問題が起きました (server error)", "status_code": 500}, status_code=500)
    return Template(
        template_name="errors/500.html", status_code=HTTP_500_INTERNAL_SERVER_ERROR
    )


class HostRoutingMiddleware:
    """Serves an association at ``/`` of its own host name by rewriting the path to ``/a/{slug}/…``.

    ``/a/{slug}/…`` always works, on any host; this only adds the short form.
    """

    def __init__(self, app: ASGIApp, host_map: HostMap) -> None:
        self.app = app
        self.host_map = host_map

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(GLOBAL_PREFIXES):
            host = _header(scope, b"host")
            slug = await self.host_map.slug_for(host) if host else None
            if slug:
                path = f"/a/{slug}{scope['path']}"
                scope = {**scope, "path": path, "raw_path": path.encode()}  # type: ignore[assignment]
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


def page_context(**values: Any) -> dict[str, Any]:
    return values
