"""Page weight: what a cold load costs an old phone on a slow line.

Budget for the page a member opens most (the read page): ≤ 40 KB over the wire in total, of which
HTML + CSS ≤ 14 KB (what fits the first round trips), scripts deferred so text shows first.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

TOTAL_BUDGET = 40 * 1024
HTML_CSS_BUDGET = 14 * 1024


async def cold_load_weight(browser, url: str) -> list[dict]:
    """Every response of a cold load (fresh context, empty cache) with its bytes on the wire."""
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = await context.new_page()
        responses = []
        page.on("response", lambda response: responses.append(response))
        await page.goto(url, wait_until="networkidle")
        files = []
        for response in responses:
            sizes = await response.request.sizes()
            headers = await response.all_headers()
            files.append(
                {
                    "url": response.url,
                    "type": response.request.resource_type,
                    "encoding": headers.get("content-encoding", "identity"),
                    "bytes": sizes["responseBodySize"],
                    "headers": sizes["responseHeadersSize"],
                }
            )
        scripts = await page.evaluate(
            "[...document.scripts].map(s => ({src: s.src, defer: s.defer, async: s.async, module: s.type === 'module'}))"
        )
        return files, scripts
    finally:
        await context.close()


def report(files: list[dict]) -> str:
    rows = sorted(files, key=lambda f: f["bytes"], reverse=True)
    return "\n".join(f"{f['bytes']:>8} B  {f['encoding']:<8} {f['type']:<10} {f['url']}" for f in rows)


async def check_weight(browser, url: str) -> tuple[int, int]:
    files, scripts = await cold_load_weight(browser, url)
    total = sum(f["bytes"] for f in files)
    html_css = sum(f["bytes"] for f in files if f["type"] in ("document", "stylesheet"))
    print(f"page weight of {url}: total {total} B (budget {TOTAL_BUDGET}), HTML+CSS {html_css} B "
          f"(budget {HTML_CSS_BUDGET})\n{report(files)}")
    assert files and files[0]["type"] == "document"
    assert total <= TOTAL_BUDGET, f"cold load of {url} fetches {total} B > {TOTAL_BUDGET} B:\n{report(files)}"
    assert html_css <= HTML_CSS_BUDGET, (
        f"HTML + CSS of {url} weigh {html_css} B > {HTML_CSS_BUDGET} B:\n{report(files)}"
    )
    blocking = [s["src"] or "(inline)" for s in scripts if not (s["defer"] or s["async"] or s["module"])]
    assert not blocking, f"scripts that block the first paint on {url}: {blocking}"
    assert any("htmx" in s["src"] and s["defer"] for s in scripts), f"htmx is not loaded with defer on {url}"
    big_text = [f for f in files if f["type"] in ("document", "stylesheet", "script")
                and f["encoding"] != "gzip" and f["bytes"] > 1024]
    assert not big_text, f"text files sent without gzip:\n{report(big_text)}"
    return total, html_css


async def published_notice_token(tenant) -> str:
    """A real read link: a published notice with a long plain-Japanese body, delivered to one household."""
    from chonaikai.delivery.tables import Delivery
    from chonaikai.notices import logic
    from tests.factories import make_household

    await make_household(tenant, "見本 太郎", han="1班", email="taro@example.jp", channel="email")
    body = "\n\n".join(
        ["会員の皆さまへ", "今年度の定期総会を次のとおり開きます。お忙しいところ恐れ入りますが、ご出席をお願いいたします。"]
        + [f"- 議題{i}：令和{i}年度の事業報告と決算、事業計画と予算について" for i in range(1, 9)]
        + ["ご都合で出席できない方は、委任状を5月15日までに班長へお渡しください。"]
    )
    notice_id = await logic.create_notice(
        tenant,
        logic.NoticeInput(title="定期総会のお知らせ", body=body, category="行事", needs_confirmation=True),
        author_title="会長",
    )
    assert await logic.publish_notice(tenant, notice_id)
    row = await tenant.select(Delivery, Delivery.token).first()
    return row["token"]


async def test_read_page_weight_is_within_budget(browser, live_server, tenant):
    token = await published_notice_token(tenant)
    await check_weight(browser, f"{live_server.url}/r/{token}")


async def test_homepage_weight_is_within_budget(browser, live_server, tenant):
    await check_weight(browser, f"{live_server.url}/a/sakura/")
