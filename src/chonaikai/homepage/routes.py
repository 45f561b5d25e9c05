"""The homepage settings page (会長 and 広報) and the homepage's activity photos."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from chonaikai.accounts.permissions import require
from chonaikai.accounts.principal import Access, Principal
from chonaikai.accounts.roles import Permission
from chonaikai.homepage import logic
from chonaikai.notices import attachments
from chonaikai.notices.logic import categories
from chonaikai.tenancy.scope import Tenant
from chonaikai.tenancy.tables import Association

SAVED_MESSAGES = {
    "saved": "ホームページを保存しました。",
    "unchanged": "変わったところはありませんでした。",
    "photo": "写真を付けました。",
    "removed": "写真を外しました。",
}
BLANK_ROWS = 2  # empty officer and link rows the form offers (works without JavaScript)


async def _row(tenant: Tenant) -> dict[str, Any]:
    return await Association.select().where(Association.id == tenant.id).first().output(load_json=True)


async def _context(
    tenant: Tenant, form: logic.HomepageInput, row: dict[str, Any], **values: Any
) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "association": row,
        "form": form,
        "errors": {},
        "photos": row.get("photos") or [],
        "photo_name": logic.photo_name,
        "human_size": attachments.human_size,
        "max_size": attachments.human_size(attachments.MAX_BYTES),
        "max_photos": logic.MAX_PHOTOS,
        "blank_rows": BLANK_ROWS,
        "preview": None,
        "message": "",
        "base": f"/a/{tenant.slug}/settings/homepage",
        **values,
    }


EDIT = {"access": require(Permission.HOMEPAGE_EDIT)}


@get("/settings/homepage", name="homepage_settings", dependencies=EDIT)
async def settings_page(
    tenant: NamedDependency[Tenant], access: NamedDependency[Access], saved: FromQuery[str] = ""
) -> Template:
    row = await _row(tenant)
    form = logic.form_from_row(row, await categories(tenant))
    return Template(
        "homepage/settings.html", context=await _context(tenant, form, row, message=SAVED_MESSAGES.get(saved, ""))
    )


async def _form(request: Request) -> dict[str, list[Any]]:
    form = await request.form()
    return {key: form.getall(key) for key in form.keys()}


@post("/settings/homepage", name="homepage_settings_save", status_code=303, dependencies=EDIT)
async def settings_save(
    request: Request, tenant: NamedDependency[Tenant], principal: NamedDependency[Principal],
    access: NamedDependency[Access],
) -> Template | Redirect:
    data = await _form(request)
    form, errors = logic.parse_form(data)
    row = await _row(tenant)
    if errors or (data.get("action") or [""])[0] == "preview":
        context = await _context(tenant, form, row, errors=errors, preview=None if errors else logic.preview(form))
        return Template("homepage/settings.html", context=context, status_code=400 if errors else 200)
    changed = await logic.save(tenant, principal, form)
    return Redirect(path=f"/a/{tenant.slug}/settings/homepage?saved={'saved' if changed else 'unchanged'}", status_code=303)


def _too_large(request: Request, exc: Exception) -> Response:
    slug = request.path_params.get("slug", "")
    return Template(
        "notices/refused.html",
        context={
            "message": f"ファイルが大きすぎます。{attachments.human_size(attachments.MAX_BYTES)}までの写真にしてください。",
            "back": f"/a/{slug}/settings/homepage#photos",
        },
        status_code=413,
    )


@post(
    "/settings/homepage/photos",
    name="homepage_photo_add",
    status_code=303,
    request_max_body_size=attachments.MAX_REQUEST_BYTES,
    exception_handlers={413: _too_large},
    dependencies=EDIT,
)
async def photo_add(
    request: Request, tenant: NamedDependency[Tenant], principal: NamedDependency[Principal],
    access: NamedDependency[Access],
) -> Template | Redirect:
    form = await request.form()
    upload = form.get("photo")
    caption = str(form.get("caption") or "")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise attachments.AttachmentRefused("付ける写真を選んでください。")
        data = await upload.read(attachments.MAX_BYTES + 1)
        await logic.add_photo(tenant, principal, upload.filename, data, caption)
    except attachments.AttachmentRefused as refusal:
        row = await _row(tenant)
        context = await _context(
            tenant, logic.form_from_row(row, await categories(tenant)), row, errors={"photo": str(refusal)}
        )
        return Template("homepage/settings.html", context=context, status_code=400)
    finally:
        if isinstance(upload, UploadFile):
            await upload.close()
    return Redirect(path=f"/a/{tenant.slug}/settings/homepage?saved=photo#photos", status_code=303)


@post("/settings/homepage/photos/{name:str}/delete", name="homepage_photo_remove", status_code=303,
      dependencies=EDIT)
async def photo_remove(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access],
    name: FromPath[str],
) -> Redirect:
    if not await logic.remove_photo(tenant, principal, name):
        raise NotFoundException()
    return Redirect(path=f"/a/{tenant.slug}/settings/homepage?saved=removed#photos", status_code=303)


@get("/photos/{name:str}", name="homepage_photo")
async def photo(tenant: NamedDependency[Tenant], name: FromPath[str]) -> Response[bytes]:
    """An activity photo of the public homepage."""
    found = await logic.find_photo(tenant, name)
    if found is None:
        raise NotFoundException()
    try:
        data = await attachments.get_store().get(found["key"])
    except (FileNotFoundError, ValueError):
        raise NotFoundException() from None
    return Response(
        content=data, media_type=found["content_type"], headers={"cache-control": "public, max-age=3600"}
    )


# Mounted under app.py's /a/{slug} router, which provides the tenant.
router = Router(
    path="/",
    route_handlers=[settings_page, settings_save, photo_add, photo_remove, photo],
    include_in_schema=False,
)
