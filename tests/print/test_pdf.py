"""The sheet as a PDF: Japanese font embedded, text readable back, a plain message when the font is missing.

No skip when the font is missing: CI installs fonts-ipaexfont, and a server without it would hand
officers broken PDFs, so this must fail loudly.
"""

from __future__ import annotations

import http.server
import io
import threading

import pypdf

from chonaikai.accounts.roles import Role
from chonaikai.printing import pdf
from tests.auth import sign_in_as
from tests.print.rows import make_town


def embedded_fonts(reader: pypdf.PdfReader) -> list[tuple[str, bool]]:
    """(font name, has an embedded TrueType program) for every font on every page."""
    fonts = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", [font]):
                descriptor = descendant.get_object()["/FontDescriptor"].get_object()
                fonts.append((str(descriptor["/FontName"]), "/FontFile2" in descriptor))
    return fonts


async def test_pdf_embeds_a_japanese_font_and_text_reads_back(client, tenant):
    town = await make_town(tenant)
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    response = await client.get(f"/a/{tenant.slug}/notices/{town.notice['id']}/print.pdf?han={town.han['1班']}")
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"] == "application/pdf"
    body = response.content
    assert body.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(body))
    fonts = embedded_fonts(reader)
    assert fonts and all(embedded for _, embedded in fonts), fonts
    assert all("IPAex" in name for name, _ in fonts), fonts
    text = "".join(page.extract_text() for page in reader.pages)
    assert "一斉清掃のお知らせ" in text
    assert "青木" in text and "上田" in text and "★紙" in text
    assert "大野" not in text  # 2班
    assert len(reader.pages) == 1  # one 班 fits one A4 page
    box = reader.pages[0].mediabox
    assert (round(float(box.width) * 25.4 / 72), round(float(box.height) * 25.4 / 72)) == (210, 297)


async def test_pdf_of_every_han_starts_each_han_on_a_new_page(client, tenant):
    town = await make_town(tenant)
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    response = await client.get(f"/a/{tenant.slug}/notices/{town.notice['id']}/print.pdf?han=all&paper=1")
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) == 3  # 1班, 2班, 班なし (3班 has nobody on paper)
    assert "青木" in pages[0] and "大野" in pages[1] and "木村" in pages[2]
    assert "井上" not in "".join(pages)  # e-mail household left out of a paper-only print


def test_pdf_renderer_fetches_nothing_but_the_font():
    """A notice body that points at an address (an image, a style sheet) must not make the server
    request it: a real HTTP server on loopback counts what reaches it."""
    requests: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            requests.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        document = (
            f'<html><head><link rel="stylesheet" href="{base}/style.css"></head><body>'
            f'<p>本文</p><img src="{base}/secret.png"><div style="background: url({base}/bg.png)">x</div>'
            "</body></html>"
        )
        body = pdf.render_pdf_sync(document, pdf.font_or_raise())
    finally:
        server.shutdown()
        server.server_close()
    assert body.startswith(b"%PDF")
    assert requests == []


async def test_missing_font_gives_a_plain_japanese_message(client, tenant, monkeypatch, tmp_path):
    town = await make_town(tenant)
    monkeypatch.setattr(pdf, "FONT_DIRS", [tmp_path])  # a server without fonts-ipaexfont
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    response = await client.get(f"/a/{tenant.slug}/notices/{town.notice['id']}/print.pdf?han={town.han['1班']}")
    assert response.status_code == 503
    assert "fonts-ipaexfont" in response.text and "ブラウザの「印刷」" in response.text
    assert "%PDF" not in response.text


async def test_a_han_of_twenty_households_fits_one_a4_page(client, tenant):
    from tests.factories import make_household

    town = await make_town(tenant)
    for number in range(20):
        await make_household(tenant, f"世帯{number:02d}", "3班", channel="paper" if number % 3 else "email")
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    response = await client.get(f"/a/{tenant.slug}/notices/{town.notice['id']}/print.pdf?han={town.han['3班']}")
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "世帯00" in text and "世帯19" in text


def test_making_a_pdf_leaves_the_server_log_quiet_at_info(caplog):
    """WeasyPrint and fontTools log every step at INFO; the server log keeps only their warnings."""
    import logging

    caplog.set_level(logging.INFO)
    body = pdf.render_pdf_sync("<html><body><p>回覧板の本文</p></body></html>", pdf.font_or_raise())
    assert body.startswith(b"%PDF")
    noisy = [r for r in caplog.records if r.name.split(".")[0] in ("weasyprint", "fontTools") and r.levelno < logging.WARNING]
    assert noisy == [], [f"{r.name}: {r.getMessage()[:80]}" for r in noisy[:5]]
