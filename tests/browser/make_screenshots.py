"""Phone screenshots for the README, made from the demo data so they stay true.

    make screenshots        # or: .venv/bin/python -m tests.browser.make_screenshots

Writes docs/screenshots/{homepage,board,read,receipts}.png (390×844 CSS px, scale 1, to stay small).
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.demo_site import ROOT, SLUG, DemoSite

OUT = ROOT / "docs" / "screenshots"


def shrink(path: Path) -> None:
    """128 colours are plenty for text on flat colours and make the PNG about half as big."""
    try:
        from PIL import Image
    except ImportError:  # Pillow comes with WeasyPrint; without it the PNG stays as Chromium wrote it
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=128)
    small.save(path, optimize=True)


def main() -> int:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with DemoSite(ROOT / "bench" / "out" / "screenshots-site") as site, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True, has_touch=True,
            locale="ja-JP",
        )
        page = context.new_page()
        shots = []

        def shoot(name: str, full_page: bool = False) -> None:
            path = OUT / f"{name}.png"
            page.screenshot(path=str(path), full_page=full_page)
            shrink(path)
            shots.append(path)

        page.goto(f"{site.url}/a/{SLUG}/")
        shoot("homepage")
        page.goto(f"{site.url}/a/{SLUG}/notices")
        shoot("board")
        page.goto(site.read_link)
        shoot("read", full_page=True)  # down to the 「読みました」 button
        # The officer signs in with the link an e-mail would carry, and lands on the receipts view.
        page.goto(site.officer_link)
        page.get_by_role("button", name="ログインする").click()
        page.wait_for_url(f"**/notices/{site.notice_id}/receipts")
        shoot("receipts")
        browser.close()
    for path in shots:
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
