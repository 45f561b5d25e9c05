"""Pages and API for city circulars: city staff under /c/{city}/circulars, each association's
「市からの回覧」 inbox under /a/{slug}/circulars, the JSON API under /api/v1, and the PDF links."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import File, Redirect, Template

from chonaikai.accounts import officer_limits
from chonaikai.accounts.permissions import require
from chonaikai.accounts.principal import Access, Principal, authorize_city
from chonaikai.accounts.roles import Permission
from chonaikai.circulars import logic
from chonaikai.circulars.logic import CircularError, CircularInput, EntryError, UploadedFile
from chonaikai.circulars.tables import CircularAttachment
from chonaikai.clock import local_short, to_local, zone
from chonaikai.roster.tables import Han
from chonaikai.tenancy.scope import Tenant
from chonaikai.tenancy.tables import City
from chonaikai.web import is_htmx

NOTICES = {
    "sent": "回覧を送りました。",
    "scheduled": "送る日時を予約しました。",
    "draft": "下書きとして保存しました。",
    "forwarded": "町内会のお知らせとして送りました。",
    "declined": "「回覧しない」として市に伝えました。",
}


def jst(value: datetime | None, with_date: bool = True) -> str:
    """Times on screen in Japan time, the way people write them."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return local_short(value) if with_date else to_local(value).strftime("%H:%M")


# ---------------------------------------------------------------------------------------------
# City staff pages


async def _city_for(city_slug: str, principal: Principal, permission: Permission) -> dict[str, Any]:
    city = await City.select(City.id, City.slug, City.name).where(City.slug == city_slug).first()
    if city is None:
        raise NotFoundException()
    authorize_city(principal, city["id"], permission)
    return city


@get("/", name="city_circulars")
async def city_list(city_slug: FromPath[str], principal: NamedDependency[Principal], done: FromQuery[str] = "") -> Template:
    city = await _city_for(city_slug, principal, Permission.CITY_DASHBOARD)
    circulars = await logic.list_circulars(city["id"])
    return Template(
        "circulars/city_list.html",
        context={"city": city, "circulars": circulars, "jst": jst, "flash": NOTICES.get(done, "")},
    )


async def _form_context(city: dict[str, Any], values: dict[str, Any], errors: list[str]) -> dict[str, Any]:
    return {
        "city": city,
        "values": values,
        "errors": errors,
        "categories": logic.CATEGORIES,
        "districts": await logic.districts_of_city(city["id"]),
        "associations": await logic.associations_of_city(city["id"]),
    }


@get("/new", name="city_circular_new")
async def city_new(city_slug: FromPath[str], principal: NamedDependency[Principal]) -> Template:
    city = await _city_for(city_slug, principal, Permission.CITY_CIRCULAR_SEND)
    values = {"category": logic.NOTICE_CATEGORY, "target_kind": "all", "when": "now", "districts": [], "associations": []}
    return Template("circulars/city_new.html", context=await _form_context(city, values, []))


def _parse_date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def _parse_local_time(text: str) -> datetime | None:
    """A datetime-local field carries no zone: it is local time (CHONAIKAI_TIME_ZONE)."""
    if not text:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=zone()).astimezone(UTC)


@post("/", name="city_circular_create", status_code=303, request_max_body_size=60_000_000)
async def city_create(request: Request, city_slug: FromPath[str], principal: NamedDependency[Principal]) -> Any:
    city = await _city_for(city_slug, principal, Permission.CITY_CIRCULAR_SEND)
    form = await request.form()
    values: dict[str, Any] = {
        "title": form.get("title", ""),
        "summary": form.get("summary", ""),
        "category": form.get("category", logic.NOTICE_CATEGORY),
        "target_kind": form.get("target_kind", "all"),
        "districts": form.getall("districts") if "districts" in form else [],
        "associations": form.getall("associations") if "associations" in form else [],
        "needs_confirmation": form.get("needs_confirmation") == "1",
        "answer_by": form.get("answer_by", ""),
        "when": form.get("when", "now"),
        "publish_at": form.get("publish_at", ""),
    }
    errors: list[str] = []
    try:
        answer_by = _parse_date(values["answer_by"])
    except ValueError:
        answer_by, errors = None, [*errors, "回答期限の日付の形が正しくありません。"]
    try:
        publish_at = _parse_local_time(values["publish_at"]) if values["when"] == "later" else None
    except ValueError:
        publish_at, errors = None, [*errors, "送る日時の形が正しくありません。"]
    if values["when"] == "later" and publish_at is None and not errors:
        errors.append("送る日時を入れてください。")
    elif values["when"] == "later" and publish_at is not None and publish_at <= datetime.now(UTC):
        errors.append("送る日時が過ぎています。これから先の日時にするか「いますぐ送る」を選んでください。")
    uploads = []
    for item in form.getall("attachments") if "attachments" in form else []:
        if hasattr(item, "read") and getattr(item, "filename", ""):
            uploads.append(UploadedFile(filename=item.filename, content=await item.read()))
    uploads += carried_files(form)
    data = CircularInput(
        title=values["title"],
        summary=values["summary"],
        category=values["category"],
        target_kind=values["target_kind"],
        districts=values["districts"],
        associations=values["associations"],
        needs_confirmation=values["needs_confirmation"],
        answer_by=answer_by,
        publish=values["when"] != "draft",
        publish_at=publish_at,
    )
    if not errors and form.get("action") == "edit":
        return Template("circulars/city_new.html", context={**await _form_context(city, values, []),
                                                             "carried": encode_files(uploads)})
    if not errors and data.publish and form.get("confirmed") != "1":
        # 「送信してよいですか」: how far it reaches, before anything is created.
        try:
            reach = await send_reach(city["id"], data, uploads)
        except CircularError as error:
            errors = error.japanese
        else:
            return Template(
                "circulars/city_confirm.html",
                context={"city": city, "values": values, "reach": reach, "files": encode_files(uploads), "jst": jst},
                status_code=200,
            )
    if not errors:
        try:
            circular_id = await logic.create_circular(city["id"], data, principal.account_id, uploads)
        except CircularError as error:
            errors = error.japanese
    if errors:
        return Template(
            "circulars/city_new.html", context=await _form_context(city, values, errors), status_code=400
        )
    circular = await logic.find_circular(city["id"], circular_id)
    return Redirect(
        path=f"/c/{city['slug']}/circulars/{circular_id}", query_params={"done": circular["status"]}, status_code=303
    )


DASHBOARD_PER_PAGE = 100


@dataclass
class Pager:
    page: int
    pages: int
    first: int  # 1-based numbers of the rows shown
    last: int
    total: int


def page_rows(board: dict[str, Any], page: int) -> tuple[dict[str, Any], Pager]:
    """The dashboard's associations 100 at a time (the totals stay those of all of them)."""
    rows = board["rows"]
    pages = max(1, -(-len(rows) // DASHBOARD_PER_PAGE))
    page = min(max(page, 1), pages)
    start = (page - 1) * DASHBOARD_PER_PAGE
    shown = rows[start:start + DASHBOARD_PER_PAGE]
    return {**board, "rows": shown}, Pager(page, pages, start + 1 if shown else 0, start + len(shown), len(rows))


@dataclass
class Reach:
    """Who a circular will reach, shown on the 「送信してよいですか」 step."""

    associations: list[dict[str, Any]]
    households: int
    reviewed: int  # associations whose officers forward it themselves

    @property
    def association_count(self) -> int:
        return len(self.associations)


async def send_reach(city_id: int, data: CircularInput, files: list[UploadedFile]) -> Reach:
    """Check the circular as creating it would (CircularError when not) and count what it reaches;
    nothing is written."""
    from chonaikai.roster.tables import Household
    from chonaikai.tenancy.tables import Association

    ids = await logic.validate(city_id, data, files)
    associations = await Association.select(
        Association.id, Association.name, Association.district, Association.auto_forward_circulars
    ).where(Association.id.is_in(ids)).order_by(Association.district, Association.kana)
    households = await Household.count().where(
        Household.association.is_in(ids) & (Household.moved_out == False) & Household.erased_at.is_null()  # noqa: E712
    )
    reviewed = sum(1 for row in associations if not row["auto_forward_circulars"])
    return Reach(associations, households, reviewed)


def encode_files(files: list[UploadedFile]) -> list[dict[str, str]]:
    """Chosen PDFs carried through the confirmation page (a browser never sends a file twice)."""
    return [{"name": f.filename, "data": base64.b64encode(f.content).decode()} for f in files]


def carried_files(form: Any) -> list[UploadedFile]:
    names = form.getall("carried_name") if "carried_name" in form else []
    blobs = form.getall("carried_data") if "carried_data" in form else []
    files = []
    for name, blob in zip(names, blobs, strict=False):
        try:
            files.append(UploadedFile(filename=str(name), content=base64.b64decode(str(blob), validate=True)))
        except (ValueError, binascii.Error):
            continue  # a damaged field: validate() then reports the file missing or not a PDF
    return files


@get("/{circular_id:int}", name="city_circular_dashboard")
async def city_dashboard(
    request: Request,
    city_slug: FromPath[str],
    circular_id: FromPath[int],
    principal: NamedDependency[Principal],
    done: FromQuery[str] = "",
    reminded: FromQuery[int] = -1,
    skipped: FromQuery[int] = 0,
    page: FromQuery[int] = 1,
) -> Template:
    city = await _city_for(city_slug, principal, Permission.CITY_DASHBOARD)
    circular = await logic.find_circular(city["id"], circular_id)
    if circular is None:
        raise NotFoundException()
    board = await logic.dashboard(circular_id)
    board, pager = page_rows(board, page)
    chart = logic.chart_svg(board["timeline"])
    attachments = await CircularAttachment.select().where(CircularAttachment.circular == circular_id).order_by(
        CircularAttachment.position
    )
    flash = NOTICES.get(done, "")
    if reminded >= 0:
        flash = f"{reminded}の町内会に催促しました。" + (
            f"（{skipped}の町内会は24時間以内に催促済みのため送っていません）" if skipped else ""
        )
    context = {
        "city": city,
        "circular": circular,
        "board": board,
        "chart": chart,
        "attachments": attachments,
        "jst": jst,
        "labels": logic.STATE_LABELS,
        "flash": flash,
        "attachment_url": logic.attachment_url,
        "pager": pager,
    }
    if is_htmx(request):
        return Template("circulars/_dashboard_table.html", context=context)
    return Template("circulars/city_dashboard.html", context=context)


@post("/{circular_id:int}/send", name="city_circular_send", status_code=303)
async def city_send(city_slug: FromPath[str], circular_id: FromPath[int], principal: NamedDependency[Principal]) -> Redirect:
    city = await _city_for(city_slug, principal, Permission.CITY_CIRCULAR_SEND)
    if await logic.find_circular(city["id"], circular_id) is None:
        raise NotFoundException()
    await logic.send_circular(circular_id)
    return Redirect(path=f"/c/{city['slug']}/circulars/{circular_id}", query_params={"done": "sent"}, status_code=303)


@post("/{circular_id:int}/remind", name="city_circular_remind", status_code=303)
async def city_remind(city_slug: FromPath[str], circular_id: FromPath[int], principal: NamedDependency[Principal]) -> Redirect:
    city = await _city_for(city_slug, principal, Permission.CITY_CIRCULAR_SEND)
    if await logic.find_circular(city["id"], circular_id) is None:
        raise NotFoundException()
    await officer_limits.count_or_refuse("remind", principal.account_id, officer_limits.REMINDS_PER_HOUR)
    result = await logic.remind(circular_id, principal.account_id)
    # Mails go out after the answer; rows stay "recorded" (the worker retries) if this fails.
    return Redirect(
        path=f"/c/{city['slug']}/circulars/{circular_id}",
        query_params={"reminded": str(len(result.reminded)), "skipped": str(result.skipped_recent)},
        status_code=303,
        background=BackgroundTask(logic.send_recorded_reminders) if result.reminded else None,
    )


@get("/{circular_id:int}/export.csv", name="city_circular_csv")
async def city_csv(city_slug: FromPath[str], circular_id: FromPath[int], principal: NamedDependency[Principal]) -> Response:
    city = await _city_for(city_slug, principal, Permission.CITY_DASHBOARD)
    if await logic.find_circular(city["id"], circular_id) is None:
        raise NotFoundException()
    board = await logic.dashboard(circular_id)
    return Response(
        logic.dashboard_csv(board["rows"]).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="circular-{circular_id}.csv"'},
    )


city_router = Router(
    path="/c/{city_slug:str}/circulars",
    route_handlers=[city_list, city_new, city_create, city_dashboard, city_send, city_remind, city_csv],
)


# ---------------------------------------------------------------------------------------------
# The association's inbox


@get("/", name="circular_inbox", dependencies={"access": require(Permission.CIRCULAR_REVIEW)})
async def inbox(tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], done: FromQuery[str] = "") -> Template:
    entries = await logic.inbox(tenant)
    return Template(
        "circulars/inbox.html",
        context={"tenant": tenant, "association": tenant.row, "entries": entries, "jst": jst,
                 "labels": logic.STATE_LABELS, "flash": NOTICES.get(done, "")},
    )


async def _entry_page(tenant: Tenant, entry_id: int, errors: list[str], values: dict[str, Any], status: int = 200) -> Template:
    detail = await logic.entry_detail(tenant, entry_id)
    if detail is None:
        raise NotFoundException()
    hans = await tenant.select(Han, Han.id, Han.name).order_by(Han.position)
    return Template(
        "circulars/entry.html",
        context={"tenant": tenant, "association": tenant.row, **detail, "hans": hans, "errors": errors,
                 "values": values, "jst": jst, "labels": logic.STATE_LABELS, "attachment_url": logic.attachment_url},
        status_code=status,
    )


@get("/{entry_id:int}", name="circular_entry", dependencies={"access": require(Permission.CIRCULAR_REVIEW)})
async def entry_page(tenant: NamedDependency[Tenant], entry_id: FromPath[int], principal: NamedDependency[Principal], access: NamedDependency[Access]) -> Template:
    if await logic.entry_detail(tenant, entry_id) is None:
        raise NotFoundException()
    await logic.open_entry(tenant, entry_id)
    return await _entry_page(tenant, entry_id, [], {"audience": "all"})


@post("/{entry_id:int}/forward", name="circular_forward", status_code=303, dependencies={"access": require(Permission.CIRCULAR_REVIEW)})
async def forward(
    request: Request, tenant: NamedDependency[Tenant], entry_id: FromPath[int], principal: NamedDependency[Principal], access: NamedDependency[Access]
) -> Any:
    form = await request.form()
    values = {
        "cover_note": form.get("cover_note", ""),
        "audience": form.get("audience", "all"),
        "han": form.getall("han") if "han" in form else [],
    }
    try:
        han_ids = [int(value) for value in values["han"]]
        await logic.forward_entry(
            tenant, entry_id, cover_note=values["cover_note"], audience=values["audience"], han_ids=han_ids,
            account_id=principal.account_id,
        )
    except LookupError:
        raise NotFoundException() from None
    except ValueError as error:
        message = error.japanese if isinstance(error, EntryError) else "班の選び方が正しくありません。"
        return await _entry_page(tenant, entry_id, [message], values, status=400)
    return Redirect(path=f"/a/{tenant.slug}/circulars/", query_params={"done": "forwarded"}, status_code=303)


@post("/{entry_id:int}/decline", name="circular_decline", status_code=303, dependencies={"access": require(Permission.CIRCULAR_REVIEW)})
async def decline(
    request: Request, tenant: NamedDependency[Tenant], entry_id: FromPath[int], principal: NamedDependency[Principal], access: NamedDependency[Access]
) -> Any:
    form = await request.form()
    reason = form.get("reason", "")
    try:
        await logic.decline_entry(tenant, entry_id, reason, principal.account_id)
    except LookupError:
        raise NotFoundException() from None
    except EntryError as error:
        return await _entry_page(tenant, entry_id, [error.japanese], {"reason": reason, "audience": "all"}, status=400)
    return Redirect(path=f"/a/{tenant.slug}/circulars/", query_params={"done": "declined"}, status_code=303)


association_circulars_router = Router(
    path="/circulars",
    route_handlers=[inbox, entry_page, forward, decline],
)


# ---------------------------------------------------------------------------------------------
# Attachments: the unguessable key is the permission (the link goes out in e-mails and LINE)


@get("/circular-files/{key:str}/{filename:str}", name="circular_file")
async def circular_file(key: FromPath[str], filename: FromPath[str]) -> File:
    row = await CircularAttachment.select(CircularAttachment.filename, CircularAttachment.content_type).where(
        CircularAttachment.storage_key == key
    ).first()
    path = logic.upload_dir() / key
    if row is None or not path.is_file():
        raise NotFoundException()
    return File(path=path, filename=row["filename"], media_type=row["content_type"], content_disposition_type="inline")


# ---------------------------------------------------------------------------------------------
# JSON API for city systems


def _api_error(status: int, messages: list[tuple[str, str]]) -> Response:
    return Response({"errors": [{"ja": ja, "en": en} for ja, en in messages]}, status_code=status)


def _require_token(request: Request) -> None:
    # The API is for systems with tokens; a browser's session cookie is never enough (no CSRF here).
    if request.headers.get("authorization", "")[:7].lower() != "bearer ":
        raise NotAuthorizedException("Authorization: Bearer <token> を付けてください (bearer token required)")


def _parse_api_body(body: Any) -> CircularInput | list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    if not isinstance(body, dict):
        return [("JSONのオブジェクトを送ってください。", "the body must be a JSON object")]
    title, summary = body.get("title"), body.get("summary")
    if not isinstance(title, str):
        errors.append(("title（題名）は文字列で入れてください。", "title must be a string"))
    if not isinstance(summary, str):
        errors.append(("summary（あらまし）は文字列で入れてください。", "summary must be a string"))
    target = body.get("target", "all")
    kind, districts, slugs = "all", [], []
    if target == "all":
        pass
    elif isinstance(target, dict) and len(target) == 1 and isinstance(target.get("districts"), list):
        kind, districts = "districts", target["districts"]
    elif isinstance(target, dict) and len(target) == 1 and isinstance(target.get("associations"), list):
        kind, slugs = "associations", target["associations"]
    else:
        errors.append(
            (
                'target は "all"、{"districts": [...]}、{"associations": [...]} のどれかです。',
                'target must be "all", {"districts": [...]} or {"associations": [...]}',
            )
        )
    if not all(isinstance(x, str) for x in [*districts, *slugs]):
        errors.append(("地区・町内会は文字列の一覧で入れてください。", "districts/associations must be lists of strings"))
    publish = body.get("publish", True)
    if not isinstance(publish, bool):
        errors.append(("publish は true か false です。", "publish must be true or false"))
    needs_confirmation = body.get("needs_confirmation", False)
    if not isinstance(needs_confirmation, bool):
        errors.append(("needs_confirmation は true か false です。", "needs_confirmation must be true or false"))
    category = body.get("category", logic.NOTICE_CATEGORY)
    answer_by = publish_at = None
    try:
        answer_by = date.fromisoformat(body["answer_by"]) if body.get("answer_by") else None
    except (TypeError, ValueError):
        errors.append(("answer_by は YYYY-MM-DD の形です。", "answer_by must be a date YYYY-MM-DD"))
    try:
        publish_at = datetime.fromisoformat(body["publish_at"]) if body.get("publish_at") else None
        if publish_at is not None and publish_at.tzinfo is None:
            raise ValueError
    except (TypeError, ValueError):
        errors.append(
            ("publish_at は時差つきの ISO 8601 日時です。", "publish_at must be an ISO 8601 time with an offset")
        )
    if errors:
        return errors
    return CircularInput(
        title=title, summary=summary, category=category if isinstance(category, str) else "", target_kind=kind,
        districts=districts, associations=slugs, needs_confirmation=needs_confirmation, answer_by=answer_by,
        publish=publish, publish_at=publish_at,
    )


@post("/cities/{city_slug:str}/circulars", name="api_circular_create", status_code=201)
async def api_create(request: Request, city_slug: FromPath[str], principal: NamedDependency[Principal]) -> Response:
    _require_token(request)
    city = await _city_for(city_slug, principal, Permission.CITY_CIRCULAR_SEND)
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        return _api_error(400, [("JSONとして読めません。", "the body is not valid JSON")])
    parsed = _parse_api_body(body)
    if isinstance(parsed, list):
        return _api_error(400, parsed)
    try:
        circular_id = await logic.create_circular(city["id"], parsed)
    except CircularError as error:
        return _api_error(400, error.messages)
    circular = await logic.find_circular(city["id"], circular_id)
    return Response({"id": circular_id, "status": circular["status"]}, status_code=201)


@get("/circulars/{circular_id:int}/status", name="api_circular_status")
async def api_status(request: Request, circular_id: FromPath[int], principal: NamedDependency[Principal]) -> dict:
    _require_token(request)
    row = await logic.Circular.select(logic.Circular.city).where(logic.Circular.id == circular_id).first()
    if row is None:
        raise NotFoundException()
    authorize_city(principal, row["city"], Permission.CITY_DASHBOARD)
    circular = await logic.find_circular(row["city"], circular_id)
    return await logic.circular_status(circular)


api_router = Router(path="/api/v1", route_handlers=[api_create, api_status])

route_handlers = [city_router, circular_file, api_router]
