"""Signed-in board and notice pages built from pieces kept per level (notices/signed_in.py,
shared_pieces.py), with the keeping switched on: one reader's name, CSRF token, unread marks
or 「読みました」 never reach another, and the shared part is rendered for a level, not a person."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from chonaikai.accounts.roles import Role
from chonaikai.accounts.signed_in_cache import signed_in_cache
from chonaikai.app import CSRF_COOKIE
from chonaikai.notices.logic import known_reads, read_marks
from chonaikai.notices.shared_pieces import shared_pieces
from chonaikai.notices.signed_in import SharedBoard, SharedNotice
from chonaikai.notices.tables import Notice
from tests.auth import csrf_headers, sign_in_as
from tests.delivery.helpers import make_notice
from tests.factories import make_household
from tests.notices.helpers import post_notice


@pytest.fixture
async def kept():
    shared_pieces.seconds = 60
    signed_in_cache.seconds = 1.0
    shared_pieces.forget(None)
    signed_in_cache.forget_all()
    yield shared_pieces
    await read_marks.flush()
    shared_pieces.seconds = None
    signed_in_cache.seconds = None
    shared_pieces.forget(None)
    signed_in_cache.forget_all()
    known_reads.clear()


@asynccontextmanager
async def member(client, tenant, email: str, han: str) -> AsyncIterator[httpx.AsyncClient]:
    """A member signed in with their own account and household (in ``han``)."""
    household = await make_household(tenant, email.split("@")[0], han=han)
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as reader:
        await sign_in_as(reader, email, Role.MEMBER, tenant, household_id=household["id"])
        yield reader


def kept_pages(kind: type) -> list:
    entries = [*shared_pieces._entries.values(), *shared_pieces.searches._entries.values()]
    return [value for _, value in entries if isinstance(value, kind)]


async def test_two_members_of_one_level_share_the_page_and_see_only_their_own(client, tenant, kept):
    first_id = await make_notice(tenant, "第一のお知らせ", visibility="members")
    await make_notice(tenant, "第二のお知らせ", visibility="members")
    async with member(client, tenant, "o'hara@example.jp", "1班") as hara, \
            member(client, tenant, "sato@example.jp", "1班") as sato:
        assert (await hara.get(f"/a/{tenant.slug}/notices/{first_id}")).status_code == 200  # read by hara only
        pages = {}
        for reader in (hara, sato):
            response = await reader.get(f"/a/{tenant.slug}/notices/")
            assert response.status_code == 200
            pages[reader] = response.text
        (board,) = kept_pages(SharedBoard)
        (page,) = board.pages.values()  # one render for the level, used by both
        for text in ("o'hara", "o&#39;hara", "sato@", hara.cookies[CSRF_COOKIE], sato.cookies[CSRF_COOKIE]):
            assert text not in page
        assert "o&#39;hara@example.jp" in pages[hara] and "sato@" not in pages[hara]
        assert "sato@example.jp" in pages[sato] and "hara@" not in pages[sato]
        assert hara.cookies[CSRF_COOKIE] in pages[hara] and sato.cookies[CSRF_COOKIE] not in pages[hara]
        assert pages[hara].count("未読</span>") == 1 and pages[sato].count("未読</span>") == 2


async def test_the_level_decides_the_han_only_notices(client, tenant, kept):
    await make_notice(tenant, "1班だけのお知らせ", audience="han", han=["1班"], visibility="members")
    async with member(client, tenant, "one@example.jp", "1班") as one, \
            member(client, tenant, "two@example.jp", "2班") as two:
        assert "1班だけのお知らせ" in (await one.get(f"/a/{tenant.slug}/notices/")).text
        assert "1班だけのお知らせ" not in (await two.get(f"/a/{tenant.slug}/notices/")).text
        assert "1班だけのお知らせ" in (await one.get(f"/a/{tenant.slug}/notices/")).text
    assert len(kept_pages(SharedBoard)) == 2


async def test_the_gzip_answer_is_the_same_page(client, tenant, kept):
    await make_notice(tenant, "お知らせ", visibility="members")
    async with member(client, tenant, "kato@example.jp", "1班") as reader:
        plain = await reader.get(f"/a/{tenant.slug}/notices/", headers={"accept-encoding": "identity"})
        async with reader.stream("GET", f"/a/{tenant.slug}/notices/", headers={"accept-encoding": "gzip"}) as raw:
            body = b"".join([chunk async for chunk in raw.aiter_raw()])
        assert raw.headers["content-encoding"] == "gzip"
        assert gzip.decompress(body).decode() == plain.text  # one gzip member, joined from pieces


async def test_a_change_through_the_app_shows_on_the_kept_board_at_once(client, tenant, kept):
    notice_id = await make_notice(tenant, "はじめの題名", visibility="members")
    async with member(client, tenant, "kato@example.jp", "1班") as reader, \
            httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as editor:
        assert "はじめの題名" in (await reader.get(f"/a/{tenant.slug}/notices/")).text
        assert "はじめの題名" in (await reader.get(f"/a/{tenant.slug}/notices/{notice_id}")).text
        await sign_in_as(editor, "editor@example.jp", Role.EDITOR, tenant)
        archived = await editor.post(f"/a/{tenant.slug}/notices/{notice_id}/state", data={"action": "archive"},
                                     headers=await csrf_headers(editor))
        assert archived.status_code in (200, 303), archived.text
        assert "はじめの題名" not in (await reader.get(f"/a/{tenant.slug}/notices/")).text


async def test_a_change_made_elsewhere_is_kept_until_forgotten(client, tenant, kept):
    """Another process's change reaches this one through page_changes.py (forget by slug)."""
    notice_id = await make_notice(tenant, "はじめの題名", visibility="members")
    async with member(client, tenant, "kato@example.jp", "1班") as reader:
        assert "はじめの題名" in (await reader.get(f"/a/{tenant.slug}/notices/{notice_id}")).text
        await Notice.update({Notice.title: "直した題名"}).where(Notice.id == notice_id)
        assert "はじめの題名" in (await reader.get(f"/a/{tenant.slug}/notices/{notice_id}")).text
        shared_pieces.forget(tenant.slug)
        assert "直した題名" in (await reader.get(f"/a/{tenant.slug}/notices/{notice_id}")).text


async def test_each_household_gets_its_own_confirm_box(client, tenant, kept):
    notice_id = await make_notice(tenant, "確認のお願い", visibility="members", needs_confirmation=True)
    async with member(client, tenant, "kato@example.jp", "1班") as kato, \
            member(client, tenant, "sato@example.jp", "1班") as sato:
        pressed = await kato.post(f"/a/{tenant.slug}/notices/{notice_id}/confirm", headers=await csrf_headers(kato))
        assert pressed.status_code in (200, 303)
        kato_page = (await kato.get(f"/a/{tenant.slug}/notices/{notice_id}")).text
        sato_page = (await sato.get(f"/a/{tenant.slug}/notices/{notice_id}")).text
        assert "確認しました" in kato_page and "読みました</button>" not in kato_page
        assert "確認しました" not in sato_page and "読みました</button>" in sato_page
        assert sato.cookies[CSRF_COOKIE] in sato_page and kato.cookies[CSRF_COOKIE] not in sato_page
        (notice,) = kept_pages(SharedNotice)
        (page,) = notice.pages.values()
        assert "確認しました" not in page and "読みました</button>" not in page and "kato" not in page


async def test_a_reader_opening_a_notice_again_writes_nothing(client, tenant, kept, monkeypatch):
    from chonaikai.notices.tables import NoticeRead

    monkeypatch.setattr(read_marks, "DELAY", 60)  # written by the flushes below only, however slow the machine
    notice_id = await make_notice(tenant, "お知らせ", visibility="members")
    async with member(client, tenant, "kato@example.jp", "1班") as reader:
        await reader.get(f"/a/{tenant.slug}/notices/{notice_id}")
        assert "未読" not in (await reader.get(f"/a/{tenant.slug}/notices/")).text  # shown at once
        assert await NoticeRead.count() == 0  # written shortly, with other readers' marks
        await read_marks.flush()
        assert await NoticeRead.count() == 1
        await NoticeRead.delete(force=True)  # were it written again, it would be back
        await reader.get(f"/a/{tenant.slug}/notices/{notice_id}")
        await read_marks.flush()
        assert await NoticeRead.count() == 0
    if read_marks._task is not None:  # its minute's wait: not left for the next test
        read_marks._task.cancel()


# --- searches: results kept per sight, the page made per level like the board's ------------------


def kept_searches() -> list[SharedBoard]:
    return [board for board in kept_pages(SharedBoard) if board.board.total is not None]


async def test_members_of_one_level_share_a_search_and_see_only_their_own(client, tenant, kept):
    first_id = await post_notice(tenant, "一斉清掃のお知らせ", visibility="members")
    await post_notice(tenant, "河川清掃のお知らせ", visibility="members")
    await post_notice(tenant, "総会のご案内", body="出欠をお知らせください。", visibility="members")
    async with member(client, tenant, "o'hara@example.jp", "1班") as hara, \
            member(client, tenant, "sato@example.jp", "1班") as sato:
        assert (await hara.get(f"/a/{tenant.slug}/notices/{first_id}")).status_code == 200  # read by hara only
        pages = {}
        for reader in (hara, sato):
            response = await reader.get(f"/a/{tenant.slug}/notices/", params={"q": "せいそう"})
            assert response.status_code == 200
            pages[reader] = response.text
        (results,) = kept_searches()  # one search for the level, used by both
        (page,) = results.pages.values()
        for text in ("o'hara", "o&#39;hara", "sato@", hara.cookies[CSRF_COOKIE], sato.cookies[CSRF_COOKIE], "未読"):
            assert text not in page
        for reader, other in ((hara, sato), (sato, hara)):
            text = pages[reader]
            assert "2件（「せいそう」）" in text and "一斉清掃のお知らせ" in text and "総会のご案内" not in text
            assert reader.cookies[CSRF_COOKIE] in text and other.cookies[CSRF_COOKIE] not in text
        assert "o&#39;hara@example.jp" in pages[hara] and "sato@" not in pages[hara]
        assert "sato@example.jp" in pages[sato] and "hara@" not in pages[sato]
        assert pages[hara].count("未読</span>") == 1 and pages[sato].count("未読</span>") == 2
        plain = await sato.get(f"/a/{tenant.slug}/notices/", params={"q": "せいそう"},
                               headers={"accept-encoding": "identity"})
        async with sato.stream("GET", f"/a/{tenant.slug}/notices/", params={"q": "せいそう"},
                               headers={"accept-encoding": "gzip"}) as raw:
            body = b"".join([chunk async for chunk in raw.aiter_raw()])
        assert raw.headers["content-encoding"] == "gzip" and gzip.decompress(body).decode() == plain.text


async def test_what_a_search_finds_is_what_the_reader_may_read(client, tenant, kept):
    await post_notice(tenant, "1班の清掃当番", visibility="members", han=["1班"])
    await post_notice(tenant, "役員会の清掃分担", visibility="members", audience="officers")
    await post_notice(tenant, "公園清掃のお知らせ", visibility="public")
    async with member(client, tenant, "one@example.jp", "1班") as one, \
            member(client, tenant, "two@example.jp", "2班") as two, \
            httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as chair:
        await sign_in_as(chair, "chair@example.jp", Role.CHAIR, tenant)
        found = {}
        for name, reader in (("one", one), ("two", two), ("chair", chair), ("one again", one)):
            text = (await reader.get(f"/a/{tenant.slug}/notices/", params={"q": "清掃"})).text
            found[name] = [title for title in ("1班の清掃当番", "役員会の清掃分担", "公園清掃のお知らせ") if title in text]
        assert found == {
            "one": ["1班の清掃当番", "公園清掃のお知らせ"], "two": ["公園清掃のお知らせ"],
            "chair": ["1班の清掃当番", "役員会の清掃分担", "公園清掃のお知らせ"],
            "one again": ["1班の清掃当番", "公園清掃のお知らせ"],
        }
        assert sorted(board.board.total for board in kept_searches()) == [1, 2, 3]


async def test_a_kept_search_follows_a_change(client, tenant, kept):
    """Through the app: forgotten at once; elsewhere: kept until page_changes.py forgets it. The
    number of matches is kept per search (its other pages read only their rows) and forgotten
    with it."""
    for i in range(21):
        await post_notice(tenant, f"清掃のお知らせ{i:02d}", visibility="members")
    async with member(client, tenant, "kato@example.jp", "1班") as reader, \
            httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as editor:
        search = f"/a/{tenant.slug}/notices/"
        assert "21件" in (await reader.get(search, params={"q": "せいそう"})).text
        await post_notice(tenant, "河川清掃のお知らせ", visibility="members")  # not through the app
        second = (await reader.get(search, params={"q": "せいそう", "page": 2})).text
        assert "21件" in second and "2 / 2 ページ" in second  # the count kept from page 1
        shared_pieces.forget(tenant.slug)  # as page_changes.py does for a change made elsewhere
        second = (await reader.get(search, params={"q": "せいそう", "page": 2})).text
        assert "22件" in second and "清掃のお知らせ00" in second and "清掃のお知らせ01" in second
        first_id = (await Notice.select(Notice.id).where(Notice.title == "清掃のお知らせ20").first())["id"]
        assert "過去</span>" not in (await reader.get(search, params={"q": "せいそう"})).text
        await sign_in_as(editor, "editor@example.jp", Role.EDITOR, tenant)
        archived = await editor.post(f"/a/{tenant.slug}/notices/{first_id}/state", data={"action": "archive"},
                                     headers=await csrf_headers(editor))
        assert archived.status_code in (200, 303), archived.text
        assert "過去</span>" in (await reader.get(search, params={"q": "せいそう"})).text  # its card anew


async def test_a_visitors_search_keeps_only_its_count(client, tenant, kept):
    """A visitor without a session gets the search's page from the index (the page cache keeps
    the page whole); the number of matches is kept per search and sight, for every visitor."""
    for i in range(21):
        await post_notice(tenant, f"公園清掃のお知らせ{i:02d}", visibility="public")
    await post_notice(tenant, "会員だけの清掃当番", visibility="members")
    search = f"/a/{tenant.slug}/notices/"
    assert "21件" in (await client.get(search, params={"q": "清掃"})).text
    assert kept_searches() == []
    await post_notice(tenant, "河川清掃のお知らせ", visibility="public")  # not through the app
    second = (await client.get(search, params={"q": "清掃", "page": 2})).text
    assert "21件" in second and "2 / 2 ページ" in second
    async with member(client, tenant, "kato@example.jp", "1班") as reader:  # another sight: its own count
        assert "23件" in (await reader.get(search, params={"q": "清掃", "page": 2})).text
    shared_pieces.forget(tenant.slug)
    assert "22件" in (await client.get(search, params={"q": "清掃", "page": 2})).text


@pytest.mark.parametrize("most", [2000, 1])  # all of a reader's marks at once; too many: per page
async def test_a_search_shows_what_this_reader_has_read(client, tenant, kept, monkeypatch, most):
    from chonaikai.notices import logic

    monkeypatch.setattr(logic, "READ_SET_MAX", most)
    ids = [await post_notice(tenant, f"清掃のお知らせ{i}", visibility="members") for i in range(3)]
    async with member(client, tenant, "kato@example.jp", "1班") as kato, \
            member(client, tenant, "sato@example.jp", "1班") as sato:
        for notice_id in ids[:2]:
            await kato.get(f"/a/{tenant.slug}/notices/{notice_id}")
        await sato.get(f"/a/{tenant.slug}/notices/{ids[2]}")
        await read_marks.flush()
        known_reads.clear()  # as another process would: from the database only
        signed_in_cache.forget_all()
        search = f"/a/{tenant.slug}/notices/"
        kato_page = (await kato.get(search, params={"q": "せいそう"})).text
        sato_page = (await sato.get(search, params={"q": "せいそう"})).text
        assert kato_page.count("未読</span>") == 1 and sato_page.count("未読</span>") == 2
        assert f'notice-card-unread">\n    <a href="/a/{tenant.slug}/notices/{ids[2]}"' in kato_page


async def test_an_htmx_search_gets_the_board_part_with_its_own_marks(client, tenant, kept):
    read_id = await post_notice(tenant, "一斉清掃のお知らせ", visibility="members")
    await post_notice(tenant, "河川清掃のお知らせ", visibility="members")
    async with member(client, tenant, "kato@example.jp", "1班") as reader:
        await reader.get(f"/a/{tenant.slug}/notices/{read_id}")
        whole = (await reader.get(f"/a/{tenant.slug}/notices/", params={"q": "せいそう"})).text  # kept for the level
        part = (await reader.get(f"/a/{tenant.slug}/notices/", params={"q": "せいそう"},
                                 headers={"hx-request": "true", "hx-target": "board"})).text
        assert "<html" in whole and "<html" not in part and part.lstrip().startswith('<div id="board">')
        for text in (whole, part):
            assert "2件（「せいそう」）" in text and text.count("未読</span>") == 1


async def test_read_marks_are_written_in_one_statement_with_their_times_and_once_each(tenant):
    """write_read_marks (arrays on PostgreSQL, one JSON list on SQLite): each mark's reader and
    time as given, a household's and an account's alike; a mark already there stays as it was."""
    from datetime import UTC, datetime

    from chonaikai.accounts.tables import Account
    from chonaikai.notices.logic import ReadMark, write_read_marks
    from chonaikai.notices.tables import NoticeRead

    first = await make_notice(tenant, "一つ目", visibility="members")
    second = await make_notice(tenant, "二つ目", visibility="members")
    household = await make_household(tenant, "佐藤")
    account = Account(email="officer@example.jp", created_at=datetime.now(UTC))
    await account.save()
    early = datetime(2026, 12, 4, 0, 30, 0, 123456, tzinfo=UTC)
    later = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    await write_read_marks([
        ReadMark(tenant.id, first, household["id"], None, early),
        ReadMark(tenant.id, second, None, account.id, later),
    ])
    await write_read_marks([  # again, with another time: the first mark stays, the new one is added
        ReadMark(tenant.id, first, household["id"], None, later),
        ReadMark(tenant.id, second, household["id"], None, later),
    ])
    rows = await NoticeRead.select(
        NoticeRead.association, NoticeRead.notice, NoticeRead.household, NoticeRead.account, NoticeRead.read_at
    ).order_by(NoticeRead.id)
    assert [(r["association"], r["notice"], r["household"], r["account"], r["read_at"]) for r in rows] == [
        (tenant.id, first, household["id"], None, early),
        (tenant.id, second, None, account.id, later),
        (tenant.id, second, household["id"], None, later),
    ]


async def test_households_asking_at_one_moment_get_their_own_confirmations_from_one_statement(tenant, kept):
    """Notice pages of one moment ask for their households' 「読みました」 together
    (kept.Batched, delivery.confirmations_of): one statement, each household its own answer,
    and never another association's row."""
    import asyncio

    from chonaikai.notices import logic

    notice_id = await make_notice(tenant, "回覧のお知らせ", needs_confirmation=True)
    yamada, sato, kato = [await make_household(tenant, name) for name in ("山田", "佐藤", "加藤")]
    confirmed = await logic.confirm_notice(tenant, yamada["id"], notice_id)
    await logic.confirm_notice(tenant, kato["id"], notice_id)
    before = logic._confirmations.statements
    answers = await asyncio.gather(
        logic.kept_confirmation_of(tenant, yamada["id"], notice_id),
        logic.kept_confirmation_of(tenant, sato["id"], notice_id),
        logic.kept_confirmation_of(tenant, None, notice_id),
        logic._confirmations.get((tenant.id + 1000, notice_id, kato["id"])),  # another association's key
    )
    assert answers == [confirmed, None, None, None]
    assert logic._confirmations.statements == before + 1


async def test_readers_asking_at_one_moment_get_their_own_read_marks_from_one_statement(tenant, kept):
    import asyncio

    from chonaikai.notices import logic

    first = await make_notice(tenant, "一つ目", visibility="members")
    second = await make_notice(tenant, "二つ目", visibility="members")
    yamada, sato = await make_household(tenant, "山田"), await make_household(tenant, "佐藤")
    for household, notice in ((yamada, first), (yamada, second), (sato, second)):
        await logic.write_read_marks([logic.ReadMark(tenant.id, notice, household["id"], None, logic.now_utc())])
    officer = logic.Viewer(authenticated=True, account_id=1)
    before = logic._read_marks_of.statements
    answers = await asyncio.gather(*[
        logic.read_notice_ids(tenant, viewer, [first, second]) for viewer in (
            logic.Viewer(authenticated=True, household_id=yamada["id"]),
            logic.Viewer(authenticated=True, household_id=sato["id"]),
            officer,
        )
    ])
    assert answers == [{first, second}, {second}, set()]
    assert logic._read_marks_of.statements == before + 1  # one read (households and accounts: a statement each)


async def test_searches_without_end_do_not_empty_the_boards_kept_pieces(client, tenant, kept, monkeypatch):
    """Anyone can ask for new words without end: searches fill their own entries, and a level's
    board stays kept."""
    monkeypatch.setattr(shared_pieces.searches, "max_entries", 3)
    await post_notice(tenant, "一斉清掃のお知らせ", visibility="members")
    async with member(client, tenant, "kato@example.jp", "1班") as reader:
        assert (await reader.get(f"/a/{tenant.slug}/notices/")).status_code == 200
        (board,) = [board for board in kept_pages(SharedBoard) if board.board.total is None]
        for word in ("清掃", "総会", "会費", "防災", "夏祭り", "回覧"):  # more than the searches' entries
            assert (await reader.get(f"/a/{tenant.slug}/notices/", params={"q": word})).status_code == 200
            assert (await client.get(f"/a/{tenant.slug}/notices/", params={"q": word + "の"})).status_code == 200
        assert [b for b in kept_pages(SharedBoard) if b.board.total is None] == [board]  # the same, still kept
        assert len(shared_pieces.searches) <= 3
