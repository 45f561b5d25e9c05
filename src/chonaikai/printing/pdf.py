"""The paper 回覧板 as a PDF: WeasyPrint with a Japanese font embedded.

The font is named by its file rather than left to fontconfig, so every PDF embeds the same font or
we say plainly that it is missing. IPAex Gothic ships inside the package (``printing/fonts/``, the
IPA Font License v1.0 beside it: redistribution of the unmodified file is allowed), loaded by
``@font-face``: the PDF needs no system font. A system copy (Debian ``fonts-ipaexfont``) is only
a fallback for a build that left the file out.
WeasyPrint may only read that one file: a notice body can never make the server fetch a URL.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
from functools import lru_cache
from pathlib import Path

from chonaikai.web import STATIC_DIR

# The font shipped with the package first, then where Debian (fonts-ipaexfont-gothic), other
# distributions and a user install put it.
PACKAGE_FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT_DIRS: list[Path] = [
    PACKAGE_FONT_DIR,
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".local" / "share" / "fonts",
    Path.home() / ".fonts",
]
# WeasyPrint logs each rendering step (and fontTools each font subset) at INFO: a server log of
# progress lines hides what matters. Their warnings and errors still come through.
for _noisy in ("weasyprint", "weasyprint.progress", "fontTools"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)

FONT_FILES = ("ipaexg.ttf", "ipaexm.ttf")  # Gothic first: plainer on a photocopy
PRINT_CSS = STATIC_DIR / "css" / "print.css"

FONT_MISSING_MESSAGE = (
    "PDFを作るための日本語の文字（フォント）が、このサーバーに入っていません。"
    "管理者に「fonts-ipaexfont」を入れるよう伝えてください。"
    "それまでは、回覧板のページを開いてブラウザの「印刷」から印刷できます。"
)
RENDERER_MISSING_MESSAGE = (
    "PDFを作る仕組み（WeasyPrint と Pango）が、このサーバーで動いていません。"
    "管理者に伝えてください。それまでは、回覧板のページを開いてブラウザの「印刷」から印刷できます。"
)


class PdfUnavailable(RuntimeError):
    """The PDF cannot be made on this server; the message says why in plain Japanese."""


def find_japanese_font(dirs: list[Path] | None = None) -> Path | None:
    for directory in dirs if dirs is not None else FONT_DIRS:
        if not directory.is_dir():
            continue
        for name in FONT_FILES:
            found = sorted(directory.rglob(name))
            if found:
                return found[0]
    return None


@lru_cache(maxsize=1)
def _print_css() -> str:
    return PRINT_CSS.read_text(encoding="utf-8")


def _fetcher_class(allowed: set[str]):
    from weasyprint.urls import URLFetcher

    class OnlyTheseFiles(URLFetcher):
        def fetch(self, url, headers=None):  # type: ignore[no-untyped-def]
            if url not in allowed:
                raise ValueError(f"not fetched in a PDF: {url[:80]}")
            return super().fetch(url, headers)

    return OnlyTheseFiles


def render_pdf_sync(document_html: str, font: Path, images: frozenset[str] = frozenset()) -> bytes:
    """The PDF of ``document_html``. ``images``: the only other URLs it may read (the data: URLs
    of the notice's own images, made by us; never an address a notice body names)."""
    return _render(document_html, font, images).write_pdf()


def _render(document_html: str, font: Path, images: frozenset[str]):  # -> weasyprint Document
    try:
        from weasyprint import CSS, HTML
    except (ImportError, OSError) as exc:  # OSError: libpango is not installed
        raise PdfUnavailable(RENDERER_MISSING_MESSAGE) from exc
    fetcher = _fetcher_class({font.as_uri(), *images})()
    return HTML(string=document_html, url_fetcher=fetcher).render(
        stylesheets=[CSS(string=_print_css(), url_fetcher=fetcher)],
    )


def data_url(data: bytes, content_type: str) -> str:
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


def pdf_page_count(data: bytes) -> int | None:
    """Pages of an attached PDF, or None when it cannot be read (damaged, or locked with a password)."""
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            return None
        return len(reader.pages)
    except Exception:  # pypdf raises many kinds for a damaged file; the sheet lists it instead
        return None


def render_sheets_pdf_sync(
    document_html: str,
    font: Path,
    *,
    images: frozenset[str] = frozenset(),
    sheet_anchors: list[str] = (),  # type: ignore[assignment]
    appendix: list[bytes] = (),  # type: ignore[assignment]
    after_each: bool = True,
) -> bytes:
    """The 回覧板 PDF, with the attached PDFs (``appendix``) after each 班's sheet (``after_each``)
    or once after the last one. A sheet is found by its anchor (``id="sheet-…"``); a 班 whose
    list runs onto a second page keeps both pages before its attachments.

    pypdf joins the documents (WeasyPrint cannot embed another PDF's pages): that is why it is a
    runtime dependency."""
    document = _render(document_html, font, images)
    sheets_pdf = document.write_pdf()
    if not appendix:
        return sheets_pdf
    import pypdf

    starts: list[int] = []
    for anchor in sheet_anchors:
        for index, page in enumerate(document.pages):
            if anchor in page.anchors:
                starts.append(index)
                break
    reader = pypdf.PdfReader(io.BytesIO(sheets_pdf))
    attached = []
    for data in appendix:
        attached_reader = pypdf.PdfReader(io.BytesIO(data))
        if attached_reader.is_encrypted:
            attached_reader.decrypt("")
        attached.append(attached_reader)
    writer = pypdf.PdfWriter()

    def append_attachments() -> None:
        for attached_reader in attached:
            for page in attached_reader.pages:
                writer.add_page(page)

    starts = sorted(set(starts)) or [0]
    starts[0] = 0  # nothing comes before the first sheet
    bounds = [*starts, len(reader.pages)]
    for start, end in zip(bounds, bounds[1:], strict=False):
        for number in range(start, end):
            writer.add_page(reader.pages[number])
        if after_each:
            append_attachments()
    if not after_each:
        append_attachments()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def render_sheets_pdf(document_html: str, font: Path, **options) -> bytes:  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(lambda: render_sheets_pdf_sync(document_html, font, **options))


def font_family(font: Path) -> str:
    """The family name the @font-face rule gives the file (its own name, so the PDF says IPAex)."""
    return "IPAexMincho" if font.name == "ipaexm.ttf" else "IPAexGothic"


def font_or_raise() -> Path:
    font = find_japanese_font()
    if font is None:
        raise PdfUnavailable(FONT_MISSING_MESSAGE)
    return font


async def render_pdf(document_html: str, font: Path) -> bytes:
    """Rendering takes a few hundred milliseconds of CPU: keep it off the event loop."""
    return await asyncio.to_thread(render_pdf_sync, document_html, font)
