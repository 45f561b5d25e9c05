"""Board search through the text index: kana readings, and the index following edits, archiving and deletion."""

from chonaikai.db import is_postgres
from chonaikai.notices import logic, search
from chonaikai.notices.render import fold
from chonaikai.notices.tables import Notice
from tests.notices.helpers import post_notice

OFFICER = logic.Viewer(authenticated=True, member=True, officer=True)
ANYONE = logic.Viewer()


def titles(board):
    return sorted(card.title for card in board.cards)


async def found(tenant, q, viewer=OFFICER):
    return titles(await logic.list_notices(tenant, viewer, q=q))


def test_reading_of_association_words():
    assert search.reading("一斉清掃") == "いっせいせいそう"
    assert "ごみとうばん" in search.reading("ごみ当番のお知らせ")
    assert "しゅうせきしょ" in search.reading("ごみ集積所の掃除")
    assert search.reading("AEDの講習会").startswith("aedの")  # words without kanji stay as written
    assert search.reading("おしらせ") == ""  # nothing to read: no kanji


async def test_a_kana_reading_finds_the_kanji_notice(client, tenant):
    await post_notice(tenant, "一斉清掃のお知らせ", body="公園に集まってください。", visibility="public")
    await post_notice(tenant, "総会のご案内", body="出欠をお知らせください。", visibility="public")
    assert await found(tenant, "せいそう") == ["一斉清掃のお知らせ"]
    assert await found(tenant, "セイソウ") == ["一斉清掃のお知らせ"]  # katakana folds to hiragana
    assert await found(tenant, "いっせいせいそう") == ["一斉清掃のお知らせ"]
    assert await found(tenant, "こうえん") == ["一斉清掃のお知らせ"]  # the body is read too
    assert await found(tenant, "そうかい") == ["総会のご案内"]
    assert await found(tenant, "清掃") == ["一斉清掃のお知らせ"]  # two characters: no trigram, still found
    assert await found(tenant, "一斉清掃") == ["一斉清掃のお知らせ"]
    page = await client.get("/a/sakura/notices/", params={"q": "せいそう"})  # the public board too
    assert "一斉清掃のお知らせ" in page.text and "総会のご案内" not in page.text


async def test_the_index_follows_an_edit(tenant):
    notice_id = await post_notice(tenant, "防災訓練のお知らせ", body="消火器の使い方を練習します。")
    assert await found(tenant, "しょうかき") == ["防災訓練のお知らせ"]
    notice = await logic.get_notice(tenant, notice_id)
    values = logic.form_from_notice(notice)
    values.title = "夏祭りのお知らせ"
    values.body = "盆踊りをします。"
    await logic.update_notice(tenant, notice_id, values)
    assert await found(tenant, "防災訓練") == []
    assert await found(tenant, "しょうかき") == []
    assert await found(tenant, "なつまつり") == ["夏祭りのお知らせ"]
    assert await found(tenant, "盆踊り") == ["夏祭りのお知らせ"]
    assert await indexed(tenant, "なつまつり") == [notice_id]
    assert await indexed(tenant, "しょうかき") == []


async def test_the_index_follows_an_archive_and_a_deletion(client, tenant):
    kept = await post_notice(tenant, "会費納入のお願い", body="年会費は三千円です。", visibility="public")
    await logic.archive_notice(tenant, kept)
    # Searching still finds archived notices (past notices must be easy to find again) ...
    assert await found(tenant, "ねんかいひ") == ["会費納入のお願い"]
    assert await found(tenant, "ねんかいひ", ANYONE) == ["会費納入のお願い"]
    # ... while the board without a search shows only what is published.
    assert titles(await logic.list_notices(tenant, OFFICER)) == []
    await logic.unarchive_notice(tenant, kept)
    assert titles(await logic.list_notices(tenant, OFFICER)) == ["会費納入のお願い"]
    draft = await post_notice(tenant, "下書きの回覧板", publish=False)
    assert await indexed(tenant, "かいらんばん") == [draft]
    assert await logic.delete_draft(tenant, draft)
    assert await indexed(tenant, "かいらんばん") == []


async def test_rows_saved_before_readings_get_them_from_the_migration_backfill(tenant):
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    row = tenant.new(Notice, title="防犯パトロール", body="夜回りをします。", status="published",
                     published_at=now, created_at=now, updated_at=now)
    await row.save()
    assert await found(tenant, "よまわり") == []
    await search.backfill(Notice)
    assert await found(tenant, "よまわり") == ["防犯パトロール"]


async def indexed(tenant, word: str) -> list[int]:
    """The ids the text index itself holds for ``word`` (not the board query)."""
    word = fold(word)
    if is_postgres():
        rows = await Notice.raw(
            "SELECT id FROM notice WHERE association = {} AND search_text LIKE {} ORDER BY id",
            tenant.id, f"%{word}%",
        )
        plan = await Notice.raw("SELECT indexdef FROM pg_indexes WHERE indexname = 'notice_search_trgm'")
        assert "gin_trgm_ops" in plan[0]["indexdef"]
        return [row["id"] for row in rows]
    rows = await Notice.raw(
        "SELECT rowid AS id FROM notice_fts WHERE notice_fts MATCH {} ORDER BY rowid", f'"{word}"'
    )
    return [row["id"] for row in rows]


async def test_a_visitors_board_search_is_kept_and_forgotten_after_a_write(settings, tenant):
    """Board searches of visitors without a session are kept like the board (bench/board.py), and a
    write through the app forgets them at once; a signed-in member's search is never kept."""
    import httpx

    from tests.notices.helpers import sign_in_member
    from tests.test_page_cache import cached_app, publish_as_officer

    app, cache = cached_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as visitor:
        await post_notice(tenant, "一斉清掃のお知らせ", visibility="public")
        first = await visitor.get("/a/sakura/notices/", params={"q": "せいそう"})
        assert "一斉清掃のお知らせ" in first.text
        assert any("/a/sakura/notices?q=" in key for key in cache._pages), list(cache._pages)
        await post_notice(tenant, "河川清掃のお知らせ", visibility="public")  # unseen by this app: kept copy
        assert "河川清掃" not in (await visitor.get("/a/sakura/notices/", params={"q": "せいそう"})).text
        await publish_as_officer(app, tenant, "公園清掃のお知らせ", "9時に公園へ", "行事")  # through the app
        after = await visitor.get("/a/sakura/notices/", params={"q": "せいそう"})
        assert "公園清掃のお知らせ" in after.text and "河川清掃のお知らせ" in after.text
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as member:
        await member.get("/signin")  # a page never kept: it sets the CSRF cookie
        await sign_in_member(member, tenant)
        kept = len(cache)
        assert "公園清掃" in (await member.get("/a/sakura/notices/", params={"q": "こうえん"})).text
        assert len(cache) == kept


# --- one page of the matches and their count (issue 20: no match outside the page is read) --


async def post_board_of_matches(tenant):
    """23 notices holding 清掃 (urgent, pinned, archived, members-only among them), 3 without."""
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)
    for i in range(23):
        notice_id = await post_notice(
            tenant, f"清掃のお知らせ{i:02d}", body="公園に集まってください。", now=t0 + timedelta(hours=i),
            visibility="members" if i % 3 == 0 else "public", urgent=i == 5, pinned=i == 7,
        )
        if i == 2:
            await logic.archive_notice(tenant, notice_id)
    for i in range(3):
        await post_notice(tenant, f"総会のご案内{i}", body="出欠をお知らせください。", visibility="public",
                          now=t0 + timedelta(hours=30 + i))


def board_order(numbers):
    """Titles in the board's order: urgent, pinned, then newest first."""
    return [f"清掃のお知らせ{i:02d}" for i in sorted(numbers, key=lambda i: (i != 5, i != 7, -i))]


async def every_page(tenant, viewer, q, per_page):
    first = await logic.list_notices(tenant, viewer, q=q, per_page=per_page)
    boards = [first] + [
        await logic.list_notices(tenant, viewer, q=q, page=page, per_page=per_page)
        for page in range(2, first.pages + 1)
    ]
    return boards


# 清掃 and 掃 are too short for trigrams (two characters: through the trigrams that begin with
# them; one: a scan of the association's rows), せいそう is the reading, the last a phrase.
SEARCHES = ["清掃", "掃", "せいそう", "清掃のお知らせ"]


async def test_a_search_is_paged_in_board_order_and_counted(tenant):
    await post_board_of_matches(tenant)
    for q in SEARCHES:
        boards = await every_page(tenant, OFFICER, q, per_page=10)
        assert [(b.page, b.pages, b.total, b.has_next, len(b.cards)) for b in boards] == [
            (1, 3, 23, True, 10), (2, 3, 23, True, 10), (3, 3, 23, False, 3),
        ], q
        assert [card.title for b in boards for card in b.cards] == board_order(range(23)), q
        # A page past the last shows the last one (its number and count stay right).
        beyond = await logic.list_notices(tenant, OFFICER, q=q, page=99, per_page=10)
        assert (beyond.page, beyond.pages, beyond.total) == (3, 3, 23)
        assert [card.title for card in beyond.cards] == [card.title for card in boards[2].cards]


async def test_a_page_read_with_the_count_known_is_the_same_page(tenant):
    """Signed-in searches keep the count of a search and read its other pages without it."""
    await post_board_of_matches(tenant)
    for q in SEARCHES:
        for viewer, total in ((OFFICER, 23), (ANYONE, 15)):
            for page in (1, 2, 3, 99):
                counted = await logic.list_notices(tenant, viewer, q=q, page=page, per_page=7)
                known = await logic.list_notices(tenant, viewer, q=q, page=page, per_page=7, total=total)
                assert counted.total == total and known == counted, (q, page)
    nothing = await logic.list_notices(tenant, OFFICER, q="花火大会", page=3, total=0)
    assert (nothing.total, nothing.page, nothing.pages, nothing.has_next, nothing.cards) == (0, 1, 1, False, [])


async def test_the_count_and_pages_are_those_of_what_the_viewer_may_read(tenant):
    await post_board_of_matches(tenant)
    public = [i for i in range(23) if i % 3]  # 15, the archived one (2) included
    for q in SEARCHES:
        boards = await every_page(tenant, ANYONE, q, per_page=4)
        assert [b.total for b in boards] == [len(public)] * 4, q
        assert [card.title for b in boards for card in b.cards] == board_order(public), q
    by_category = await logic.list_notices(tenant, OFFICER, q="清掃", category="ごみ")
    assert (by_category.total, by_category.pages, by_category.cards) == (0, 1, [])
    nothing = await logic.list_notices(tenant, OFFICER, q="花火大会", page=3)
    assert (nothing.total, nothing.page, nothing.pages, nothing.has_next, nothing.cards) == (0, 1, 1, False, [])


async def test_another_associations_notices_are_neither_shown_nor_counted(city, tenant):
    from tests.factories import make_association

    other = await make_association(city, slug="kaede", name="テスト楓町内会")
    await post_notice(other, "清掃のお知らせ（楓）", visibility="public")
    await post_notice(tenant, "清掃のお知らせ（桜）", visibility="public")
    for q in SEARCHES[:3]:
        board = await logic.list_notices(tenant, ANYONE, q=q)
        assert (board.total, titles(board)) == (1, ["清掃のお知らせ（桜）"]), q


async def test_two_character_words_anywhere_in_the_text_or_its_reading(tenant):
    await post_notice(tenant, "総会", body="出欠", visibility="public")
    assert search.search_text("総会", "出欠").endswith("\n")  # so the last two characters begin a trigram
    assert await found(tenant, "総会") == ["総会"]
    assert await found(tenant, "出欠") == ["総会"]  # the end of the text
    assert await found(tenant, "そう") == ["総会"]  # the reading (そうかい)
    assert await found(tenant, "けつ") == ["総会"]  # the very end of the reading (しゅっけつ)
    assert await found(tenant, "会出") == []  # the title's end and the body's start are not one word
    assert await found(tenant, '"総') == []  # a quote is an ordinary character, not FTS5 syntax
    if not is_postgres():
        assert "notice_fts_terms" in search.word_clause("出欠")[0]  # the index, not a scan
