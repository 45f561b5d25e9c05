"""JSON API for officers' tools: ``POST /api/v1/associations/{slug}/notices``.

Bearer tokens only (``chonaikai token create --association SLUG --role editor``); the same
permission as the posting page (NOTICE_POST) and the same logic functions, so a notice posted
by API is published and delivered exactly like one written on the page.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, post
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException

from chonaikai.accounts.principal import authorize, principal_from_bearer
from chonaikai.accounts.roles import Permission
from chonaikai.notices import logic, publishing
from chonaikai.roster.tables import Han
from chonaikai.tenancy.scope import Tenant


def _refuse(japanese: str, english: str) -> ValidationException:
    return ValidationException(f"{japanese} ({english})")


async def parse_api_notice(tenant: Tenant, data: Any) -> tuple[logic.NoticeInput, bool]:
    """The request body as a NoticeInput and whether to publish now; refuses anything unclear."""
    if not isinstance(data, dict):
        raise _refuse("JSONのオブジェクトを送ってください", "send a JSON object")
    title, body = data.get("title"), data.get("body", "")
    if not isinstance(title, str) or not title.strip():
        raise _refuse("題名を入れてください", "title is required")
    if len(title) > logic.TITLE_MAX:
        raise _refuse(f"題名は{logic.TITLE_MAX}文字までです", f"title is at most {logic.TITLE_MAX} characters")
    if not isinstance(body, str) or len(body) > logic.BODY_MAX:
        raise _refuse(f"本文は{logic.BODY_MAX}文字までの文字列です", f"body is a string of at most {logic.BODY_MAX} characters")
    visibility = data.get("visibility", "members")
    if visibility not in ("public", "members"):
        raise _refuse("visibility は public か members です", "visibility is public or members")
    publish = data.get("publish", False)
    if not isinstance(publish, bool):
        raise _refuse("publish は true か false です", "publish is true or false")
    audience = data.get("audience", "all")
    han_ids: list[int] = []
    if isinstance(audience, dict) and set(audience) == {"han"} and isinstance(audience["han"], list) and audience["han"]:
        names = [name for name in audience["han"] if isinstance(name, str)]
        rows = await tenant.select(Han, Han.id, Han.name).where(Han.name.is_in(names)) if names else []
        found = {row["name"]: row["id"] for row in rows}
        missing = [name for name in audience["han"] if name not in found]
        if missing:
            raise _refuse(f"この班はありません: {', '.join(map(str, missing))}", f"unknown han: {missing}")
        han_ids = [found[name] for name in audience["han"]]
        audience = "han"
    elif audience not in ("all", "officers"):
        raise _refuse('audience は "all"、"officers" か {"han": [班の名前]} です', 'audience is "all", "officers" or {"han": [names]}')
    category = data.get("category", "その他")
    if not isinstance(category, str) or category not in await logic.categories(tenant):
        raise _refuse("分類がありません", "unknown category")
    values = logic.NoticeInput(
        title=title.strip(), body=body, category=category, audience=audience, visibility=visibility, han_ids=han_ids
    )
    return values, publish


@post("/notices", name="api_notice_create", status_code=201)
async def api_create_notice(request: Request, tenant: NamedDependency[Tenant]) -> dict[str, Any]:
    principal = await principal_from_bearer(request.headers.get("authorization", ""))
    authorize(principal, tenant, Permission.NOTICE_POST)
    try:
        data = await request.json()
    except Exception:
        raise _refuse("JSONとして読めません", "the body is not JSON") from None
    values, publish = await parse_api_notice(tenant, data)
    if publish and (errors := publishing.check(values)):
        # The publishing service's rules, as for the form: e.g. a 文例's 【…】 left unfilled.
        # Nothing is saved; the answer names each field.
        raise ValidationException(
            "公開できません: " + " ".join(errors.values()) + " (cannot be published)",
            extra=[{"key": name, "message": message} for name, message in errors.items()],
            status_code=422,
        )
    notice_id = await logic.create_notice(tenant, values, author_title=logic.author_title(principal, tenant))
    if publish:
        try:
            await logic.publish_notice(tenant, notice_id)
        except logic.NoticeStateError as error:  # a rule that needs the saved notice
            raise ValidationException(f"{error} (cannot be published)", status_code=422) from None
    return {"id": notice_id, "status": "published" if publish else "draft"}


router = Router(
    path="/",
    route_handlers=[api_create_notice],
)
