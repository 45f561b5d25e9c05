"""Notices lend their content to the delivery core through its port
(``chonaikai.delivery.content.ContentSource``): the audience of a notice, its e-mail, its read
page and its files. Registered at start-up by ``chonaikai.wiring``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chonaikai.delivery.content import NOTICE, MailParts, ReadContent
from chonaikai.notices import render
from chonaikai.notices.attachments import find_attachment, list_attachments, read_attachment
from chonaikai.notices.questions import load_question
from chonaikai.notices.tables import Notice
from chonaikai.tenancy.scope import Tenant
from chonaikai.tenancy.tables import Association

READABLE = ("published", "archived")


def _audience_includes(notice: str, household: str) -> str:
    """SQL: notice row ``notice`` is for household row ``household`` of its association."""
    return (
        f"({notice}.audience = 'all' OR ({notice}.audience = 'han' AND EXISTS ("
        f"SELECT 1 FROM notice_han nh WHERE nh.notice = {notice}.id AND nh.association = {notice}.association "
        f"AND nh.han = {household}.han)))"
    )


class NoticeContent:
    kind = NOTICE

    def audience_sql(self, count: int) -> str:
        """Audience ``all``: every household of the association; ``han``: the households of the
        notice's 班 (``notice_han``); ``officers``: none (officers read it on the board)."""
        placeholders = ", ".join("{}" for _ in range(count))
        return (
            "SELECT n.association AS association, n.id AS content, h.id AS household "
            "FROM notice n JOIN household h ON h.association = n.association "
            f"WHERE n.id IN ({placeholders}) AND {_audience_includes('n', 'h')}"
        )

    def in_audience_sql(self, content: str, household: str) -> str:
        return (
            "EXISTS (SELECT 1 FROM notice n JOIN household ah ON ah.association = n.association "
            f"WHERE n.id = {content} AND ah.id = {household} AND {_audience_includes('n', 'ah')})"
        )

    def own_part_sql(self, content: str, household: str) -> str:
        # The household's current answer (notice_answer_current: one row per notice and household).
        return (
            f"EXISTS (SELECT 1 FROM notice_answer na WHERE na.notice = {content} "
            f"AND na.household = {household} AND na.current)"
        )

    async def describe(self, association_id: int, content_id: int) -> dict[str, Any] | None:
        return await Notice.select(
            Notice.id, Notice.title, Notice.status, Notice.published_at, Notice.audience
        ).where((Notice.id == content_id) & (Notice.association == association_id)).first()

    async def association_of(self, content_id: int) -> int | None:
        row = await Notice.select(Notice.association).where(Notice.id == content_id).first()
        return row["association"] if row else None

    async def stamps(self, content_ids: list[int]) -> dict[int, datetime | None]:
        rows = await Notice.select(Notice.id, Notice.updated_at).where(Notice.id.is_in(content_ids or [0]))
        return {row["id"]: row["updated_at"] for row in rows}

    async def mail_parts(self, content_id: int) -> MailParts | None:
        notice = await Notice.select(
            Notice.title, Notice.body, Notice.association, Notice.question, Notice.answer_deadline
        ).where(Notice.id == content_id).first()
        if notice is None:
            return None
        association = await Association.select(Association.name).where(
            Association.id == notice["association"]
        ).first()
        question = load_question(notice["question"], notice["answer_deadline"])
        return MailParts(
            title=notice["title"],
            association_name=association["name"] if association else "",
            text=render.plain_text(notice["body"]),
            html=str(render.render_html(notice["body"])),
            choices=() if question.is_confirm else question.choices,
            answer_deadline=question.deadline_text(),
        )

    async def _tenant_if_readable(self, association_id: int, content_id: int) -> Tenant | None:
        notice = await Notice.select(Notice.status).where(
            (Notice.id == content_id) & (Notice.association == association_id)
        ).first()
        if notice is None or notice["status"] not in READABLE:
            return None
        association = await Association.select().where(Association.id == association_id).first()
        return Tenant.from_row(association) if association else None

    async def read_content(self, association_id: int, content_id: int) -> ReadContent | None:
        notice = await Notice.select(
            Notice.id, Notice.title, Notice.body, Notice.category, Notice.urgent, Notice.published_at,
            Notice.answer_by, Notice.author_title, Notice.status,
        ).where((Notice.id == content_id) & (Notice.association == association_id)).first()
        if notice is None or notice["status"] not in READABLE:
            return None
        association = await Association.select().where(Association.id == association_id).first()
        if association is None:
            return None
        attachments = await list_attachments(Tenant.from_row(association), content_id)
        if association.get("show_poster_name") is False:  # the officers chose not to sign notices
            notice["author_title"] = ""
        return ReadContent(notice, render.render_html(notice["body"]), attachments)

    async def attachment(
        self, association_id: int, content_id: int, attachment_id: int
    ) -> tuple[dict[str, Any], bytes] | None:
        tenant = await self._tenant_if_readable(association_id, content_id)
        if tenant is None:
            return None
        row = await find_attachment(tenant, content_id, attachment_id)
        if row is None:
            return None
        try:
            return row, await read_attachment(row)
        except FileNotFoundError:
            return None
