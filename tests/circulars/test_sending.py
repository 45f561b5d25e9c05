from datetime import UTC, datetime, timedelta

import pytest

from chonaikai.circulars import logic
from chonaikai.circulars.logic import CircularError, CircularInput
from chonaikai.circulars.tables import Circular, CircularEntry
from chonaikai.notices.tables import Notice
from tests.circulars.helpers import make_city_associations, send
from tests.factories import make_association, make_city


async def entry_slugs(circular_id: int) -> set[str]:
    rows = await CircularEntry.select(CircularEntry.association.slug).where(CircularEntry.circular == circular_id)
    return {row["association.slug"] for row in rows}


async def test_target_all_reaches_every_association_of_the_city_only(city):
    await make_city_associations(city)
    other_city = await make_city(slug="othercity", name="他市", code="012025")
    await make_association(other_city, "elsewhere", district="東部地区")
    circular_id = await send(city)
    assert await entry_slugs(circular_id) == {"east-auto", "east-review", "west-review"}


async def test_target_districts(city):
    await make_city_associations(city)
    circular_id = await send(city, target_kind="districts", districts=["西部地区"])
    assert await entry_slugs(circular_id) == {"west-review"}


async def test_target_chosen_associations(city):
    await make_city_associations(city)
    circular_id = await send(city, target_kind="associations", associations=["east-review", "west-review"])
    assert await entry_slugs(circular_id) == {"east-review", "west-review"}


async def test_unknown_targets_are_refused_and_nothing_is_created(city):
    await make_city_associations(city)
    other_city = await make_city(slug="othercity", name="他市", code="012025")
    await make_association(other_city, "elsewhere")
    for values in (
        {"target_kind": "districts", "districts": ["北部地区"]},
        {"target_kind": "associations", "associations": ["elsewhere"]},
        {"target_kind": "associations", "associations": []},
        {"target_kind": "everyone"},
        {"title": ""},
    ):
        with pytest.raises(CircularError) as caught:
            await send(city, **values)
        assert caught.value.japanese and all(ja for ja, en in caught.value.messages)
    assert await Circular.count() == 0
    assert await CircularEntry.count() == 0


async def test_auto_forward_posts_a_notice_at_once_review_waits(city):
    east_auto, east_review, _ = await make_city_associations(city)
    circular_id = await send(city, needs_confirmation=True)
    entries = {
        row["association"]: row
        for row in await CircularEntry.select().where(CircularEntry.circular == circular_id)
    }
    auto, review = entries[east_auto.id], entries[east_review.id]
    assert auto["state"] == "forwarded" and auto["forwarded_at"] is not None and auto["notice"] is not None
    assert review["state"] == "pending" and review["notice"] is None
    notice = await east_auto.select(Notice).where(Notice.id == auto["notice"]).first()
    assert notice["category"] == "回覧"
    assert notice["source_city"] == city["id"]
    assert notice["status"] == "published"
    assert notice["needs_confirmation"] is True
    assert "防災訓練" in notice["body"]
    assert await east_review.count(Notice) == 0


async def test_sending_twice_creates_nothing_twice(city):
    await make_city_associations(city)
    circular_id = await send(city)
    result = await logic.send_circular(circular_id)
    assert result.entries == 0
    assert await CircularEntry.count() == 3
    assert await Notice.count() == 1


async def test_scheduled_circular_waits_for_its_time(city):
    await make_city_associations(city)
    now = datetime.now(UTC)
    data = CircularInput(title="後で送る", summary="予定", publish_at=now + timedelta(hours=2))
    circular_id = await logic.create_circular(city["id"], data, now=now)
    assert await CircularEntry.count() == 0
    assert await logic.send_due_circulars(now + timedelta(hours=1)) == []
    assert await logic.send_due_circulars(now + timedelta(hours=3)) == [circular_id]
    assert await CircularEntry.count() == 3



async def test_forwarded_circulars_get_the_boards_folded_search_text(city):
    from chonaikai.notices.render import fold
    from chonaikai.notices.search import search_text

    await make_city_associations(city)
    await send(city, title="ゴミ出しのルール変更", summary="資源ごみの日が変わります。")
    notice = await Notice.select(Notice.title, Notice.body, Notice.search_text).where(
        Notice.title == "ゴミ出しのルール変更"
    ).first()
    # 「ごみ」 typed in hiragana finds the katakana title, as on every other notice.
    assert notice["search_text"] == search_text(notice["title"], notice["body"])  # as the board writes it
    assert notice["search_text"].startswith(fold(notice["title"] + "\n" + notice["body"]))
    assert fold("ごみ出し") in notice["search_text"]
    assert "しげんごみ" in notice["search_text"]  # and its kana reading
