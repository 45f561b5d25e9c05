"""Review fixes for notices: deleting a draft removes its files; absurd publish years are refused."""

from __future__ import annotations

from chonaikai.notices import attachments as files
from chonaikai.notices import logic
from chonaikai.notices.tables import Attachment
from chonaikai.settings import get_settings
from tests.notices.helpers import post_notice

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


async def test_deleting_a_draft_removes_its_files_from_the_store(tenant):
    notice_id = await post_notice(tenant, publish=False)
    view = await files.add_attachment(tenant, notice_id, "a.pdf", PDF)
    key = (await tenant.select(Attachment).where(Attachment.id == view.id).first())["storage_key"]
    path = get_settings().upload_dir / key
    assert path.exists()
    assert await logic.delete_draft(tenant, notice_id)
    assert await tenant.count(Attachment).where(Attachment.notice == notice_id) == 0
    assert not path.exists()


async def test_a_published_notice_is_not_deleted_and_keeps_its_files(tenant):
    notice_id = await post_notice(tenant)
    view = await files.add_attachment(tenant, notice_id, "a.pdf", PDF)
    key = (await tenant.select(Attachment).where(Attachment.id == view.id).first())["storage_key"]
    assert not await logic.delete_draft(tenant, notice_id)
    assert (get_settings().upload_dir / key).exists()


async def test_a_publish_time_in_year_0001_or_3000_is_refused_in_japanese(tenant):
    for text in ("0001-01-01T00:00", "3000-01-01T09:00", "1999-12-31T23:00"):
        data = {"title": ["お知らせ"], "body": ["本文"], "publish_at": [text]}
        values, errors = await logic.parse_notice_form(tenant, data)
        assert "2000年から2100年" in errors["publish_at"], text
        assert values.publish_at is None
    values, errors = await logic.parse_notice_form(
        tenant, {"title": ["お知らせ"], "body": ["本文"], "publish_at": ["2030-01-01T09:00"]}
    )
    assert "publish_at" not in errors and values.publish_at.year == 2030
