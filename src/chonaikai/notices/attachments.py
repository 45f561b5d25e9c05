"""Attachments of a notice: PDF, JPEG and PNG, checked by their content, stored behind a small
interface (local disk by default; object storage can implement the same three methods)."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from chonaikai.notices.tables import Attachment
from chonaikai.settings import get_settings
from chonaikai.tenancy.scope import Tenant

MAX_BYTES = 10 * 1024 * 1024
MAX_PER_NOTICE = 10
# The upload route refuses bodies larger than this before reading them (form fields, boundary).
MAX_REQUEST_BYTES = MAX_BYTES + 256 * 1024
# The notice form takes several files in one post (and its text fields).
MAX_FILES_PER_POST = 5
MAX_FORM_BYTES = MAX_FILES_PER_POST * MAX_BYTES + 512 * 1024

# content type -> (extension, label on screen)
KINDS = {
    "application/pdf": (".pdf", "PDF"),
    "image/jpeg": (".jpg", "写真"),
    "image/png": (".png", "画像"),
}


class AttachmentRefused(ValueError):
    """The file cannot be attached; the message says why in plain Japanese."""


def sniff(data: bytes) -> str | None:
    """The content type from the first bytes (the name and the browser's claim are ignored)."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


def human_size(size: int) -> str:
    """「1.2MB」, 「350KB」: how big a download is, for someone paying for mobile data."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f}MB"
    return f"{max(1, round(size / 1024))}KB"


def check_upload(filename: str, data: bytes) -> str:
    """The content type of an acceptable file, or AttachmentRefused with the reason."""
    if not data:
        raise AttachmentRefused("ファイルが空です。もう一度選んでください。")
    if len(data) > MAX_BYTES:
        raise AttachmentRefused(
            f"ファイルが大きすぎます（{human_size(len(data))}）。{human_size(MAX_BYTES)}までにしてください。"
        )
    content_type = sniff(data)
    if content_type is None:
        raise AttachmentRefused(
            "このファイルは付けられません。PDF・JPEG（写真）・PNG（画像）のファイルを選んでください。"
        )
    return content_type


def clean_filename(filename: str, content_type: str) -> str:
    """A display name without path parts or control characters, with the extension of its real type."""
    name = unicodedata.normalize("NFC", filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f\"<>|:*?]", "", name).strip(" .") or "file"
    stem, dot, extension = name.rpartition(".")
    right = KINDS[content_type][0]
    extension = f".{extension.lower()}" if dot else ""
    if extension == right or (right == ".jpg" and extension == ".jpeg"):
        return name[-150:]
    known = {kind[0] for kind in KINDS.values()} | {".jpeg"}
    # A name that lies about the type gets the right extension; any other name gets one added.
    name = (stem if extension in known and stem else name) + right
    return name[-150:]


class AttachmentStore(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...


class LocalDiskStore:
    """Files under one folder (``CHONAIKAI_UPLOAD_DIR``); keys are ``{association}/{random}{ext}``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not re.fullmatch(r"[0-9]+/[A-Za-z0-9_-]+\.[a-z]+", key):
            raise ValueError(f"bad storage key {key!r}")
        return self.root / key

    async def put(self, key: str, data: bytes) -> None:
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(path.suffix + ".part")
            temporary.write_bytes(data)
            os.replace(temporary, path)  # readers never see half a file

        await asyncio.to_thread(write)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)


def get_store() -> AttachmentStore:
    return LocalDiskStore(get_settings().upload_dir)


@dataclass(frozen=True)
class AttachmentView:
    id: int
    filename: str
    content_type: str
    size_bytes: int

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    @property
    def label(self) -> str:
        """「PDF 1.2MB」"""
        return f"{KINDS.get(self.content_type, ('', 'ファイル'))[1]} {human_size(self.size_bytes)}"


async def add_attachment(
    tenant: Tenant, notice_id: int, filename: str, data: bytes, store: AttachmentStore | None = None
) -> AttachmentView:
    """Check and store a file for a notice; AttachmentRefused (nothing stored) when it is not acceptable."""
    content_type = check_upload(filename, data)
    count = await tenant.count(Attachment).where(Attachment.notice == notice_id)
    if count >= MAX_PER_NOTICE:
        raise AttachmentRefused(f"ひとつのお知らせに付けられるファイルは{MAX_PER_NOTICE}個までです。")
    store = store or get_store()
    key = f"{tenant.id}/{secrets.token_urlsafe(18)}{KINDS[content_type][0]}"
    await store.put(key, data)
    row = tenant.new(
        Attachment,
        notice=notice_id,
        filename=clean_filename(filename, content_type),
        content_type=content_type,
        size_bytes=len(data),
        storage_key=key,
        position=count,
        created_at=datetime.now(UTC),
    )
    try:
        await row.save()
    except Exception:
        await store.delete(key)
        raise
    return AttachmentView(row.id, row.filename, content_type, len(data))


async def list_attachments(tenant: Tenant, notice_id: int) -> list[AttachmentView]:
    rows = (
        await tenant.select(
            Attachment, Attachment.id, Attachment.filename, Attachment.content_type, Attachment.size_bytes
        )
        .where(Attachment.notice == notice_id)
        .order_by(Attachment.position)
        .order_by(Attachment.id)
    )
    return [AttachmentView(r["id"], r["filename"], r["content_type"], r["size_bytes"]) for r in rows]


async def find_attachment(tenant: Tenant, notice_id: int, attachment_id: int) -> dict | None:
    return (
        await tenant.select(Attachment)
        .where(Attachment.notice == notice_id)
        .where(Attachment.id == attachment_id)
        .first()
    )


async def read_attachment(row: dict, store: AttachmentStore | None = None) -> bytes:
    return await (store or get_store()).get(row["storage_key"])


async def remove_attachment(
    tenant: Tenant, notice_id: int, attachment_id: int, store: AttachmentStore | None = None
) -> bool:
    row = await find_attachment(tenant, notice_id, attachment_id)
    if row is None:
        return False
    await tenant.delete(Attachment).where(Attachment.id == attachment_id)
    await (store or get_store()).delete(row["storage_key"])
    return True


@dataclass(frozen=True)
class Upload:
    """One file chosen on the notice form, read and checked; ``refusal`` says why it cannot be
    attached (empty: it can)."""

    filename: str
    data: bytes
    refusal: str = ""
    size_bytes: int = 0

    @property
    def message(self) -> str:
        """「写真.jpg（1.2MB）: このファイルは付けられません…」"""
        size = f"{human_size(self.size_bytes)}以上" if self.size_bytes > MAX_BYTES else human_size(self.size_bytes)
        return f"{self.filename}（{size}）: {self.refusal}"


async def read_uploads(uploads: list[object], already: int = 0) -> list[Upload]:
    """The files of a multiple file input (fields without a chosen file are skipped), each checked
    by its content; at most MAX_PER_NOTICE with the ``already`` attached ones."""
    from litestar.datastructures import UploadFile

    result: list[Upload] = []
    for upload in uploads:
        if not isinstance(upload, UploadFile) or not upload.filename:
            continue
        try:
            data = await upload.read(MAX_BYTES + 1)
        finally:
            await upload.close()
        name = unicodedata.normalize("NFC", upload.filename).replace("\\", "/").rsplit("/", 1)[-1][:150] or "file"
        try:
            check_upload(name, data)
            if already + len([u for u in result if not u.refusal]) >= MAX_PER_NOTICE:
                raise AttachmentRefused(f"ひとつのお知らせに付けられるファイルは{MAX_PER_NOTICE}個までです。")
            result.append(Upload(name, data, size_bytes=len(data)))
        except AttachmentRefused as refusal:
            result.append(Upload(name, b"", str(refusal), size_bytes=len(data)))
    return result
