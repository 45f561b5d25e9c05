"""The API page (``/schema``): Swagger UI served from our own origin, so the Content-Security-Policy
(scripts and styles only from 'self', no inline script) stays as it is for every other page.

The viewer is vendored, pinned and checksummed under ``static/vendor/swagger-ui-5.35.0/``
(static/vendor/README.md); ``static/js/schema.js`` starts it. Only ``/api/v1`` routes are in the
schema: HTML pages say ``include_in_schema=False`` through their routers (see ``app.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Request
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin

SWAGGER_DIR = "vendor/swagger-ui-5.35.0"
API_OVERVIEW = "電子町内会の API。Bearer トークンで呼びます (call with a bearer token)."
API_DESCRIPTION = (
    "電子町内会 chonaikai の API です。市や町内会のシステムから、回覧物を送る・届き具合を見る・お知らせを出す・"
    "名簿を読むことができます。\n\n"
    "Every call needs `Authorization: Bearer <token>` (`chonaikai token create`). Errors answer JSON "
    "`{\"detail\": …, \"status_code\": …}`: 400 a value that cannot be used (the message says which), "
    "401 no or a bad token, 403 the token's role may not do this, 404 nothing with that id in the token's "
    "city or association, 409 the state does not allow it, 429 too many calls. Times are ISO 8601 with "
    "their offset; stored in UTC."
)


class LocalSwaggerPlugin(OpenAPIRenderPlugin):
    """Swagger UI at ``/schema`` and ``/schema/swagger`` with no script or style from elsewhere."""

    def __init__(self, path: str | list[str] = ("/", "/swagger")) -> None:  # type: ignore[assignment]
        super().__init__(path=path)

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        static = "/static/"
        json_url = self.get_openapi_json_route(request)
        title = openapi_schema.get("info", {}).get("title", "API")
        return f"""<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} API</title>
<link rel="stylesheet" href="{static}{SWAGGER_DIR}/swagger-ui.css">
<link rel="icon" href="{static}icon.svg" type="image/svg+xml">
<script src="{static}{SWAGGER_DIR}/swagger-ui-bundle.js" defer></script>
<script src="{static}js/schema.js" defer></script>
</head>
<body>
<noscript><p>この画面にはJavaScriptが必要です。<a href="{json_url}">OpenAPIの定義（JSON）</a>を直接開けます。</p></noscript>
<div id="swagger-ui" data-url="{json_url}"></div>
</body>
</html>""".encode()


def render_plugins() -> list[OpenAPIRenderPlugin]:
    return [LocalSwaggerPlugin(), JsonRenderPlugin()]


@dataclass
class ApiError:
    """Every error answer of the API."""

    detail: str
    status_code: int


ERRORS = {
    400: "入力が使えません (the body or a value cannot be used; `detail` says which)",
    401: "トークンがないか正しくありません (no or a bad bearer token)",
    403: "このトークンの役割ではできません (the token's role may not do this)",
    404: "見つかりません (nothing with that id or slug in the token's city or association)",
    409: "今の状態ではできません (the state does not allow it)",
}

# route name -> (summary, description, error statuses it can answer)
API_DOCS: dict[str, tuple[str, str, tuple[int, ...]]] = {
    "api_circular_create": (
        "市から回覧物を送る (send a circular to associations)",
        "市職員のトークンで、回覧物を作ります。JSON: `title`, `summary`, `category`, `target` "
        "(`\"all\"`, `{\"districts\": [...]}` or `{\"associations\": [slug, ...]}`), `needs_confirmation`, "
        "`answer_by` (YYYY-MM-DD), `publish` (true: send now) or `publish_at` (ISO 8601 with offset). "
        "Answers 201 with `id` and `status`.",
        (400, 401, 403, 404),
    ),
    "api_circular_status": (
        "回覧物の届き具合 (how far a circular reached)",
        "町内会ごとに、開いたか・会員に回したか・見送ったか、確認した世帯の数を返します。 "
        "Times are ISO 8601 with their offset.",
        (401, 403, 404),
    ),
    "api_receipts_by_notice": (
        "お知らせを読んだ世帯 (receipts of a notice by its id)",
        "お知らせの id だけで、世帯ごとの届け方・状態・確認を返します（班長のトークンは自分の班だけ）。",
        (401, 403, 404),
    ),
    "api_notice_receipts": (
        "町内会のお知らせを読んだ世帯 (receipts of an association's notice)",
        "合計（届け方ごと・班ごと）と世帯ごとの状態を返します。班長のトークンは自分の班だけ。",
        (401, 403, 404),
    ),
    "api_notice_create": (
        "お知らせを出す (post a notice)",
        "JSON: `title`, `body` (Markdown), `category`, `visibility` (`public` | `members`), `audience` "
        "(`\"all\"`, `\"officers\"` or `{\"han\": [班の名前]}`), `publish` (true: publish now, else a draft). "
        "Answers 201 with `id` and `status`.",
        (400, 401, 403, 404, 409),
    ),
    "api_households": (
        "名簿の世帯 (households of the roster)",
        "世帯の id・名前・班・届け方を返します。読んだことは記録に残ります。班長のトークンは自分の班だけ。",
        (401, 403, 404),
    ),
    "api_line_code": (
        "LINE登録コードを発行 (issue a LINE link code for a household)",
        "世帯がLINEとつながるための1回限りのコードと、その期限（ISO 8601, 時差つき）を返します。",
        (401, 403, 404),
    ),
}


def document_api(app: Litestar) -> None:
    """Only ``/api/`` routes in the schema, each with a summary, a description and its error answers.

    Routes named in API_DOCS get those words; any other API route (one added later) gets its
    docstring and the usual error answers, so the schema never shows an undocumented route."""
    from litestar._openapi.plugin import OpenAPIPlugin

    plugin = app.plugins.get(OpenAPIPlugin)
    plugin.included_routes = {path: route for path, route in plugin.included_routes.items() if path.startswith("/api/")}
    for route in plugin.included_routes.values():
        for method, (handler, _) in route.route_handler_map.items():
            if method == "OPTIONS":
                continue
            doc = (handler.fn.__doc__ or "").strip()
            summary, description, errors = API_DOCS.get(
                handler.name or "", (doc.split("\n", 1)[0] or handler.handler_name, doc or API_OVERVIEW, (400, 401, 403, 404))
            )
            handler.summary = handler.summary or summary
            handler.description = handler.description or description
            handler.responses = {
                **{
                    status: ResponseSpec(data_container=ApiError, description=ERRORS[status])
                    for status in errors
                },
                **(handler.responses or {}),
            }
    plugin._openapi = None  # built again, from the routes kept above
