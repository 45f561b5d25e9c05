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
