"""Notice board pages: the board, one notice, posting and editing, attachments, 「読みました」.

Handlers are thin: the rules live in ``logic.py`` and ``attachments.py``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, Router, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import (
    ClientException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from chonaikai.accounts.permissions import require
from chonaikai.accounts.principal import Access, Principal, provide_principal
from chonaikai.accounts.roles import Permission
from chonaikai.notices import attachments as files
from chonaikai.notices import logic, publishing, question_form, signed_in
from chonaikai.notices.answering import ask_for_household, changes_answered_question, set_question
from chonaikai.notices.questions import load_question, parse_question
from chonaikai.notices.ready_texts import (
    get_ready_text,
    ready_texts,
    unfilled_placeholders,
)
from chonaikai.notices.render import normalise_query, render_html
from chonaikai.roster import reach
from chonaikai.tenancy.scope import Tenant
from chonaikai.web import SIGNED_IN_FRONT, is_htmx

MAX_PAGE = 100_000  # 20 notices a page: two million notices
ACTIONS = ("preview", "draft", "save", "publish", "schedule")


async def form_data(request: Request) -> dict[str, list[Any]]:
    form = await request.form()
    return {key: form.getall(key) for key in form.keys()}


def base_url(tenant: Tenant) -> str:
    return f"/a/{tenant.slug}/notices"


async def readable_notice(tenant: Tenant, viewer: logic.Viewer, notice_id: int) -> dict[str, Any]:
    """The notice if ``viewer`` may read it; else sign-in (401), 403 or 404."""
    notice = await logic.get_notice(tenant, notice_id)
    if notice is None:
        raise NotFoundException()
    check_access(viewer, notice)
    return notice


def check_access(viewer: logic.Viewer, notice: dict[str, Any]) -> None:
    access = logic.access_to(viewer, notice)
    if access == "signin":
        raise NotAuthorizedException("ログインしてください")
    if access == "forbidden":
        raise PermissionDeniedException("このお知らせを見る権限がありません")
    if access == "hidden":
        raise NotFoundException()


# --- reading ---------------------------------------------------------------------------------


# Searches kept too; a signed-in member's board is answered by signed_in_front.py.
@get("/", name="notices_board", opt={"shared_page": "with_query", SIGNED_IN_FRONT: True})
async def board(
    request: Request,
    tenant: NamedDependency[Tenant],
    category: FromQuery[str] = "",
    q: FromQuery[str] = "",
    page: FromQuery[int] = 1,
    archived: FromQuery[int] = 0,
) -> Template | Response:
    if not 1 <= page <= MAX_PAGE:  # no such page (a huge one overflowed SQLite's OFFSET: 500)
        raise NotFoundException()
    principal = await provide_principal(request)  # loaded already (before_request): one dependency less
    viewer = await logic.load_viewer(principal, tenant)
    q = q[:100]
    category = category[:30]
    context = {
        "tenant": tenant,
        "association": tenant.row,
        "viewer": viewer,
        "categories": await signed_in.categories(tenant),
        "category": category,
        "q": q,
        "archived": bool(archived),
        "base": base_url(tenant),
    }
    partial = is_htmx(request) and request.headers.get("hx-target") == "board"
    searching = bool(normalise_query(q))
    if searching and not viewer.authenticated:  # a visitor's search: kept whole by the page cache
        context["board"] = await signed_in.search_board(tenant, viewer, q=q, category=category, page=page,
                                                        archived=bool(archived))
    else:
        # The level's cards, kept per process (notices/signed_in.py); this reader's unread marks.
        if searching:
            shared, unread = await signed_in.search_for(tenant, viewer, q=q, category=category, page=page,
                                                        archived=bool(archived))
        else:
            shared, unread = await signed_in.board_for(tenant, viewer, category=category, page=page,
                                                       archived=bool(archived))
        if viewer.authenticated and not partial and signed_in.shareable_frame(request, tenant):
            context |= {"viewer": signed_in.level_viewer(viewer), "board": shared.board}
            return signed_in.board_page(request, principal, tenant, shared, unread, context)
        context["board"] = signed_in.with_unread(shared.board, unread)
    if partial:
        return Template("notices/_board.html", context=context)
    return Template("notices/board.html", context=context)


async def confirmation_context(tenant: Tenant, viewer: logic.Viewer, notice: dict[str, Any],
                               kept: bool = False) -> dict[str, Any]:
    confirmation_of = logic.kept_confirmation_of if kept else logic.confirmation_of
    confirmed_at = await confirmation_of(tenant, viewer.household_id, notice["id"])
    return {
        "confirmed_at": logic.jp_date(confirmed_at, with_time=True) if confirmed_at else "",
        "can_confirm": viewer.household_id is not None and notice["status"] == "published",
    }


@get("/{notice_id:int}", name="notice_page", opt={"shared_page": True, SIGNED_IN_FRONT: True})
async def notice_page(
    request: Request,
    tenant: NamedDependency[Tenant],
    notice_id: FromPath[int],
    saved: FromQuery[str] = "",
) -> Template | Response:
    principal = await provide_principal(request)  # loaded already (before_request): one dependency less
    viewer = await logic.load_viewer(principal, tenant)
    shared = await signed_in.shared_notice(tenant, notice_id)
    if shared is None:
        raise NotFoundException()
    notice = shared.notice
    check_access(viewer, notice)
    if notice["status"] == "published":
        await logic.mark_read(tenant, viewer, notice_id)
    draft_reach = viewer.poster and notice["status"] in ("draft", "scheduled")
    context = {
        "tenant": tenant,
        "association": tenant.row,
        **shared.context,
        "viewer": viewer,
        "base": base_url(tenant),
        "saved": saved,
        "asks_question": shared.asks_question,
        "ask": None,
    }
    own_question = shared.asks_question and viewer.household_id is not None and notice["status"] == "published"
    if viewer.authenticated and not draft_reach and not own_question and signed_in.shareable_frame(request, tenant):
        confirm_html = ""
        if notice["needs_confirmation"]:
            confirm_html = signed_in.confirm_box(request, {**context, **await confirmation_context(tenant, viewer, notice, kept=True)})
        context["viewer"] = signed_in.level_viewer(viewer)
        return signed_in.notice_page(request, principal, tenant, shared, context, confirm_html)
    context |= {
        # Before publishing: how many households get e-mail, LINE, paper (and paper instead of LINE).
        "reach": await reach.audience_summary(tenant, notice["audience"], notice["han_ids"]) if draft_reach else None,
        **await confirmation_context(tenant, viewer, notice),
        **await question_context(tenant, viewer, notice),
    }
    return Template("notices/page.html", context=context)


async def question_context(tenant: Tenant, viewer: logic.Viewer, notice: dict[str, Any]) -> dict[str, Any]:
    """A signed-in household answers the notice's question here (through its own read link)."""
    asks = bool(notice.get("question")) and not load_question(notice["question"]).is_confirm
    ask = None
    if asks and viewer.household_id is not None and notice["status"] == "published":
        ask = await ask_for_household(tenant, notice["id"], viewer.household_id)
    return {"ask": ask, "asks_question": asks}


@post("/{notice_id:int}/confirm", name="notice_confirm", status_code=200)
async def confirm(
    request: Request,
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal],
    notice_id: FromPath[int],
) -> Template | Redirect:
    viewer = await logic.load_viewer(principal, tenant)
    notice = await readable_notice(tenant, viewer, notice_id)
    if viewer.household_id is None:
        raise PermissionDeniedException("世帯としてログインすると「読みました」を押せます")
    if notice["status"] != "published":
        raise ClientException("このお知らせは公開されていません", status_code=409)
    await logic.confirm_notice(tenant, viewer.household_id, notice_id)
    if is_htmx(request):
        context = {"notice": notice, "base": base_url(tenant), **await confirmation_context(tenant, viewer, notice)}
        return Template("notices/_confirm.html", context=context)
    return Redirect(path=f"{base_url(tenant)}/{notice_id}#confirm", status_code=303)


@get("/{notice_id:int}/files/{attachment_id:int}", name="notice_file")
async def attachment_file(
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal],
    notice_id: FromPath[int],
    attachment_id: FromPath[int],
) -> Response[bytes]:
    viewer = await logic.load_viewer(principal, tenant)
    notice = await readable_notice(tenant, viewer, notice_id)
    row = await files.find_attachment(tenant, notice_id, attachment_id)
    if row is None:
        raise NotFoundException()
    try:
        data = await files.read_attachment(row)
    except FileNotFoundError:
        raise NotFoundException() from None
    public = notice["visibility"] == "public" and notice["audience"] == "all" and notice["status"] == "published"
    return Response(
        content=data,
        media_type=row["content_type"],
        headers={
            "content-disposition": f"inline; filename*=UTF-8''{quote(row['filename'])}",
            "cache-control": "public, max-age=3600" if public else "private, max-age=3600",
        },
    )


# --- posting ---------------------------------------------------------------------------------


async def form_context(
    tenant: Tenant,
    form: logic.NoticeInput,
    *,
    errors: dict[str, str] | None = None,
    notice: dict[str, Any] | None = None,
    preview: bool = False,
    ready_name: str = "",
    message: str = "",
    question: question_form.QuestionForm | None = None,
) -> dict[str, Any]:
    return {
        "question_form": question or question_form.from_notice(notice),
        "tenant": tenant,
        "association": tenant.row,
        "form": form,
        "errors": errors or {},
        "notice": notice,
        "categories": await logic.categories(tenant),
        "hans": await logic.han_choices(tenant),
        "ready_texts": list(ready_texts().values()) if notice is None else [],
        "ready_name": ready_name,
        "preview": preview_context(form) if preview else None,
        "reach": await reach.audience_summary(tenant, form.audience, form.han_ids) if preview else None,
        "attachments": await files.list_attachments(tenant, notice["id"]) if notice else [],
        "max_size": files.human_size(files.MAX_BYTES),
        "max_files": files.MAX_PER_NOTICE,
        "base": base_url(tenant),
        "message": message,
    }


def preview_context(form: logic.NoticeInput) -> dict[str, Any]:
    return {
        "title": form.title,
        "body_html": render_html(form.body),
        "unfilled": unfilled_placeholders(form.title + "\n" + form.body),
        "form": form,
    }


@get("/new", name="notice_new", dependencies={"access": require(Permission.NOTICE_POST)})
async def new_notice_form(
    request: Request,
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal], access: NamedDependency[Access],
) -> Template:
    ready_name = request.query_params.get("from", "")
    text = get_ready_text(ready_name) if ready_name else None
    form = logic.form_from_ready_text(text) if text else logic.NoticeInput(category=(await logic.categories(tenant))[0])
    message = "" if text or not ready_name else "その文例は見つかりませんでした。"
    asked = question_form.from_question(parse_question(text.question)) if text and text.question else None
    context = await form_context(tenant, form, ready_name=text.name if text else "", message=message, question=asked)
    if is_htmx(request) and request.headers.get("hx-target") == "notice-form":
        return Template("notices/_form.html", context=context)
    return Template("notices/form.html", context=context)


@post("/preview", name="notice_preview", status_code=200, dependencies={"access": require(Permission.NOTICE_POST)})
async def preview_fragment(
    request: Request, tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access]
) -> Template:
    """The htmx preview; without JavaScript the same button posts the whole form instead."""
    data = await form_data(request)
    data.pop("files", None)  # a preview never stores files
    form, _errors = await logic.parse_notice_form(tenant, data)
    return Template("notices/_preview.html", context={
        "preview": preview_context(form), "association": tenant.row,
        "reach": await reach.audience_summary(tenant, form.audience, form.han_ids),
    })


template_marks_left = publishing.marks_left


async def _save(
    request: Request,
    tenant: Tenant,
    principal: Principal,
    notice: dict[str, Any] | None,
) -> Template | Redirect:
    data = await form_data(request)
    action = (data.get("action") or ["draft"])[0]
    if action not in ACTIONS:
        action = "draft"
    already = len(await files.list_attachments(tenant, notice["id"])) if notice else 0
    uploads = await files.read_uploads(data.pop("files", []), already=already)
    form, errors = await logic.parse_notice_form(tenant, data)
    stored_question = question_form.from_notice(notice) if notice else None
    asked, question, question_error = question_form.parse(
        data, load_question(notice.get("question"), notice.get("answer_deadline")) if notice else None
    )
    if question_error:
        errors["question"] = question_error
    elif notice is not None and question is not None and await changes_answered_question(tenant, notice, question):
        errors["question"] = "お返事が届いてからは、質問の種類・選択肢・議案は変えられません（締め切りとひとこと欄は変えられます）。"
    if action == "preview":
        context = await form_context(tenant, form, errors=errors, notice=notice, preview=True, question=asked)
        return Template("notices/form.html", context={**context, "files_again": [u.filename for u in uploads]})
    now = logic.now_utc()
    if action == "schedule" and "publish_at" not in errors:
        errors.update(publishing.check_schedule(form.publish_at, now))
    if notice is not None and notice["status"] in ("published", "archived") and action in ("publish", "schedule"):
        action = "save"
    if action in ("publish", "schedule", "save"):
        # The publishing service's rules (the same for the API and the city's circulars).
        for name, message in publishing.check(form).items():
            errors.setdefault(name, message)
    if errors:
        context = await form_context(tenant, form, errors=errors, notice=notice, question=asked)
        context["files_again"] = [u.filename for u in uploads]  # a browser never sends a file twice
        return Template("notices/form.html", context=context, status_code=400)
    refused = [upload for upload in uploads if upload.refusal]
    if refused and action in ("publish", "schedule"):
        action = "draft"  # never publish without the files the officer meant to attach
    if notice is None:
        notice_id = await logic.create_notice(
            tenant, form, author_id=principal.account_id, author_title=logic.author_title(principal, tenant), now=now
        )
    else:
        notice_id = notice["id"]
        await logic.update_notice(tenant, notice_id, form, now=now)
    if question is not None and (notice is None or asked != stored_question):
        await set_question(tenant, notice_id, question)
    base = base_url(tenant)
    for upload in uploads:
        if not upload.refusal:
            await files.add_attachment(tenant, notice_id, upload.filename, upload.data)
    if refused:
        saved = await editable_notice(tenant, notice_id)
        context = await form_context(tenant, logic.form_from_notice(saved), notice=saved)
        context["errors"] = {"files": [upload.message for upload in refused]}
        context["message"] = (
            "下書きとして保存しました（まだ公開していません）。付けられなかったファイルがあります。"
            if saved["status"] in ("draft", "scheduled") else "保存しました。付けられなかったファイルがあります。"
        )
        return Template("notices/form.html", context=context, status_code=400)
    if action == "publish":
        await logic.publish_notice(tenant, notice_id, now=now)
        return Redirect(path=f"{base}/{notice_id}?saved=published", status_code=303)
    if action == "schedule":
        assert form.publish_at is not None
        await logic.schedule_notice(tenant, notice_id, form.publish_at, now=now)
        return Redirect(path=f"{base}/{notice_id}?saved=scheduled", status_code=303)
    if notice is not None and notice["status"] in ("published", "archived"):
        return Redirect(path=f"{base}/{notice_id}?saved=updated", status_code=303)
    return Redirect(path=f"{base}/{notice_id}/edit?saved=draft", status_code=303)


def form_too_large(request: Request, exc: Exception) -> Response:
    """The whole form with its files was over the limit: nothing was read or saved."""
    slug = request.path_params.get("slug", "")
    notice_id = request.path_params.get("notice_id")
    return Template(
        "notices/refused.html",
        context={
            "message": f"ファイルが大きすぎます。1回に送れるのは合わせて{files.human_size(files.MAX_FORM_BYTES)}まで、"
            f"1つのファイルは{files.human_size(files.MAX_BYTES)}までです。書いた内容は送られていません。前の画面に戻って、"
            "ファイルを減らしてください。",
            "back": f"/a/{slug}/notices/{notice_id}/edit" if notice_id else f"/a/{slug}/notices/new",
        },
        status_code=413,
    )


@post("/new", name="notice_create", status_code=303, request_max_body_size=files.MAX_FORM_BYTES,
      exception_handlers={413: form_too_large}, dependencies={"access": require(Permission.NOTICE_POST)})
async def create(
    request: Request, tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access]
) -> Template | Redirect:
    return await _save(request, tenant, principal, None)


async def editable_notice(tenant: Tenant, notice_id: int) -> dict[str, Any]:
    notice = await logic.get_notice(tenant, notice_id)
    if notice is None:
        raise NotFoundException()
    return notice


@get("/{notice_id:int}/edit", name="notice_edit", dependencies={"access": require(Permission.NOTICE_POST)})
async def edit_form(
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal], access: NamedDependency[Access],
    notice_id: FromPath[int],
    saved: FromQuery[str] = "",
) -> Template:
    notice = await editable_notice(tenant, notice_id)
    message = {"draft": "下書きを保存しました。", "attached": "ファイルを付けました。", "removed": "ファイルを外しました。"}.get(
        saved, ""
    )
    context = await form_context(tenant, logic.form_from_notice(notice), notice=notice, message=message)
    return Template("notices/form.html", context=context)


@post("/{notice_id:int}/edit", name="notice_update", status_code=303, request_max_body_size=files.MAX_FORM_BYTES,
      exception_handlers={413: form_too_large}, dependencies={"access": require(Permission.NOTICE_POST)})
async def update(
    request: Request, tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], notice_id: FromPath[int]
) -> Template | Redirect:
    notice = await editable_notice(tenant, notice_id)
    return await _save(request, tenant, principal, notice)


@post("/{notice_id:int}/state", name="notice_state", status_code=303, dependencies={"access": require(Permission.NOTICE_POST)})
async def change_state(
    request: Request, tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], notice_id: FromPath[int]
) -> Template | Redirect:
    await editable_notice(tenant, notice_id)  # 404 for a notice of another association
    data = await form_data(request)
    action = (data.get("action") or [""])[0]
    base = base_url(tenant)
    try:
        if action == "publish":
            await logic.publish_notice(tenant, notice_id)  # refused (PublishRefused) if a rule says no
        elif action == "archive":
            await logic.archive_notice(tenant, notice_id)
        elif action == "unarchive":
            await logic.unarchive_notice(tenant, notice_id)
        elif action == "unschedule":
            await logic.unschedule_notice(tenant, notice_id)
        elif action == "delete":
            if not await logic.delete_draft(tenant, notice_id):
                raise logic.NoticeStateError("公開したお知らせは消せません。「片付ける」を使ってください。")
            return Redirect(path=f"{base}/", status_code=303)
        else:
            raise logic.NoticeStateError("操作を選び直してください。")
    except logic.NoticeStateError as error:
        return Template(
            "notices/refused.html",
            context={"tenant": tenant, "association": tenant.row, "message": str(error), "back": f"{base}/{notice_id}"},
            status_code=409,
        )
    return Redirect(path=f"{base}/{notice_id}?saved={action}", status_code=303)


# --- attachments -----------------------------------------------------------------------------


def too_large(request: Request, exc: Exception) -> Response:
    """A body over the limit is refused before it is read; say so in plain words."""
    slug = request.path_params.get("slug", "")
    notice_id = request.path_params.get("notice_id", "")
    return Template(
        "notices/refused.html",
        context={
            "message": f"ファイルが大きすぎます。{files.human_size(files.MAX_BYTES)}までのファイルにしてください。",
            "back": f"/a/{slug}/notices/{notice_id}/edit",
        },
        status_code=413,
    )


@post(
    "/{notice_id:int}/attachments",
    name="notice_attach",
    status_code=303,
    request_max_body_size=files.MAX_REQUEST_BYTES,
    exception_handlers={413: too_large},
    dependencies={"access": require(Permission.NOTICE_POST)},
)
async def attach(
    request: Request, tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], notice_id: FromPath[int]
) -> Template | Redirect:
    notice = await editable_notice(tenant, notice_id)
    form = await request.form()
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise files.AttachmentRefused("付けるファイルを選んでください。")
        data = await upload.read(files.MAX_BYTES + 1)
        await files.add_attachment(tenant, notice_id, upload.filename, data)
    except files.AttachmentRefused as refusal:
        context = await form_context(tenant, logic.form_from_notice(notice), notice=notice)
        context["errors"] = {"file": str(refusal)}
        return Template("notices/form.html", context=context, status_code=400)
    finally:
        if isinstance(upload, UploadFile):
            await upload.close()
    return Redirect(path=f"{base_url(tenant)}/{notice_id}/edit?saved=attached#attachments", status_code=303)


@post("/{notice_id:int}/attachments/{attachment_id:int}/delete", name="notice_detach", status_code=303, dependencies={"access": require(Permission.NOTICE_POST)})
async def detach(
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal], access: NamedDependency[Access],
    notice_id: FromPath[int],
    attachment_id: FromPath[int],
) -> Redirect:
    await editable_notice(tenant, notice_id)
    if not await files.remove_attachment(tenant, notice_id, attachment_id):
        raise NotFoundException()
    return Redirect(path=f"{base_url(tenant)}/{notice_id}/edit?saved=removed#attachments", status_code=303)


# --- categories ------------------------------------------------------------------------------


@get("/categories", name="notice_categories", dependencies={"access": require(Permission.SETTINGS_EDIT)})
async def categories_form(tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access]) -> Template:
    names = await logic.categories(tenant)
    return Template(
        "notices/categories.html",
        context={"tenant": tenant, "association": tenant.row, "text": "\n".join(names), "error": "", "saved": False},
    )


@post("/categories", name="notice_categories_save", status_code=200, dependencies={"access": require(Permission.SETTINGS_EDIT)})
async def categories_save(
    request: Request, tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access]
) -> Template:
    text = ((await form_data(request)).get("categories") or [""])[0]
    names, error = logic.parse_categories(str(text))
    if not error:
        await logic.set_categories(tenant, names)
    return Template(
        "notices/categories.html",
        context={"tenant": tenant, "association": tenant.row, "text": text, "error": error or "", "saved": not error},
        status_code=400 if error else 200,
    )


router = Router(
    path="/notices",
    route_handlers=[
        board,
        notice_page,
        confirm,
        attachment_file,
        new_notice_form,
        preview_fragment,
        create,
        edit_form,
        update,
        change_state,
        attach,
        detach,
        categories_form,
        categories_save,
    ],
)
