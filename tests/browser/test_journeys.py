"""Journeys as people make them, in Chromium on a phone and on a desktop, with and without JavaScript.

Every page on the way is checked with axe-core (WCAG 2.1 AA). Screenshots of failures go to
tests/artifacts/.
"""

from __future__ import annotations

import pytest

from chonaikai.accounts.roles import Role
from chonaikai.accounts.sessions import SESSION_COOKIE
from tests.auth import make_account
from tests.browser.helpers import link_in, sign_in_by_email

pytestmark = pytest.mark.browser

OFFICER = "kaicho@example.jp"


@pytest.mark.parametrize("kind,javascript", [("phone", True), ("desktop", True), ("phone", False)],
                         ids=["phone", "desktop", "phone-no-js"])
async def test_officer_signs_in_with_the_emailed_link(new_context, mail_sink, tenant, kind, javascript):
    await make_account(OFFICER, Role.CHAIR, tenant)
    page = await (await new_context(kind, javascript=javascript)).new_page()
    await sign_in_by_email(page, mail_sink, OFFICER, "/a/sakura/", check_a11y=javascript)
    # Signed in: the session cookie is set and the page offers to sign out.
    cookies = {c["name"] for c in await page.context.cookies()}
    assert SESSION_COOKIE in cookies, cookies
    # The link is used up: opening it again says so kindly.
    message = mail_sink.to(OFFICER)[-1]
    response = await page.goto(link_in(message, "/signin/"))
    assert response.status == 410
    assert "このリンクは使えません" in await page.locator("h1").inner_text()
