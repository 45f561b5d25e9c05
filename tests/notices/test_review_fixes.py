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
