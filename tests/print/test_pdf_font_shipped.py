"""A fresh machine has no Japanese font: the PDF must still embed one, the one shipped in the package.

Fontconfig reads its configuration once per process, so the rendering runs in a child process
whose ``FONTCONFIG_FILE`` names a configuration with no font directory at all (and whose HOME is
empty, so no user font is found either).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pypdf

from chonaikai.printing import pdf
from tests.print.test_pdf import embedded_fonts

CHILD = r"""
import sys
from chonaikai.printing import pdf

font = pdf.font_or_raise()
assert font.parent == pdf.PACKAGE_FONT_DIR, font
family = pdf.font_family(font)
document = (
    "<html><head><style>"
    f'@font-face {{ font-family: "{family}"; src: url("{font.as_uri()}"); }}'
    f'html, body {{ font-family: "{family}", sans-serif; }}'
    "</style></head><body><h1>一斉清掃のお知らせ</h1><p>回覧板 ★紙 読みました</p></body></html>"
)
sys.stdout.buffer.write(pdf.render_pdf_sync(document, font))
"""


def empty_fontconfig(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n'
        f"<fontconfig><cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>\n"
    )
    home = tmp_path / "home"
    home.mkdir()
    return {**os.environ, "FONTCONFIG_FILE": str(config), "FONTCONFIG_PATH": str(tmp_path),
            "HOME": str(home), "XDG_DATA_HOME": str(home), "XDG_CONFIG_HOME": str(home)}


def test_the_font_and_its_licence_ship_in_the_package():
    assert (pdf.PACKAGE_FONT_DIR / "ipaexg.ttf").stat().st_size > 1_000_000
    licence = (pdf.PACKAGE_FONT_DIR / "IPA_Font_License_Agreement_v1.0.txt").read_text(encoding="utf-8")
    assert "IPA Font License Agreement v1.0" in licence and "IPAフォントライセンスv1.0" in licence


def test_pdf_renders_with_no_system_font_and_embeds_the_shipped_one(tmp_path):
    env = empty_fontconfig(tmp_path)
    if shutil.which("fc-list"):  # the configuration really shows no font at all
        listed = subprocess.run(["fc-list"], env=env, capture_output=True, text=True, check=True)
        assert listed.stdout.strip() == ""
    child = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, timeout=120)
    assert child.returncode == 0, child.stderr.decode()[-2000:]
    reader = pypdf.PdfReader(io.BytesIO(child.stdout))
    fonts = embedded_fonts(reader)
    assert fonts and all(embedded and "IPAexGothic" in name for name, embedded in fonts), fonts
    text = reader.pages[0].extract_text()
    assert "一斉清掃のお知らせ" in text and "読みました" in text
