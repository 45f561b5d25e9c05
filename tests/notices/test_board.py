"""The board: order, search by words (Japanese substrings), categories, pages, unread marks."""

from datetime import UTC, datetime, timedelta

from chonaikai.accounts.roles import Role
from chonaikai.notices import logic
from tests.auth import sign_in_as
from tests.notices.helpers import post_notice, sign_in_member

T0 = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)


def titles(board):
    return [card.title for card in board.cards]


async def test_newest_first_with_urgent_and_pinned_on_top(tenant):
    await post_notice(tenant, "古いお知らせ", now=T0)
    await post_notice(tenant, "大切なお知らせ", pinned=True, now=T0 + timedelta(days=1))
    await post_notice(tenant, "急ぎのお知らせ", urgent=True, now=T0 + timedelta(days=2))
    await post_notice(tenant, "新しいお知らせ", now=T0 + timedelta(days=3))
    board = await logic.list_notices(tenant, logic.Viewer(authenticated=True, member=True, officer=True))
    assert titles(board) == ["急ぎのお知らせ", "大切なお知らせ", "新しいお知らせ", "古いお知らせ"]
    viewer = logic.Viewer(authenticated=True, member=True, officer=True)
    assert titles(await logic.list_notices(tenant, viewer, q="お知らせ")) == titles(board)  # searching keeps the order
    second = await logic.list_notices(tenant, viewer, per_page=3, page=2)
    assert titles(second) == ["古いお知らせ"] and not second.has_next


async def test_search_finds_japanese_words_inside_title_and_body(client, tenant):
    await post_notice(tenant, "一斉清掃のお知らせ", body="公園に集合してください。", visibility="public")
    await post_notice(tenant, "防災訓練", body="消火器の使い方を練習します。", visibility="public")
    await post_notice(tenant, "100%参加のお願い", body="会費_納入", visibility="public")
    archived = await post_notice(tenant, "昨年の清掃", body="公園", visibility="public")
    await logic.archive_notice(tenant, archived)

    async def search(q):
        response = await client.get("/a/sakura/notices/", params={"q": q})
        assert response.status_code == 200
        return response.text

    page = await search("清掃")
    assert "一斉清掃のお知らせ" in page and "昨年の清掃" in page  # past notices are found again
    assert "防災訓練" not in page
    assert "2件" in page
    page = await search("消火器")  # a word in the body only
    assert "防災訓練" in page and "一斉清掃" not in page
    page = await search("清掃　公園")  # two words, full-width space: both must match
    assert "一斉清掃のお知らせ" in page and "防災訓練" not in page
    page = await search("100%")  # % and _ are ordinary characters, not wildcards
    assert "100%参加のお願い" in page and "一斉清掃" not in page
    page = await search("費_納")
    assert "100%参加のお願い" in page
    assert "見つかりませんでした" in await search("花火")


async def test_search_ignores_case_of_latin_letters(tenant):
    await post_notice(tenant, "AEDの講習会")
    viewer = logic.Viewer(authenticated=True, member=True, officer=True)
    assert titles(await logic.list_notices(tenant, viewer, q="aed")) == ["AEDの講習会"]


async def test_search_respects_visibility(client, tenant):
    await post_notice(tenant, "会員向けの清掃", visibility="members")
    page = await client.get("/a/sakura/notices/", params={"q": "清掃"})
    assert "会員向けの清掃" not in page.text


async def test_filter_by_category_and_htmx_fragment(client, tenant):
    await post_notice(tenant, "ごみの出し方", category="ごみ", visibility="public")
    await post_notice(tenant, "夏祭り", category="行事", visibility="public")
    page = await client.get("/a/sakura/notices/", params={"category": "ごみ"})
    assert "ごみの出し方" in page.text and "夏祭り" not in page.text
    fragment = await client.get(
        "/a/sakura/notices/", params={"category": "行事"}, headers={"HX-Request": "true", "HX-Target": "board"}
    )
    assert fragment.text.startswith('<div id="board">')
    assert "夏祭り" in fragment.text and "ごみの出し方" not in fragment.text


async def test_pages(client, tenant):
    for i in range(25):
        await post_notice(tenant, f"お知らせ{i:02d}", visibility="public", now=T0 + timedelta(hours=i))
    first = await client.get("/a/sakura/notices/")
    assert "お知らせ24" in first.text and "お知らせ04" not in first.text and "1ページ目" in first.text
    assert "次のページ" in first.text and "前のページ" not in first.text
    second = await client.get("/a/sakura/notices/", params={"page": 2})
    assert "お知らせ04" in second.text and "お知らせ24" not in second.text
    assert "次のページ" not in second.text and "前のページ" in second.text
    beyond = await client.get("/a/sakura/notices/", params={"page": 99})
    assert beyond.status_code == 200 and "最初のページへ" in beyond.text
    # Searching counts the matches, so it knows the number of pages.
    found = await client.get("/a/sakura/notices/", params={"q": "お知らせ", "page": 99})
    assert "25件" in found.text and "2 / 2 ページ" in found.text and "お知らせ00" in found.text


async def test_unread_is_marked_per_household_until_opened(client, tenant):
    first = await post_notice(tenant, "一つ目", visibility="members")
    second = await post_notice(tenant, "二つ目", visibility="members")
    household_id = await sign_in_member(client, tenant, "1班")
    page = await client.get("/a/sakura/notices/")
    assert page.text.count("badge-unread") == 2
    await client.get(f"/a/sakura/notices/{first}")
    await client.get(f"/a/sakura/notices/{first}")  # twice: still one read mark
    viewer = logic.Viewer(authenticated=True, member=True, household_id=household_id)
    assert await logic.read_notice_ids(tenant, viewer, [first, second]) == {first}
    board = await logic.list_notices(tenant, viewer)
    assert {card.title: card.unread for card in board.cards} == {"一つ目": False, "二つ目": True}


async def test_unread_for_an_officer_without_a_household_is_per_account(client, tenant):
    notice_id = await post_notice(tenant, "役員会", audience="officers")
    account_id = await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    assert "badge-unread" in (await client.get("/a/sakura/notices/")).text
    await client.get(f"/a/sakura/notices/{notice_id}")
    assert "badge-unread" not in (await client.get("/a/sakura/notices/")).text
    viewer = logic.Viewer(authenticated=True, account_id=account_id, officer=True)
    assert await logic.read_notice_ids(tenant, viewer, [notice_id]) == {notice_id}


async def test_anonymous_visitors_see_no_unread_marks(client, tenant):
    await post_notice(tenant, "公開", visibility="public")
    page = await client.get("/a/sakura/notices/")
    assert "公開" in page.text and "badge-unread" not in page.text


async def test_search_folds_width_case_and_kana(client, tenant):
    await post_notice(tenant, "ゴミ当番のお知らせ", body="２０２６年の当番表です。ＡＥＤの場所も載せました。", visibility="public")
    await post_notice(tenant, "夏祭り", body="ごみは持ち帰ってください。", visibility="public")
    viewer = logic.Viewer(authenticated=True, member=True, officer=True)

    async def found(q):
        return sorted(titles(await logic.list_notices(tenant, viewer, q=q)))

    assert await found("ごみ") == ["ゴミ当番のお知らせ", "夏祭り"]  # hiragana finds katakana too
    assert await found("ゴミ") == ["ゴミ当番のお知らせ", "夏祭り"]
    assert await found("2026") == ["ゴミ当番のお知らせ"]  # half width finds full width
    assert await found("aed") == ["ゴミ当番のお知らせ"]
    assert await found("ｺﾞﾐ当番") == ["ゴミ当番のお知らせ"]  # half-width katakana


async def test_rows_written_elsewhere_are_still_found_by_their_raw_text(tenant):
    from datetime import UTC, datetime

    from chonaikai.notices.tables import Notice

    now = datetime.now(UTC)
    await tenant.new(Notice, title="市からの回覧", body="防災マップ", status="published", published_at=now,
                     created_at=now, updated_at=now).save()  # no search_text, as a city circular might be
    viewer = logic.Viewer(authenticated=True, member=True, officer=True)
    assert titles(await logic.list_notices(tenant, viewer, q="防災マップ")) == ["市からの回覧"]
