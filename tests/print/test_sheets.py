"""The print page per 班 and the list of 班: who is on which sheet, who is marked ★紙, who may print."""

from __future__ import annotations

import re

import pytest
import segno

from chonaikai.accounts.roles import Role
from tests.auth import sign_in_as
from tests.factories import make_association, make_household
from tests.print.rows import make_delivery, make_notice, make_town

NAMES = ("青木", "井上", "上田", "江藤", "大野", "加藤", "木村")


def sheet_names(html: str) -> list[str]:
    """Household names in the sheet tables, in order."""
    return [name for name in re.findall(r'<td class="col-no">\d+</td>\s*<td>([^<\s]+)', html)]


def paper_names(html: str) -> list[str]:
    return re.findall(r'<tr class="paper">\s*<td class="col-no">\d+</td>\s*<td>([^<\s]+)', html)


@pytest.fixture
async def town(tenant):
    return await make_town(tenant)


def url(town, suffix="", **query):
    base = f"/a/{town.tenant.slug}/notices/{town.notice['id']}/print{suffix}"
    if query:
        base += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return base


async def test_sheet_lists_only_that_han_and_marks_paper_households(client, town):
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, town.tenant)
    response = await client.get(url(town, han=town.han["1班"]))
    assert response.status_code == 200
    html = response.text
    assert sheet_names(html) == ["青木", "井上", "上田"]  # kana order; 江藤 moved out
    # 上田 is a LINE household whose delivery fell back to paper: it needs the paper too.
    assert paper_names(html) == ["青木", "上田"]
    assert html.count("★紙") == 2 + 1  # two rows and the legend under the table
    assert "一斉清掃のお知らせ" in html and "1班" in html
    assert "<svg" in html and "スマートフォンで" in html


async def test_qr_code_points_at_the_sheet_link_of_that_han(client, town):
    """Issue 15: the QR opens the notice for that 班 without signing in (not the notice page,
    which asks members-only readers to sign in)."""
    from chonaikai.printing.sheets import sheet_url

    await sign_in_as(client, "chair@example.jp", Role.CHAIR, town.tenant)
    html = (await client.get(url(town, han=town.han["1班"]))).text
    target = sheet_url(town.notice["id"], str(town.han["1班"]))
    assert target.startswith(f"http://testserver/sheet/{town.notice['id']}/{town.han['1班']}/")
    expected = segno.make(target, error="m").svg_inline(scale=3, border=2)
    path = re.search(r' d="([^"]+)"', expected).group(1)
    assert f' d="{path}"' in html
    assert target in html


async def test_paper_only_keeps_just_the_paper_households(client, town):
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, town.tenant)
    html = (await client.get(url(town, han=town.han["1班"], paper=1))).text
    assert sheet_names(html) == ["青木", "上田"]
    # Every 班 at once, paper only: 3班 has nobody on paper and gets no page.
    html = (await client.get(url(town, han="all", paper=1))).text
    assert html.count('<section class="sheet"') == 3  # 1班, 2班, 班なし
    assert sheet_names(html) == ["青木", "上田", "大野", "木村"]


async def test_all_han_prints_one_section_per_han(client, town):
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, town.tenant)
    html = (await client.get(url(town, han="all"))).text
    assert html.count('<section class="sheet"') == 4  # 1班, 2班, 3班 (empty), 班なし
    assert sheet_names(html) == ["青木", "井上", "上田", "大野", "加藤", "木村"]


async def test_index_counts_households_and_paper_households(client, town):
    await sign_in_as(client, "vice@example.jp", Role.VICE_CHAIR, town.tenant)
    response = await client.get(url(town))
    assert response.status_code == 200
    rows = re.findall(r'<th scope="row">([^<]+)</th>\s*<td>(\d+)</td>\s*<td>(\d+)</td>', response.text)
    assert rows == [("1班", "3", "2"), ("2班", "2", "1"), ("3班", "0", "0"), ("班なし", "1", "1")]
    assert f"han={town.han['2班']}&amp;paper=1" in response.text
    assert "紙の世帯は <strong>4 世帯</strong>" in response.text


async def test_han_leader_prints_only_their_own_han(client, town):
    await sign_in_as(client, "hancho1@example.jp", Role.HAN_LEADER, town.tenant, han_id=town.han["1班"])
    own = await client.get(url(town, han=town.han["1班"]))
    assert own.status_code == 200 and sheet_names(own.text) == ["青木", "井上", "上田"]
    other = await client.get(url(town, han=town.han["2班"]))
    assert other.status_code == 403
    assert "大野" not in other.text
    assert (await client.get(url(town, han="none"))).status_code == 403
    assert (await client.get(url(town, ".pdf", han=town.han["2班"]))).status_code == 403
    everything = await client.get(url(town, han="all"))
    assert sheet_names(everything.text) == ["青木", "井上", "上田"]
    index = await client.get(url(town))
    assert re.findall(r'<th scope="row">([^<]+)</th>', index.text) == ["1班"]


async def test_members_and_strangers_cannot_print(client, town):
    anonymous = await client.get(url(town, han=town.han["1班"]))
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/signin?next=")
    await sign_in_as(client, "member@example.jp", Role.MEMBER, town.tenant, household_id=town.households["青木"])
    assert (await client.get(url(town, han=town.han["1班"]))).status_code == 403
    assert (await client.get(url(town))).status_code == 403


async def test_another_associations_notice_and_officer_get_nothing(client, city, town):
    other = await make_association(city, slug="other", han=["1班"])
    other_notice = await make_notice(other, title="よその町内会のお知らせ")
    stranger = await make_household(other, "佐藤", "1班", channel="paper")
    await make_delivery(other, other_notice["id"], stranger["id"], "paper")
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, town.tenant)
    # Their notice through our address: not found. Our 1班 sheet never shows their households.
    assert (await client.get(f"/a/{town.tenant.slug}/notices/{other_notice['id']}/print")).status_code == 404
    html = (await client.get(url(town, han="all"))).text
    assert "佐藤" not in html and "よその" not in html
    # Our chair is nobody in the other association.
    assert (await client.get(f"/a/other/notices/{other_notice['id']}/print")).status_code == 403


async def test_notice_for_chosen_han_prints_only_those(client, tenant):
    town = await make_town(tenant, title="2班の溝掃除", audience="han", han_names=["2班"])
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    index = await client.get(url(town))
    assert re.findall(r'<th scope="row">([^<]+)</th>', index.text) == ["2班"]
    refused = await client.get(url(town, han=town.han["1班"]))
    assert refused.status_code == 400 and "その班の回覧板はありません" in refused.text
    assert sheet_names((await client.get(url(town, han="all"))).text) == ["大野", "加藤"]


async def test_bad_han_value_gets_a_plain_message(client, town):
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, town.tenant)
    response = await client.get(url(town, han="abc"))
    assert response.status_code == 400
    assert "班の指定が正しくありません" in response.text


async def test_body_is_escaped_and_attachments_listed(client, tenant):
    from datetime import UTC, datetime

    from chonaikai.notices.tables import Attachment

    town = await make_town(tenant, body='<script>alert(1)</script>\n\n<img src=x onerror="alert(2)">')
    await Attachment.insert(
        tenant.new(
            Attachment, notice=town.notice["id"], filename="地図.pdf", content_type="application/pdf",
            size_bytes=1_572_864, storage_key="k1", created_at=datetime.now(UTC),
        )
    )
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    html = (await client.get(url(town, han=town.han["1班"]))).text
    assert "alert(1)" not in html.replace("&lt;script&gt;alert(1)", "") and "<img" not in html
    assert "地図.pdf（PDF・1.5MB）" in html


async def test_body_markdown_is_rendered_as_on_the_board(client, tenant):
    town = await make_town(tenant, body="**持ち物**\n\n- 軍手\n- ごみ袋")
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    html = (await client.get(url(town, han=town.han["1班"]))).text
    assert "<strong>持ち物</strong>" in html
    assert "<li>軍手</li>" in html and "<li>ごみ袋</li>" in html


async def test_page_has_no_navigation_and_links_print_css(client, town):
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, town.tenant)
    html = (await client.get(url(town, han=town.han["1班"]))).text
    assert "site-header" not in html and "site-footer" not in html
    assert "css/print.css" in html


async def test_officers_only_notice_has_no_sheet(client, tenant):
    town = await make_town(tenant, title="役員会のお知らせ", audience="officers")
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    index = await client.get(url(town))
    assert index.status_code == 200 and "役員向けなので、班に回す回覧板はありません" in index.text
    refused = await client.get(url(town, han=town.han["1班"]))
    assert refused.status_code == 400 and "青木" not in refused.text


async def test_before_publishing_the_sheet_marks_whom_the_outbox_will_put_on_paper(client, tenant):
    from datetime import UTC, datetime

    from chonaikai.line.tables import LineLink

    notice = await make_notice(tenant, title="下書き", status="draft", published_at=None)
    no_address = await make_household(tenant, "小林", "2班", channel="email", email="", kana="こばやし")
    await make_household(tenant, "斉藤", "2班", channel="email", email="saito@example.jp", kana="さいとう")
    await make_household(tenant, "清水", "2班", channel="line", kana="しみず")
    linked = await make_household(tenant, "杉山", "2班", channel="line", kana="すぎやま")
    await LineLink.insert(
        tenant.new(LineLink, household=linked["id"], channel_id="c1", line_user_id="U1", linked_at=datetime.now(UTC))
    )
    assert no_address["channel"] == "email"
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    han2 = (await client.get(f"/a/{tenant.slug}/notices/{notice['id']}/print")).text
    assert re.findall(r'<th scope="row">2班</th>\s*<td>(\d+)</td>\s*<td>(\d+)</td>', han2) == [("4", "2")]
    html = (await client.get(f"/a/{tenant.slug}/notices/{notice['id']}/print?han=all")).text
    assert paper_names(html) == ["小林", "清水"]
