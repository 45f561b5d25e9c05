"""City circulars: the limits and the checks on what city staff send (every message in
Japanese and English)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from chonaikai.circulars.tables import (
    TARGET_KINDS,
)
from chonaikai.tenancy.tables import Association

CATEGORIES = ("回覧", "行事", "防災", "ごみ", "健康・福祉", "その他")
NOTICE_CATEGORY = "回覧"  # what a forwarded circular is on the association's board
TITLE_MAX = 200
SUMMARY_MAX = 5000
NOTE_MAX = 500
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
ATTACHMENTS_MAX = 5
REMIND_INTERVAL = timedelta(hours=24)
# Statement size for bulk UPDATE … CASE: well under both databases' parameter limits.
CASE_CHUNK = 400
NOTICE_CHUNK = 500



# ---------------------------------------------------------------------------------------------
# Input and validation


class CircularError(ValueError):
    """Bad input: every message in Japanese and in English; nothing was changed."""

    def __init__(self, messages: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(en for _, en in messages))
        self.messages = messages

    @property
    def japanese(self) -> list[str]:
        return [ja for ja, _ in self.messages]

    def as_json(self) -> dict[str, Any]:
        return {"errors": [{"ja": ja, "en": en} for ja, en in self.messages]}


@dataclass
class CircularInput:
    title: str
    summary: str
    category: str = NOTICE_CATEGORY
    target_kind: str = "all"
    districts: list[str] = field(default_factory=list)
    associations: list[str] = field(default_factory=list)  # slugs
    needs_confirmation: bool = False
    answer_by: date | None = None
    publish: bool = True  # send now (or at publish_at); False keeps a draft
    publish_at: datetime | None = None


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content: bytes


def _clean_filename(name: str) -> str:
    name = Path(name.replace("\\", "/")).name.strip() or "attachment.pdf"
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?')
    if not name.lower().endswith(".pdf"):
        name += ".pdf"
    return name[-150:]


async def validate(city_id: int, data: CircularInput, files: Sequence[UploadedFile] = ()) -> list[int]:
    """Check everything; raise CircularError listing all problems. Returns the target association ids."""
    errors: list[tuple[str, str]] = []
    data.title = (data.title or "").strip()
    data.summary = (data.summary or "").strip()
    if not data.title:
        errors.append(("題名を入れてください。", "title is required"))
    elif len(data.title) > TITLE_MAX:
        errors.append((f"題名は{TITLE_MAX}文字までです。", f"title must be at most {TITLE_MAX} characters"))
    if not data.summary:
        errors.append(("あらまし（本文）を入れてください。", "summary is required"))
    elif len(data.summary) > SUMMARY_MAX:
        errors.append(
            (f"あらましは{SUMMARY_MAX}文字までです。", f"summary must be at most {SUMMARY_MAX} characters")
        )
    if data.category not in CATEGORIES:
        errors.append(("分類を一覧から選んでください。", f"category must be one of {', '.join(CATEGORIES)}"))
    if data.needs_confirmation and data.answer_by is not None and data.answer_by < datetime.now(UTC).date():
        errors.append(("回答期限が過ぎた日になっています。", "answer_by is in the past"))
    if data.publish_at is not None and data.publish_at.tzinfo is None:
        errors.append(("送る日時の形が正しくありません。", "publish_at needs a time zone"))
    if len(files) > ATTACHMENTS_MAX:
        errors.append(
            (f"添付できるのは{ATTACHMENTS_MAX}つまでです。", f"at most {ATTACHMENTS_MAX} attachments")
        )
    for upload in files:
        if not upload.content.startswith(b"%PDF-"):
            errors.append(
                (f"「{upload.filename}」はPDFではありません。PDFだけ添付できます。", f"{upload.filename}: not a PDF")
            )
        elif len(upload.content) > ATTACHMENT_MAX_BYTES:
            errors.append(
                (f"「{upload.filename}」が大きすぎます（10MBまで）。", f"{upload.filename}: larger than 10 MB")
            )
    target_ids: list[int] = []
    if data.target_kind not in TARGET_KINDS:
        errors.append(
            ("送り先を「すべて」「地区」「町内会」から選んでください。", "target must be all, districts or associations")
        )
    else:
        data.districts = sorted({d.strip() for d in data.districts if d and d.strip()})
        data.associations = sorted({s.strip() for s in data.associations if s and s.strip()})
        if data.target_kind == "districts":
            known = set(await districts_of_city(city_id))
            unknown = [d for d in data.districts if d not in known]
            if not data.districts:
                errors.append(("地区を一つ以上選んでください。", "choose at least one district"))
            elif unknown:
                errors.append(
                    (f"この市にない地区です: {'、'.join(unknown)}", f"unknown districts: {', '.join(unknown)}")
                )
        if data.target_kind == "associations":
            rows = await Association.select(Association.slug).where(
                (Association.city == city_id) & Association.slug.is_in(data.associations or [""])
            )
            unknown = sorted(set(data.associations) - {row["slug"] for row in rows})
            if not data.associations:
                errors.append(("町内会を一つ以上選んでください。", "choose at least one association"))
            elif unknown:
                errors.append(
                    (
                        f"この市にない町内会です: {'、'.join(unknown)}",
                        f"unknown associations in this city: {', '.join(unknown)}",
                    )
                )
        if not errors:
            target_ids = await target_association_ids(
                city_id, data.target_kind, data.districts, data.associations
            )
            if not target_ids:
                errors.append(("送り先の町内会がありません。", "no association matches the target"))
    if errors:
        raise CircularError(errors)
    return target_ids


def _target_where(city_id: int, kind: str, districts: Sequence[str], slugs: Sequence[str]):
    where = Association.city == city_id
    if kind == "districts":
        where &= Association.district.is_in(list(districts) or [""])
    elif kind == "associations":
        where &= Association.slug.is_in(list(slugs) or [""])
    return where


async def target_association_ids(city_id: int, kind: str, districts: Sequence[str], slugs: Sequence[str]) -> list[int]:
    rows = await Association.select(Association.id).where(_target_where(city_id, kind, districts, slugs))
    return [row["id"] for row in rows]


async def districts_of_city(city_id: int) -> list[str]:
    rows = await Association.select(Association.district).where(
        (Association.city == city_id) & (Association.district != "")
    ).distinct().order_by(Association.district)
    return [row["district"] for row in rows]


async def associations_of_city(city_id: int) -> list[dict[str, Any]]:
    return await Association.select(
        Association.id, Association.slug, Association.name, Association.district, Association.auto_forward_circulars
    ).where(Association.city == city_id).order_by(Association.district, Association.kana)
