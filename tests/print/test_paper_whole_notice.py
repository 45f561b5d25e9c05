"""Paper households get the whole notice (issue 15, part 3): the 回覧板's QR opens the notice for
that 班 without signing in, images are printed on the sheet, attached PDFs follow it."""

from __future__ import annotations

import io
import re
import struct
import zlib

import pypdf
import segno

from chonaikai.accounts.roles import Role
from chonaikai.notices.attachments import add_attachment
from chonaikai.notices.tables import Notice, NoticeHan
from chonaikai.printing import pdf
from chonaikai.printing.sheets import sheet_path, sheet_url
from tests.auth import sign_in_as
from tests.print.rows import make_town


def png(width: int = 60, height: int = 30) -> bytes:
    """A small solid red PNG, made by hand (no imaging library needed)."""
    raw = b"".join(b"\x00" + b"\xcc\x22\x22" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def two_page_pdf() -> bytes:
    """A real two-page PDF with text we can read back (made by the same renderer as the sheets)."""
    html = ('<html><body style="font-family: IPAexGothic">'
            '<p>添付の地図いちまいめ</p><p style="break-before: page">添付の地図にまいめ</p></body></html>')
    return pdf.render_pdf_sync(html, pdf.font_or_raise())


def pages_of(body: bytes) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(body))
    return [page.extract_text().replace("\n", "") for page in reader.pages]  # lines wrap anywhere


async def members_only_town(tenant):
    return await make_town(tenant, title="役員選挙のお知らせ", visibility="members", audience="all")


async def test_sheet_qr_opens_a_members_only_notice_for_that_han_without_a_session(client, tenant):
    town = await members_only_town(tenant)
    han1 = str(town.han["1班"])
    # The notice page itself asks for a sign-in …
    assert (await client.get(f"/a/sakura/notices/{town.notice['id']}")).status_code in (303, 401)
    # … the sheet link does not, and sets no cookie.
    page = await client.get(sheet_path(town.notice["id"], han1))
    assert page.status_code == 200, page.text[:300]
    assert "役員選挙のお知らせ" in page.text and "公民館前" in page.text
    assert "chonaikai_session" not in page.headers.get("set-cookie", "")
    assert "no-store" in page.headers["cache-control"] and "noindex" in page.headers["x-robots-tag"]

    # The link is scoped: the same code under another 班, or a changed code, opens nothing.
    mac = sheet_path(town.notice["id"], han1).rsplit("/", 1)[1]
    assert (await client.get(f"/sheet/{town.notice['id']}/{town.han['2班']}/{mac}")).status_code == 404
    assert (await client.get(f"/sheet/{town.notice['id']}/{han1}/{'A' * 24}")).status_code == 404

    # The QR printed on 1班's sheet is exactly this link.
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    sheet = (await client.get(f"/a/sakura/notices/{town.notice['id']}/print?han={han1}")).text
    expected = segno.make(sheet_url(town.notice["id"], han1), error="m").svg_inline(scale=3, border=2)
    assert re.search(r' d="([^"]+)"', expected).group(1) in sheet


async def test_sheet_link_stops_when_the_audience_excludes_the_han_or_the_notice_is_archived(client, tenant):
    town = await members_only_town(tenant)
    link1 = sheet_path(town.notice["id"], str(town.han["1班"]))
    link2 = sheet_path(town.notice["id"], str(town.han["2班"]))
    no_han = sheet_path(town.notice["id"], "none")
    assert (await client.get(link1)).status_code == 200
    assert (await client.get(no_han)).status_code == 200

    # Narrowed to 2班 only: 1班's link (and the households without a 班) stop; 2班's still opens.
    await tenant.update(Notice, {Notice.audience: "han"}).where(Notice.id == town.notice["id"])
    await NoticeHan.insert(tenant.new(NoticeHan, notice=town.notice["id"], han=town.han["2班"]))
    closed = await client.get(link1)
    assert closed.status_code == 410 and "この班にはお届けしていません" in closed.text
    assert "役員選挙" not in closed.text and "公民館前" not in closed.text
    assert (await client.get(no_han)).status_code == 410
    assert (await client.get(link2)).status_code == 200

    await tenant.update(Notice, {Notice.status: "archived"}).where(Notice.id == town.notice["id"])
    archived = await client.get(link2)
    assert archived.status_code == 410 and "掲示が終わりました" in archived.text


async def test_officers_only_and_draft_notices_never_open_by_sheet_link(client, tenant):
    town = await make_town(tenant, title="役員会", audience="officers")
    assert (await client.get(sheet_path(town.notice["id"], str(town.han["1班"])))).status_code == 410
    draft = await make_town_notice(tenant, status="draft")
    assert (await client.get(sheet_path(draft, str(town.han["1班"])))).status_code == 404


async def make_town_notice(tenant, **values) -> int:
    from tests.print.rows import make_notice

    return (await make_notice(tenant, title="下書き", **values))["id"]


async def test_attachments_open_from_the_sheet_link_and_stop_with_it(client, tenant):
    town = await members_only_town(tenant)
    image = await add_attachment(tenant, town.notice["id"], "地図.png", png())
    document = await add_attachment(tenant, town.notice["id"], "案内.pdf", two_page_pdf())
    link = sheet_path(town.notice["id"], str(town.han["1班"]))
    page = await client.get(link)
    assert f'<img src="{link}/files/{image.id}"' in page.text
    assert f'href="{link}/files/{document.id}"' in page.text and "案内.pdf" in page.text
    got = await client.get(f"{link}/files/{image.id}")
    assert got.status_code == 200 and got.content == png() and got.headers["content-type"] == "image/png"
    got = await client.get(f"{link}/files/{document.id}")
    assert got.status_code == 200 and got.content.startswith(b"%PDF")

    await tenant.update(Notice, {Notice.status: "archived"}).where(Notice.id == town.notice["id"])
    assert (await client.get(f"{link}/files/{image.id}")).status_code == 410


async def test_png_attachment_is_printed_on_the_sheet_and_in_the_pdf(client, tenant):
    town = await members_only_town(tenant)
    image = await add_attachment(tenant, town.notice["id"], "ごみ置き場.png", png())
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    han1 = town.han["1班"]
    html = (await client.get(f"/a/sakura/notices/{town.notice['id']}/print?han={han1}")).text
    assert f'<img src="/a/sakura/notices/{town.notice["id"]}/files/{image.id}"' in html
    assert "添付：ごみ置き場.png" in html

    response = await client.get(f"/a/sakura/notices/{town.notice['id']}/print.pdf?han={han1}")
    assert response.status_code == 200, response.text[:300]
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) == 1
    images = reader.pages[0].images
    assert len(images) == 1
    assert images[0].image.size == (60, 30)  # the PNG itself, scaled on the page
    assert "添付：ごみ置き場.png" in reader.pages[0].extract_text()


async def test_pdf_attachment_pages_follow_each_hans_sheet(client, tenant):
    town = await members_only_town(tenant)
    await add_attachment(tenant, town.notice["id"], "地図.pdf", two_page_pdf())
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    base = f"/a/sakura/notices/{town.notice['id']}"

    one = await client.get(f"{base}/print.pdf?han={town.han['1班']}")
    assert one.status_code == 200, one.text[:300]
    pages = pages_of(one.content)
    assert len(pages) == 3  # the sheet, then the attachment's two pages
    assert "青木" in pages[0] and "添付のPDFが 2 ページつづきます" in pages[0]
    assert "添付の地図いちまいめ" in pages[1] and "添付の地図にまいめ" in pages[2]

    every = pages_of((await client.get(f"{base}/print.pdf?han=all&paper=1")).content)
    # 1班, 2班, 班なし have paper households (3班 none): each sheet followed by the two pages.
    assert len(every) == 3 * 3
    assert ["青木" in p for p in every[0::3]] == [True, False, False]
    assert all("添付の地図いちまいめ" in p for p in every[1::3])
    assert all("添付の地図にまいめ" in p for p in every[2::3])

    once = pages_of((await client.get(f"{base}/print.pdf?han=all&paper=1&pdfs=once")).content)
    assert len(once) == 3 + 2
    assert "いちばん最後の回覧板のうしろにまとめて付いています" in once[0]
    assert "添付の地図いちまいめ" in once[3] and "添付の地図にまいめ" in once[4]

    bad = await client.get(f"{base}/print.pdf?han=all&pdfs=twice")
    assert bad.status_code == 400 and "添付PDFの付け方" in bad.text


async def test_a_damaged_pdf_attachment_is_listed_not_appended(client, tenant):
    town = await members_only_town(tenant)
    await add_attachment(tenant, town.notice["id"], "こわれた.pdf", b"%PDF-1.4\nnot really a pdf")
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    response = await client.get(f"/a/sakura/notices/{town.notice['id']}/print.pdf?han={town.han['1班']}")
    assert response.status_code == 200
    pages = pages_of(response.content)
    assert len(pages) == 1 and "こわれた.pdf" in pages[0]


async def test_each_household_row_may_carry_its_own_read_link_qr(client, tenant):
    from chonaikai.delivery.tables import Delivery

    town = await members_only_town(tenant)
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    base = f"/a/sakura/notices/{town.notice['id']}/print?han={town.han['1班']}"
    plain = (await client.get(base)).text
    assert "col-qr" not in plain and "□に印をつけるかわり" not in plain
    html = (await client.get(base + "&qr=1")).text
    token = (await tenant.select(Delivery, Delivery.token).where(
        Delivery.household == town.households["青木"]).first())["token"]
    expected = segno.make(f"http://testserver/r/{token}", error="l").svg_inline(scale=2, border=1)
    assert re.search(r' d="([^"]+)"', expected).group(1) in html
    assert html.count('<td class="col-qr"><svg') == 3  # 青木, 井上, 上田: each has a delivery
    assert html.count('<span class="box"></span>') == 3  # the 確認 column stays
