"""Pages and API for answers: the read link's answer form, officers' results (HTML, CSV, print),
the paper-entry screen for 班長 and officers, the 総会 counting rules, and the JSON API."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import segno
from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from markupsafe import Markup

from chonaikai.accounts.permissions import require
from chonaikai.accounts.principal import Access, Principal
from chonaikai.accounts.roles import Permission
from chonaikai.delivery import readlink
from chonaikai.notices import answering
from chonaikai.notices.questions import LOCAL_TZ, QuestionError
from chonaikai.notices.tables import Notice
from chonaikai.settings import get_settings
from chonaikai.tenancy.scope import Tenant
from chonaikai.web import is_htmx

READ_HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow", "Cache-Control": "no-store"}


def _form_answer(form: Any, question_motions: tuple[str, ...]) -> dict[str, Any]:
    """The answer fields of a posted form: choice (repeated when several), people, comment, proxy
    and, for a 書面表決, motion_1 … motion_n (賛成/反対 in the order of the 議案)."""
    choices = form.getall("choice", [])
    motions = {motion: form.get(f"motion_{i}", "") for i, motion in enumerate(question_motions, start=1)}
    return {"choices": choices, "people": form.get("people"), "comment": form.get("comment", ""),
            "proxy": form.get("proxy", ""), "motions": motions}


# -- the read link ------------------------------------------------------------------------------


@post("/r/{token:str}/answer", name="read_answer", status_code=200)
async def read_answer(request: Request, token: FromPath[str]) -> Template | Redirect:
    if isinstance(await readlink.link_state(token), readlink.Withdrawn):  # moved out, or out of the audience
        return Template("delivery/read_withdrawn.html", status_code=410, headers=READ_HEADERS)
    ask = await answering.ask_for_token(token)
    if ask is None:
        return Template("delivery/read_missing.html", status_code=404, headers=READ_HEADERS)
    form = await request.form()
    fields = _form_answer(form, ask.question.motions)
    message, status, error = "", 200, ""
    try:
        recorded = await answering.answer_by_token(token, **fields, via="web")
    except answering.AnswerClosed:
        error, status = "締め切りを過ぎたので、お返事は受け付けられません。役員さんに直接お伝えください。", 409
    except QuestionError as refused:
        error, status = refused.ja, 400
    else:
        if recorded is None:
            return Template("delivery/read_missing.html", status_code=404, headers=READ_HEADERS)
        message = f"「{recorded.text}」で受け付けました。ありがとうございました。"
    ask = await answering.ask_for_token(token, preselect=fields["choices"] if error else (), error=error)
    if is_htmx(request):  # htmx swaps only 2xx answers: the message is in the fragment
        return Template("answers/_ask.html", context={"ask": ask, "message": message, "change": bool(error)},
                        headers=READ_HEADERS)
    if not error:
        if form.get("back") == "notice" and (path := await answering.notice_path_for_token(token)):
            return Redirect(path=path, query_params={"answered": "1"}, status_code=303)
        return Redirect(path=f"/r/{token}", query_params={"answered": "1"}, status_code=303, headers=READ_HEADERS)
    view = await readlink.open_by_token(token)
    if view is None:
        return Template("delivery/read_missing.html", status_code=404, headers=READ_HEADERS)
    return Template(
        "delivery/read.html",
        context={"view": view, "notice": view.notice, "confirmed": view.confirmed_at is not None, "ask": ask,
                 "change": True},
        status_code=status, headers=READ_HEADERS,
    )


# -- officers: results, CSV, print, paper entry -----------------------------------------------------


async def notice_for_officers(tenant: Tenant, principal: Principal, notice_id: int) -> dict[str, Any]:
    notice = await tenant.select(Notice, Notice.id, Notice.title, Notice.status, Notice.published_at).where(
        Notice.id == notice_id
    ).first()
    if notice is None:
        raise NotFoundException()
    if notice["status"] not in ("published", "archived") and not principal.can(Permission.NOTICE_POST, tenant.id):
        raise NotFoundException()
    return notice


@get("/notices/{notice_id:int}/answers", name="notice_answers", dependencies={"access": require(Permission.RECEIPTS_VIEW)})
async def answers_page(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], notice_id: FromPath[int],
    fragment: FromQuery[str] = "",
) -> Template:
    notice = await notice_for_officers(tenant, principal, notice_id)
    result = await answering.results(tenant, access, notice_id)
    base = f"/a/{tenant.slug}/notices/{notice_id}/answers"
    context = {"tenant": tenant, "notice": notice, "result": result, "base": base,
               "can_enter": principal.can(Permission.RECEIPTS_TICK, tenant.id),
               "can_rules": principal.can(Permission.SETTINGS_EDIT, tenant.id)}
    if fragment == "counts":
        return Template("answers/_counts.html", context=context)
    return Template("answers/results.html", context=context)


@get("/notices/{notice_id:int}/answers.csv", name="notice_answers_csv", dependencies={"access": require(Permission.RECEIPTS_VIEW)})
async def answers_csv(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], notice_id: FromPath[int]
) -> Response:
    await notice_for_officers(tenant, principal, notice_id)
    result = await answering.results(tenant, access, notice_id)
    assert result is not None
    return Response(
        answers_csv_text(result),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="answers-{notice_id}.csv"'},
    )


def answers_csv_text(result: answering.Results) -> str:
    """One row per household; a BOM first so that Excel on Windows reads the Japanese."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    motions = list(result.question.motions)
    writer.writerow(["世帯番号", "世帯", "班", "届け方", "電話", "答え", "人数", *motions, "委任先", "ひとこと",
                     "答えた日時", "答え方"])
    for row in result.households:
        votes = row["detail"].get("motions", {}) if row["detail"] else {}
        writer.writerow([
            row["household_id"], _csv_safe(row["name"]), _csv_safe(row["han"]), row["channel_label"],
            _csv_safe(row["phone"]), _csv_safe(row["answer"] or answering.UNANSWERED),
            row["people"] or "", *[votes.get(m, "") for m in motions],
            _csv_safe(row["detail"].get("proxy", "") if row["detail"] else ""), _csv_safe(row["comment"]),
            _when(row["answered_at"]), row["via_label"],
        ])
    return "\ufeff" + buffer.getvalue()


def _csv_safe(value: str | None) -> str:
    value = value or ""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _when(value: datetime | None) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if value else ""


@get("/notices/{notice_id:int}/answers/print", name="notice_answers_print", dependencies={"access": require(Permission.RECEIPTS_VIEW)})
async def answers_print(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], notice_id: FromPath[int]
) -> Template:
    notice = await notice_for_officers(tenant, principal, notice_id)
    result = await answering.results(tenant, access, notice_id)
    return Template("answers/print.html", context={"tenant": tenant, "notice": notice, "result": result,
                                                   "base": f"/a/{tenant.slug}/notices/{notice_id}/answers"})


def _qr_svg(url: str) -> Markup:
    """Inline SVG (no image request; our CSP allows it), error level M like the 回覧板's codes."""
    return Markup(segno.make(url, error="m").svg_inline(scale=3, border=2, title="お返事のページ", dark="#000"))


@get("/notices/{notice_id:int}/answers/slips", name="notice_answer_slips", dependencies={"access": require(Permission.PRINT_SHEETS)})
async def answer_slips(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], notice_id: FromPath[int],
    paper: FromQuery[str] = "1",
) -> Template:
    """返信票: a cut-off slip per household (paper households only unless ?paper=0) with the
    choices to circle and the household's own QR code (its read link: answer by phone camera)."""
    notice = await notice_for_officers(tenant, principal, notice_id)
    result = await answering.results(tenant, access, notice_id)
    assert result is not None
    base_url = get_settings().base_url.rstrip("/")
    slips = [
        {**row, "qr": _qr_svg(f"{base_url}/r/{row['token']}")}
        for row in result.households if paper == "0" or row["channel"] == "paper"
    ]
    return Template("answers/slips.html", context={"tenant": tenant, "notice": notice, "result": result,
                                                   "slips": slips, "base": f"/a/{tenant.slug}/notices/{notice_id}/answers"})


@get("/notices/{notice_id:int}/answers/enter", name="notice_answers_enter", dependencies={"access": require(Permission.RECEIPTS_TICK)})
async def enter_page(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], notice_id: FromPath[int],
    han: FromQuery[str] = "",
    error: FromQuery[str] = "",
) -> Template:
    notice = await notice_for_officers(tenant, principal, notice_id)
    result = await answering.results(tenant, access, notice_id)
    assert result is not None
    rows = [row for row in result.households if not han or row["han"] == han]
    return Template("answers/enter.html", context={
        "tenant": tenant, "notice": notice, "result": result, "rows": rows, "han": han, "message": error[:200],
        "base": f"/a/{tenant.slug}/notices/{notice_id}/answers",
    })


@post("/notices/{notice_id:int}/answers/{household_id:int}", name="notice_answer_enter", status_code=200, dependencies={"access": require(Permission.RECEIPTS_TICK)})
async def enter_answer(
    request: Request, tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access],
    notice_id: FromPath[int], household_id: FromPath[int],
) -> Template | Redirect:
    await notice_for_officers(tenant, principal, notice_id)
    question = await answering.question_of(tenant, notice_id)
    assert question is not None
    form = await request.form()
    via = form.get("via", "paper")
    base = f"/a/{tenant.slug}/notices/{notice_id}/answers"
    error = ""
    try:
        recorded = await answering.enter_answer(
            tenant, access, principal.account_id, notice_id, household_id, **_form_answer(form, question.motions),
            via=via if via in ("paper", "phone", "visit") else "paper",
        )
    except answering.NotTheirs:
        raise PermissionDeniedException("ほかの班のお宅の答えは入力できません") from None
    except answering.AnswerClosed:
        error = "締め切りを過ぎたので、入力できません。"
    except QuestionError as refused:
        error = refused.ja
    else:
        if recorded is None:
            raise NotFoundException()
    if is_htmx(request):
        result = await answering.results(tenant, access, notice_id)
        assert result is not None
        row = next(r for r in result.households if r["household_id"] == household_id)
        return Template("answers/_enter_row.html", context={"row": row, "result": result, "base": base, "error": error})
    if error:
        return Redirect(path=f"{base}/enter", query_params={"error": error}, status_code=303)
    return Redirect(path=f"{base}/enter", status_code=303)


@post("/answers/rules", name="vote_rules_save", status_code=200, dependencies={"access": require(Permission.SETTINGS_EDIT)})
async def save_rules(request: Request, tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access]) -> Redirect:
    form = await request.form()
    back = form.get("back", "")
    back = back if back.startswith(f"/a/{tenant.slug}/") else f"/a/{tenant.slug}/"
    try:
        await answering.save_vote_rules(tenant, form.get("count_by", ""), form.get("quorum_percent", ""))
    except QuestionError as refused:
        return Redirect(path=back, query_params={"error": refused.ja}, status_code=303)
    return Redirect(path=back, status_code=303)


read_router = Router(path="/", route_handlers=[read_answer])
# Mounted in app.py under the association space (/a/{slug}), which provides the tenant.
answers_area = Router(
    path="/",
    route_handlers=[answer_slips, answers_page, answers_csv, answers_print, enter_page, enter_answer, save_rules],
)
