"""The paper 回覧板 as a PDF: WeasyPrint with a Japanese font embedded.

The font is named by its file (IPAex Gothic from the Debian package ``fonts-ipaexfont``) rather
than left to fontconfig, so every PDF embeds the same font or we say plainly that it is missing.
WeasyPrint may only read that one file: a notice body can never make the server fetch a URL.
"""

from __future__ import annotations

import asyncio
import logging
from functools import lru_cache
from pathlib import Path

from chonaikai.web import STATIC_DIR

# Where Debian (fonts-ipaexfont-gothic), other distributions and a user install put the font.
FONT_DIRS: list[Path] = [
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


def render_pdf_sync(document_html: str, font: Path) -> bytes:
    try:
        from weasyprint import CSS, HTML
    except (ImportError, OSError) as exc:  # OSError: libpango is not installed
        raise PdfUnavailable(RENDERER_MISSING_MESSAGE) from exc
    fetcher = _fetcher_class({font.as_uri()})()
    return HTML(string=document_html, url_fetcher=fetcher).write_pdf(
        stylesheets=[CSS(string=_print_css(), url_fetcher=fetcher)],
    )


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
