"""The homepage settings page: 会長 and 広報 change their association's public homepage."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import httpx
import pytest

from chonaikai.accounts.roles import Role
from chonaikai.accounts.tables import AuditEntry
from chonaikai.tenancy.tables import Association
from chonaikai.tenancy.tenant_files import sync_tenants
from tests.auth import csrf_headers, sign_in_as

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
FORM = {
    "introduction": "川のそばの町内会です。\n\n**毎月**清掃をしています。",
    "contact": "会長 090-0000-0000",
    "officer_title": ["会長", "広報", ""],
    "officer_name": ["見本 花子", "", ""],
    "link_title": ["市のごみ情報", ""],
    "link_url": ["https://www.city.example.jp/gomi", ""],
    "categories": "行事\n防災\nその他",
    "show_poster_name": "1",
    "action": "save",
}


async def post_settings(client, form=None, **changes):
    data = {**(form or FORM), **changes}
    return await client.post("/a/sakura/settings/homepage", data=data, headers=await csrf_headers(client))


async def test_the_editor_changes_the_public_homepage_and_it_is_audited(client, tenant):
    await sign_in_as(client, "koho@example.jp", Role.EDITOR, tenant)
    page = await client.get("/a/sakura/settings/homepage")
    assert page.status_code == 200 and "ホームページの設定" in page.text
    response = await post_settings(client)
    assert response.status_code == 303
    home = (await client.get("/a/sakura/")).text
    assert "川のそばの町内会です。" in home and "<strong>毎月</strong>" in home
    assert "090-0000-0000" in home and "見本 花子" in home
    assert 'href="https://www.city.example.jp/gomi"' in home and "市のごみ情報" in home
    entries = await AuditEntry.select(AuditEntry.action, AuditEntry.detail).where(AuditEntry.association == tenant.id)
    update = [e for e in entries if e["action"] == "homepage.update"]
    assert update and "紹介文" in update[0]["detail"] and "お知らせの分類" in update[0]["detail"]
    audit_log = await sign_in_and_read_audit(tenant)
    assert "ホームページを変更" in audit_log and "homepage.update" not in audit_log


async def sign_in_and_read_audit(tenant) -> str:
    from chonaikai.app import create_app, create_asgi_app

    app = create_asgi_app(app=create_app())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as chair:
        await sign_in_as(chair, "kaicho@example.jp", Role.CHAIR, tenant)
        return (await chair.get("/a/sakura/audit")).text


async def test_preview_shows_the_page_without_saving(client, tenant):
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    response = await post_settings(client, action="preview")
    assert response.status_code == 200
    assert "見え方（まだ保存していません）" in response.text and "<strong>毎月</strong>" in response.text
    row = await Association.select(Association.introduction).where(Association.id == tenant.id).first()
    assert row["introduction"] == ""


@pytest.mark.parametrize("role", [Role.MEMBER, Role.HAN_LEADER, Role.TREASURER, Role.VICE_CHAIR])
async def test_others_get_403_and_nothing_changes(client, tenant, role):
    await sign_in_as(client, "someone@example.jp", role, tenant)
    assert (await client.get("/a/sakura/settings/homepage")).status_code == 403
    assert (await post_settings(client)).status_code == 403
    row = await Association.select(Association.introduction).where(Association.id == tenant.id).first()
    assert row["introduction"] == ""


async def test_a_stranger_is_sent_to_sign_in(client, tenant):
    response = await client.get("/a/sakura/settings/homepage")
    assert response.status_code == 303 and response.headers["location"].startswith("/signin")


async def test_hostile_markdown_is_neutralised_on_the_homepage(client, tenant):
    await sign_in_as(client, "koho@example.jp", Role.EDITOR, tenant)
    hostile = (
        "<script>alert(1)</script>\n\n[押して](javascript:alert(2))\n\n<img src=x onerror=alert(3)>\n\n"
        '<a href="https://evil.example" onclick="alert(4)">x</a>'
    )
    assert (await post_settings(client, introduction=hostile)).status_code == 303
    home = (await client.get("/a/sakura/")).text
    intro = home.split('class="card intro"', 1)[1].split("</section>", 1)[0]
    assert "<script" not in intro and 'href="javascript' not in intro
    assert "<img" not in intro and "<a href" not in intro  # raw HTML comes out as text
    assert "&lt;script&gt;" in intro


async def test_a_bad_link_is_refused_with_the_other_fields_kept(client, tenant):
    await sign_in_as(client, "koho@example.jp", Role.EDITOR, tenant)
    response = await post_settings(client, link_title=["だめ"], link_url=["javascript:alert(1)"])
    assert response.status_code == 400
    assert "https:// で始まるアドレス" in response.text
    assert "川のそばの町内会です。" in response.text  # what was typed stays in the form
    row = await Association.select(Association.introduction, Association.links).where(
        Association.id == tenant.id).first().output(load_json=True)
    assert row["introduction"] == "" and row["links"] == []


TENANT_FILES = """
kind = "city"
slug = "testcity"
name = "試験市"
municipality_code = "079995"
""", """
kind = "association"
slug = "sakura"
name = "テスト桜町内会"
city = "testcity"
district = "北地区"
introduction = "ファイルに書いた紹介文"
contact = "ファイルの連絡先"
"""


async def test_officer_edits_survive_tenants_sync_and_other_fields_still_follow_the_file(
    client, tenant, tmp_path: Path
):
    folder = tmp_path / "tenants"
    folder.mkdir()
    (folder / "city.toml").write_text(TENANT_FILES[0], encoding="utf-8")
    (folder / "sakura.toml").write_text(TENANT_FILES[1], encoding="utf-8")
    await sync_tenants(folder)
    await sign_in_as(client, "koho@example.jp", Role.EDITOR, tenant)
    assert (await post_settings(client, contact="")).status_code == 303  # contact: unchanged
    await sync_tenants(folder)
    row = await Association.select().where(Association.id == tenant.id).first().output(load_json=True)
    assert row["introduction"].startswith("川のそばの町内会です。")  # the officers' edit wins
    assert row["public_officers"][0] == {"title": "会長", "name": "見本 花子"}
    assert row["district"] == "北地区"  # fields officers never edit still come from the file
    home = (await client.get("/a/sakura/")).text
    assert "川のそばの町内会です。" in home and "ファイルに書いた紹介文" not in home


async def test_the_kept_homepage_is_forgotten_after_a_change(settings, tenant):
    from chonaikai.app import create_app, create_asgi_app

    app = create_asgi_app(settings, create_app(dataclasses.replace(settings, page_cache_seconds=60)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as visitor, \
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as officer:
        assert "川のそばの町内会です。" not in (await visitor.get("/a/sakura/")).text
        await sign_in_as(officer, "koho@example.jp", Role.EDITOR, tenant)
        assert (await post_settings(officer)).status_code == 303
        assert "川のそばの町内会です。" in (await visitor.get("/a/sakura/")).text


async def test_photos_follow_the_attachment_rules(client, tenant):
    await sign_in_as(client, "koho@example.jp", Role.EDITOR, tenant)
    headers = await csrf_headers(client)
    added = await client.post(
        "/a/sakura/settings/homepage/photos", headers=headers,
        files={"photo": ("清掃.png", io.BytesIO(PNG), "image/png")}, data={"caption": "一斉清掃"},
    )
    assert added.status_code == 303
    lying = await client.post(
        "/a/sakura/settings/homepage/photos", headers=headers,
        files={"photo": ("photo.jpg", io.BytesIO(b"<html>not a photo</html>"), "image/jpeg")},
    )
    assert lying.status_code == 400 and "このファイルは付けられません" in lying.text
    pdf = await client.post(
        "/a/sakura/settings/homepage/photos", headers=headers,
        files={"photo": ("a.pdf", io.BytesIO(b"%PDF-1.4 x"), "application/pdf")},
    )
    assert pdf.status_code == 400 and "JPEG" in pdf.text
    row = await Association.select(Association.photos).where(Association.id == tenant.id).first().output(load_json=True)
    assert len(row["photos"]) == 1
    home = (await client.get("/a/sakura/")).text
    name = row["photos"][0]["key"].rsplit("/", 1)[-1]
    assert f"/a/sakura/photos/{name}" in home and "一斉清掃" in home
    image = await client.get(f"/a/sakura/photos/{name}")
    assert image.status_code == 200 and image.content == PNG and image.headers["content-type"] == "image/png"
    removed = await client.post(f"/a/sakura/settings/homepage/photos/{name}/delete", headers=headers)
    assert removed.status_code == 303
    assert (await client.get(f"/a/sakura/photos/{name}")).status_code == 404


async def test_the_poster_title_is_shown_only_when_the_officers_say_so(client, tenant):
    from tests.delivery.helpers import make_notice

    notice = await make_notice(tenant, title="総会のお知らせ", author_title="会長", visibility="public")
    assert "テスト桜町内会 会長" in (await client.get(f"/a/sakura/notices/{notice}")).text
    await sign_in_as(client, "koho@example.jp", Role.EDITOR, tenant)
    form = {k: v for k, v in FORM.items() if k != "show_poster_name"}  # the box left unticked
    assert (await post_settings(client, form)).status_code == 303
    client.cookies.clear()
    assert "テスト桜町内会 会長" not in (await client.get(f"/a/sakura/notices/{notice}")).text
    row = await Association.select(Association.show_poster_name).where(Association.id == tenant.id).first()
    assert row["show_poster_name"] is False
