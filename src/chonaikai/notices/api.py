"""JSON API for officers' tools: ``POST /api/v1/associations/{slug}/notices``.

Bearer tokens only (``chonaikai token create --association SLUG --role editor``); the same
permission as the posting page (NOTICE_POST) and the same logic functions, so a notice posted
by API is published and delivered exactly like one written on the page.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Router, post
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from msgspec import Meta

from chonaikai.accounts.permissions import require
from chonaikai.accounts.principal import Access, Principal
from chonaikai.accounts.roles import Permission
from chonaikai.notices import logic, publishing
from chonaikai.roster.tables import Han
from chonaikai.tenancy.scope import Tenant


def _refuse(japanese: str, english: str) -> ValidationException:
    return ValidationException(f"{japanese} ({english})")


class HanAudience(msgspec.Struct, forbid_unknown_fields=True):
    """``{"han": ["1班", "2班"]}``: the households of these 班."""

    han: Annotated[list[Annotated[str, Meta(min_length=1, max_length=50)]], Meta(min_length=1, max_length=500)]


class NoticeBody(msgspec.Struct, forbid_unknown_fields=True):
    """The request body, typed: anything else is a 400 naming the field (msgspec)."""

    title: str
    body: str = ""
    category: str = "その他"
    audience: Literal["all", "officers"] | HanAudience = "all"
    visibility: Literal["public", "members"] = "members"
    publish: bool = False


def _field_of(error: msgspec.ValidationError) -> str:
    """``$.audience.han[0]`` → ``audience``; an unknown field → its name."""
    text = str(error)
    if found := re.search(r"at `\$\.([A-Za-z_]+)", text):
        return found.group(1)
    if found := re.search(r"field `([^`]+)`", text):
        return found.group(1)
    return "body"


async def parse_api_notice(tenant: Tenant, data: Any) -> tuple[logic.NoticeInput, bool]:
    """The request body as a NoticeInput and whether to publish now; refuses anything unclear."""
    if not isinstance(data, dict):
        raise _refuse("JSONのオブジェクトを送ってください", "send a JSON object")
    try:
        request = msgspec.convert(data, NoticeBody, strict=True)
    except msgspec.ValidationError as error:
        field = _field_of(error)
        raise _refuse(f"「{field}」の値が正しくありません: {error}", f"invalid field {field}: {error}") from None
    title, body = request.title, request.body
    if not title.strip():
        raise _refuse("題名を入れてください", "title is required")
    if len(title) > logic.TITLE_MAX:
        raise _refuse(f"題名は{logic.TITLE_MAX}文字までです", f"title is at most {logic.TITLE_MAX} characters")
    if len(body) > logic.BODY_MAX:
        raise _refuse(f"本文は{logic.BODY_MAX}文字までの文字列です", f"body is a string of at most {logic.BODY_MAX} characters")
    han_ids: list[int] = []
    audience: str
    if isinstance(request.audience, HanAudience):
        names = request.audience.han
        rows = await tenant.select(Han, Han.id, Han.name).where(Han.name.is_in(names))
        found = {row["name"]: row["id"] for row in rows}
        missing = [name for name in names if name not in found]
        if missing:
            raise _refuse(f"この班はありません: {', '.join(missing)}", f"audience: unknown han: {missing}")
        han_ids = [found[name] for name in names]
        audience = "han"
    else:
        audience = request.audience
    if request.category not in await logic.categories(tenant):
        raise _refuse("分類がありません", "unknown category")
    values = logic.NoticeInput(
        title=title.strip(), body=body, category=request.category, audience=audience,
        visibility=request.visibility, han_ids=han_ids,
    )
    return values, request.publish


@post("/notices", name="api_notice_create", status_code=201, dependencies={"access": require(Permission.NOTICE_POST)})
async def api_create_notice(
    request: Request, tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access]
) -> dict[str, Any]:
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
