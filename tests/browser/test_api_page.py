"""/schema in Chromium: the API viewer renders with our CSP intact (no violation) and lists the API."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


async def test_the_api_page_renders_without_a_csp_violation(desktop):
    page = desktop
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None)
    await page.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    response = await page.goto("/schema")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    operations = page.locator(".opblock")
    await operations.first.wait_for()
    paths = await page.locator(".opblock-summary-path").all_inner_texts()
    assert len(paths) >= 7 and all(path.strip().startswith("/api/v1/") for path in paths), paths
    assert "お知らせを出す" in await page.locator("main, body").first.inner_text()
    violations = await page.evaluate("window.__csp")
    assert not violations and not refused, (violations, refused)
    await page.screenshot(path="/tmp/officer-schema.png")
