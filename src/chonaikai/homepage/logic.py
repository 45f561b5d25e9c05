"""The association's own homepage, edited by 会長 and 広報 on ``/a/{slug}/settings/homepage``.

The tenant file (``tenants/*.toml``) sets a new association up; once an officer changes a field
here its name goes into ``association.officer_edited`` and ``tenants sync`` leaves that field
alone from then on — the officers' edit wins (tenants/README.md). Every change is written to the
audit log. The introduction is Markdown shown through the notices' sanitiser; photos follow the
attachment rules (checked by content, size limit, stored in the attachment store).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chonaikai.accounts.principal import Principal
from chonaikai.db import write_transaction
from chonaikai.notices import attachments
from chonaikai.notices.render import render_html
from chonaikai.tenancy.scope import Tenant
from chonaikai.tenancy.tables import Association
from chonaikai.tenancy.tenant_files import LinkError, clean_link

INTRODUCTION_MAX = 10_000
CONTACT_MAX = 2000
MAX_OFFICERS = 20
MAX_LINKS = 20
MAX_PHOTOS = 12
CAPTION_MAX = 100
PHOTO_TYPES = ("image/jpeg", "image/png")

# Field → how the audit log and the form name it.
FIELD_LABELS = {
    "introduction": "紹介文",
    "contact": "連絡先",
    "public_officers": "役員の紹介",
    "links": "リンク",
    "photos": "活動の写真",
    "auto_forward_circulars": "市からの回覧をそのまま回す",
    "show_poster_name": "お知らせに役職を出す",
    "categories": "お知らせの分類",
}


@dataclass
class HomepageInput:
    introduction: str = ""
    contact: str = ""
    public_officers: list[dict[str, str]] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)
    auto_forward_circulars: bool = False
    show_poster_name: bool = True
    categories: list[str] = field(default_factory=list)
    categories_text: str = ""
    # What the form shows back for link rows, even when a row did not parse.
    link_rows: list[dict[str, str]] = field(default_factory=list)

    def values(self) -> dict[str, Any]:
        return {
            "introduction": self.introduction,
            "contact": self.contact,
            "public_officers": self.public_officers,
            "links": self.links,
            "auto_forward_circulars": self.auto_forward_circulars,
            "show_poster_name": self.show_poster_name,
        }


def _first(data: dict[str, list[Any]], key: str) -> str:
    values = data.get(key) or [""]
    return str(values[0] or "")


def _all(data: dict[str, list[Any]], key: str) -> list[str]:
    return [str(value or "") for value in data.get(key) or []]


def form_from_row(row: dict[str, Any], categories: list[str]) -> HomepageInput:
    return HomepageInput(
        introduction=row.get("introduction") or "",
        contact=row.get("contact") or "",
        public_officers=list(row.get("public_officers") or []),
        links=list(row.get("links") or []),
        auto_forward_circulars=bool(row.get("auto_forward_circulars")),
        show_poster_name=row.get("show_poster_name") is not False,
        categories=categories,
        categories_text="\n".join(categories),
        link_rows=list(row.get("links") or []),
    )


def parse_form(data: dict[str, list[Any]]) -> tuple[HomepageInput, dict[str, str]]:
    """The settings form → (input, errors by field). Nothing is saved here."""
    from chonaikai.notices.logic import parse_categories

    errors: dict[str, str] = {}
    form = HomepageInput(
        introduction=_first(data, "introduction").replace("\r\n", "\n").strip(),
        contact=_first(data, "contact").replace("\r\n", "\n").strip(),
        auto_forward_circulars=_first(data, "auto_forward_circulars") == "1",
        show_poster_name=_first(data, "show_poster_name") == "1",
        categories_text=_first(data, "categories"),
    )
    if len(form.introduction) > INTRODUCTION_MAX:
        errors["introduction"] = f"紹介文は{INTRODUCTION_MAX:,}文字までにしてください。"
    if len(form.contact) > CONTACT_MAX:
        errors["contact"] = f"連絡先は{CONTACT_MAX:,}文字までにしてください。"

    titles, names = _all(data, "officer_title"), _all(data, "officer_name")
    for title, name in zip(titles, names + [""] * (len(titles) - len(names)), strict=False):
        title, name = title.strip(), name.strip()
        if not title and not name:
            continue
        if not title:
            errors["public_officers"] = "役員の名前には、役職（会長など）も書いてください。"
        elif len(title) > 30 or len(name) > 60:
            errors["public_officers"] = "役職は30文字、名前は60文字までにしてください。"
        form.public_officers.append({"title": title, "name": name})
    if len(form.public_officers) > MAX_OFFICERS:
        errors["public_officers"] = f"役員の紹介は{MAX_OFFICERS}人までにしてください。"

    link_titles, urls = _all(data, "link_title"), _all(data, "link_url")
    for title, url in zip(link_titles + [""] * (len(urls) - len(link_titles)), urls, strict=False):
        if not title.strip() and not url.strip():
            continue
        form.link_rows.append({"title": title.strip(), "url": url.strip()})
        try:
            form.links.append(clean_link(title, url))
        except LinkError as error:
            errors["links"] = f"「{(title.strip() or url.strip())[:40]}」: {error}"
    if len(form.links) > MAX_LINKS:
        errors["links"] = f"リンクは{MAX_LINKS}個までにしてください。"

    names_, error = parse_categories(form.categories_text)
    if error:
        errors["categories"] = error
    form.categories = names_
    return form, errors


def preview(form: HomepageInput) -> dict[str, Any]:
    return {"introduction_html": render_html(form.introduction), **form.values()}


def introduction_html(row: dict[str, Any]) -> Any:
    """The homepage's introduction, Markdown through the notices' sanitiser."""
    return render_html(row.get("introduction") or "")


async def audit(tenant: Tenant, actor: Principal | None, action: str, detail: str) -> None:
    from chonaikai.roster.logic import audit as roster_audit

    await roster_audit(tenant, actor, action, detail)


async def _forget(tenant: Tenant) -> None:
    from chonaikai.tenancy.logic import tenant_cache

    tenant_cache.clear()


async def save(tenant: Tenant, actor: Principal, form: HomepageInput) -> list[str]:
    """Store what changed; returns the changed field names (empty: nothing to do)."""
    from chonaikai.notices.logic import categories, set_categories

    row = await Association.select().where(Association.id == tenant.id).first().output(load_json=True)
    values = form.values()
    changed = [name for name, value in values.items() if row.get(name) != value]
    categories_changed = await categories(tenant) != form.categories
    if not changed and not categories_changed:
        return []
    async with write_transaction():
        if changed:
            edited = sorted(set(row.get("officer_edited") or []) | set(changed))
            await Association.update(
                {
                    **{getattr(Association, name): values[name] for name in changed},
                    Association.officer_edited: edited,
                    Association.updated_at: datetime.now(UTC),
                }
            ).where(Association.id == tenant.id)
        if categories_changed:
            await set_categories(tenant, form.categories)
            changed.append("categories")
        await audit(tenant, actor, "homepage.update", "・".join(FIELD_LABELS[name] for name in changed))
    await _forget(tenant)
    return changed


async def _photos(tenant: Tenant) -> tuple[list[dict[str, Any]], list[str]]:
    row = await Association.select(Association.photos, Association.officer_edited).where(
        Association.id == tenant.id
    ).first().output(load_json=True)
    return list(row["photos"] or []), list(row["officer_edited"] or [])


async def _store_photos(tenant: Tenant, photos: list[dict[str, Any]], edited: list[str]) -> None:
    await Association.update(
        {
            Association.photos: photos,
            Association.officer_edited: sorted(set(edited) | {"photos"}),
            Association.updated_at: datetime.now(UTC),
        }
    ).where(Association.id == tenant.id)


def photo_name(photo: dict[str, Any]) -> str:
    """The part of the storage key used in the photo's address."""
    return photo["key"].rsplit("/", 1)[-1]


async def add_photo(
    tenant: Tenant, actor: Principal, filename: str, data: bytes, caption: str = "",
    store: attachments.AttachmentStore | None = None,
) -> dict[str, Any]:
    """Check (by content, like attachments) and store one activity photo; AttachmentRefused when not."""
    content_type = attachments.check_upload(filename, data)
    if content_type not in PHOTO_TYPES:
        raise attachments.AttachmentRefused("活動の写真は、JPEG（写真）かPNG（画像）のファイルにしてください。")
    photos, edited = await _photos(tenant)
    if len(photos) >= MAX_PHOTOS:
        raise attachments.AttachmentRefused(f"写真は{MAX_PHOTOS}枚までです。古い写真を外してから付けてください。")
    store = store or attachments.get_store()
    key = f"{tenant.id}/{secrets.token_urlsafe(18)}{attachments.KINDS[content_type][0]}"
    await store.put(key, data)
    photo = {
        "key": key,
        "filename": attachments.clean_filename(filename, content_type),
        "content_type": content_type,
        "size_bytes": len(data),
        "caption": caption.strip()[:CAPTION_MAX],
    }
    try:
        async with write_transaction():
            await _store_photos(tenant, [*photos, photo], edited)
            await audit(tenant, actor, "homepage.photo_add", photo["filename"])
    except Exception:
        await store.delete(key)
        raise
    await _forget(tenant)
    return photo


async def remove_photo(
    tenant: Tenant, actor: Principal, name: str, store: attachments.AttachmentStore | None = None
) -> bool:
    photos, edited = await _photos(tenant)
    kept = [photo for photo in photos if photo_name(photo) != name]
    if len(kept) == len(photos):
        return False
    removed = next(photo for photo in photos if photo_name(photo) == name)
    async with write_transaction():
        await _store_photos(tenant, kept, edited)
        await audit(tenant, actor, "homepage.photo_remove", removed["filename"])
    await (store or attachments.get_store()).delete(removed["key"])
    await _forget(tenant)
    return True


async def find_photo(tenant: Tenant, name: str) -> dict[str, Any] | None:
    photos, _ = await _photos(tenant)
    return next((photo for photo in photos if photo_name(photo) == name), None)
