"""Attachments: type from the content (never the name), a size limit with a clear refusal,
images inline and PDFs linked with their size, storage behind AttachmentStore."""

import pytest

from chonaikai.accounts.roles import Role
from chonaikai.notices import attachments as files
from chonaikai.notices.tables import Attachment, Notice
from chonaikai.settings import get_settings
from tests.auth import csrf_headers
from tests.notices.helpers import post_notice, sign_in_officer

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 50
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 50
HTML = b"<html><script>alert(1)</script></html>"
EXE = b"MZ\x90\x00" + b"\x00" * 60
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.mark.parametrize(
    ("data", "expected"),
    [(PDF, "application/pdf"), (PNG, "image/png"), (JPEG, "image/jpeg"), (HTML, None), (EXE, None), (SVG, None),
     (b"GIF89a", None), (b"", None), (b"%PD", None)],
)
def test_sniffing_by_content(data, expected):
    assert files.sniff(data) == expected


def test_a_name_that_lies_does_not_matter():
    # A web page named like a PDF is refused; a PNG named like a PDF is a PNG.
    with pytest.raises(files.AttachmentRefused, match="PDF・JPEG"):
        files.check_upload("report.pdf", HTML)
    with pytest.raises(files.AttachmentRefused):
        files.check_upload("photo.jpg", EXE)
    assert files.check_upload("chirashi.pdf", PNG) == "image/png"
    assert files.clean_filename("chirashi.pdf", "image/png") == "chirashi.png"
    assert files.clean_filename("../../etc/passwd", "application/pdf") == "passwd.pdf"
    assert files.clean_filename("写真.JPEG", "image/jpeg") == "写真.JPEG"


def test_size_limit_and_empty_files():
    files.check_upload("big.pdf", b"%PDF-" + b"0" * (files.MAX_BYTES - 5))  # exactly the limit: fine
    with pytest.raises(files.AttachmentRefused, match="大きすぎます"):
        files.check_upload("big.pdf", b"%PDF-" + b"0" * files.MAX_BYTES)
    with pytest.raises(files.AttachmentRefused, match="空です"):
        files.check_upload("empty.pdf", b"")


def test_sizes_in_plain_words():
    assert files.human_size(1_258_291) == "1.2MB"
    assert files.human_size(350 * 1024) == "350KB"
    assert files.human_size(10) == "1KB"


async def test_local_store_round_trip_and_refused_keys(tmp_path):
    store = files.LocalDiskStore(tmp_path)
    await store.put("7/abc_DEF-1.pdf", PDF)
    assert await store.get("7/abc_DEF-1.pdf") == PDF
    await store.delete("7/abc_DEF-1.pdf")
    with pytest.raises(FileNotFoundError):
        await store.get("7/abc_DEF-1.pdf")
    for key in ("../x.pdf", "7/../../x.pdf", "/etc/passwd", "7/a b.pdf"):
        with pytest.raises(ValueError):
            await store.put(key, PDF)


async def test_stored_under_the_upload_dir(tenant):
    notice_id = await post_notice(tenant)
    view = await files.add_attachment(tenant, notice_id, "a.pdf", PDF)
    row = await tenant.select(Attachment).where(Attachment.id == view.id).first()
    assert (get_settings().upload_dir / row["storage_key"]).read_bytes() == PDF
    assert row["storage_key"].startswith(f"{tenant.id}/")
    assert await files.remove_attachment(tenant, notice_id, view.id)
    assert not (get_settings().upload_dir / row["storage_key"]).exists()


async def upload(client, notice_id, name, data, content_type="application/octet-stream"):
    return await client.post(
        f"/a/sakura/notices/{notice_id}/attachments",
        files={"file": (name, data, content_type)},
        headers=await csrf_headers(client),
    )


async def test_upload_page_accepts_and_refuses(client, tenant):
    notice_id = await post_notice(tenant, visibility="public")
    await sign_in_officer(client, tenant, Role.EDITOR, "editor@example.jp")
    response = await upload(client, notice_id, "chirashi.pdf", PDF, "application/pdf")
    assert response.status_code == 303
    response = await upload(client, notice_id, "fake.pdf", HTML, "application/pdf")  # the browser's claim is ignored
    assert response.status_code == 400
    assert "このファイルは付けられません" in response.text
    response = await upload(client, notice_id, "photo.png", PNG)
    assert response.status_code == 303
    assert [a.content_type for a in await files.list_attachments(tenant, notice_id)] == ["application/pdf", "image/png"]

    page = await client.get(f"/a/sakura/notices/{notice_id}")
    attachments = await files.list_attachments(tenant, notice_id)
    pdf, png = attachments
    assert f'<img src="/a/sakura/notices/{notice_id}/files/{png.id}"' in page.text
    assert f"chirashi.pdf（PDF {files.human_size(len(PDF))}）" in page.text
    served = await client.get(f"/a/sakura/notices/{notice_id}/files/{pdf.id}")
    assert served.content == PDF and served.headers["content-type"] == "application/pdf"
    assert served.headers["x-content-type-options"] == "nosniff"


async def test_a_file_over_the_limit_is_refused_with_a_clear_message(client, tenant):
    notice_id = await post_notice(tenant)
    await sign_in_officer(client, tenant)
    big = b"%PDF-" + b"0" * files.MAX_BYTES  # one byte over: the body limit lets it in, the check refuses
    response = await upload(client, notice_id, "big.pdf", big, "application/pdf")
    assert response.status_code == 400
    assert "ファイルが大きすぎます" in response.text
    assert await tenant.count(Attachment) == 0


async def test_a_huge_body_is_refused_before_it_is_read(client, tenant):
    notice_id = await post_notice(tenant)
    await sign_in_officer(client, tenant)
    huge = b"%PDF-" + b"0" * (files.MAX_REQUEST_BYTES + 1024)
    response = await upload(client, notice_id, "huge.pdf", huge, "application/pdf")
    assert response.status_code == 413
    assert "ファイルが大きすぎます" in response.text
    assert await tenant.count(Attachment) == 0


async def test_only_posters_may_attach_or_remove(client, tenant):
    notice_id = await post_notice(tenant, visibility="public")
    view = await files.add_attachment(tenant, notice_id, "a.pdf", PDF)
    await sign_in_officer(client, tenant, Role.TREASURER, "kaikei@example.jp")
    assert (await upload(client, notice_id, "b.pdf", PDF)).status_code == 403
    response = await client.post(
        f"/a/sakura/notices/{notice_id}/attachments/{view.id}/delete", headers=await csrf_headers(client)
    )
    assert response.status_code == 403
    assert await tenant.count(Attachment) == 1


async def test_at_most_ten_files_per_notice(tenant):
    notice_id = await post_notice(tenant)
    for i in range(files.MAX_PER_NOTICE):
        await files.add_attachment(tenant, notice_id, f"{i}.png", PNG)
    with pytest.raises(files.AttachmentRefused, match="10個まで"):
        await files.add_attachment(tenant, notice_id, "11.png", PNG)


async def test_a_plain_browser_form_upload_without_javascript(client, tenant):
    # No CSRF header: the token travels in the multipart form, as a browser without htmx sends it.
    notice_id = await post_notice(tenant)
    await sign_in_officer(client, tenant)
    token = (await csrf_headers(client))["x-chonaikai-csrf"]
    response = await client.post(
        f"/a/sakura/notices/{notice_id}/attachments",
        data={"_csrf_token": token},
        files={"file": ("a.pdf", PDF, "application/pdf")},
    )
    assert response.status_code == 303
    huge = b"%PDF-" + b"0" * (files.MAX_REQUEST_BYTES + 1024)
    response = await client.post(
        f"/a/sakura/notices/{notice_id}/attachments",
        data={"_csrf_token": token},
        files={"file": ("huge.pdf", huge, "application/pdf")},
        headers={"accept": "text/html"},
    )
    assert response.status_code == 413
    assert "ファイルが大きすぎます" in response.text
    assert await tenant.count(Attachment) == 1


# --- several files on the new-notice form, in one post -----------------------------------------


NEW_NOTICE = {"title": "夏祭りのお知らせ", "body": "8月1日に公園で夏祭りをします。", "category": "行事",
              "audience": "all", "visibility": "members"}


async def post_new_notice(client, uploads, **fields):
    return await client.post(
        "/a/sakura/notices/new",
        data={**NEW_NOTICE, "action": "publish", **fields},
        files=[("files", upload) for upload in uploads],
        headers=await csrf_headers(client),
    )


async def test_the_new_notice_form_takes_two_files_in_one_post(client, tenant):
    await sign_in_officer(client, tenant)
    form = (await client.get("/a/sakura/notices/new")).text
    assert 'enctype="multipart/form-data"' in form and 'name="files" multiple' in form
    response = await post_new_notice(
        client, [("案内.pdf", PDF, "application/pdf"), ("会場.png", PNG, "image/png")]
    )
    assert response.status_code == 303 and "saved=published" in response.headers["location"]
    rows = await tenant.select(Attachment, Attachment.filename, Attachment.size_bytes).order_by(Attachment.position)
    assert [r["filename"] for r in rows] == ["案内.pdf", "会場.png"]
    page = (await client.get(response.headers["location"])).text
    assert "案内.pdf" in page and "会場.png" in page and "KB）" in page  # with its size


async def test_a_lying_file_is_refused_and_the_other_fields_and_file_are_kept(client, tenant):
    await sign_in_officer(client, tenant)
    response = await post_new_notice(
        client, [("案内.pdf", PDF, "application/pdf"), ("写真.jpg", HTML, "image/jpeg")]
    )
    assert response.status_code == 400
    page = response.text
    assert "写真.jpg" in page and "このファイルは付けられません" in page
    assert 'value="夏祭りのお知らせ"' in page and "8月1日に公園で夏祭りをします。" in page  # nothing lost
    assert "下書きとして保存しました" in page
    notices = await tenant.select(Notice, Notice.id, Notice.status)
    assert [n["status"] for n in notices] == ["draft"]  # not published without the file meant for it
    rows = await tenant.select(Attachment, Attachment.filename)
    assert [r["filename"] for r in rows] == ["案内.pdf"]


async def test_a_form_error_asks_for_the_files_again_and_stores_nothing(client, tenant):
    await sign_in_officer(client, tenant)
    response = await post_new_notice(client, [("案内.pdf", PDF, "application/pdf")], title="")
    assert response.status_code == 400
    assert "案内.pdf）は、もう一度選んでください" in response.text
    assert await tenant.count(Attachment) == 0
