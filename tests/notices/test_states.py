"""Draft → scheduled → published → archived, deliveries on publishing, edits after publishing."""

from datetime import UTC, datetime, timedelta

import pytest

from chonaikai.accounts.roles import Role
from chonaikai.delivery.tables import Delivery
from chonaikai.notices import logic
from chonaikai.notices.tables import Notice
from tests.factories import make_association, make_household
from tests.notices.helpers import post_notice, sign_in_officer

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


async def status_of(tenant, notice_id):
    return (await tenant.select(Notice, Notice.status).where(Notice.id == notice_id).first())["status"]


async def deliveries(tenant, notice_id):
    return await tenant.count(Delivery).where(Delivery.notice == notice_id)


async def test_a_new_notice_is_a_draft_and_creates_no_deliveries(tenant):
    await make_household(tenant, "山田", han="1班", channel="email", email="y@example.jp")
    notice_id = await post_notice(tenant, publish=False)
    assert await status_of(tenant, notice_id) == "draft"
    assert await deliveries(tenant, notice_id) == 0


async def test_publishing_creates_one_delivery_per_household_once(tenant):
    for name in ("山田", "佐藤", "鈴木"):
        await make_household(tenant, name, han="1班")
    notice_id = await post_notice(tenant, publish=False)
    assert await logic.publish_notice(tenant, notice_id, now=NOW) is True
    assert await status_of(tenant, notice_id) == "published"
    assert await deliveries(tenant, notice_id) == 3
    # A second press (or the worker at the same moment) changes nothing.
    assert await logic.publish_notice(tenant, notice_id, now=NOW) is False
    assert await deliveries(tenant, notice_id) == 3
    row = await tenant.select(Notice).where(Notice.id == notice_id).first()
    assert row["published_at"] == NOW


async def test_scheduled_notices_publish_when_due_and_not_before(tenant, city):
    other = await make_association(city, slug="other", han=["1班"])
    await make_household(tenant, "山田", han="1班")
    await make_household(other, "田中", han="1班")
    soon = await post_notice(tenant, "明日のお知らせ", publish=False)
    later = await post_notice(tenant, "来週のお知らせ", publish=False)
    elsewhere = await post_notice(other, "別の町内会", publish=False)
    await logic.schedule_notice(tenant, soon, NOW + timedelta(hours=1), now=NOW)
    await logic.schedule_notice(tenant, later, NOW + timedelta(days=7), now=NOW)
    await logic.schedule_notice(other, elsewhere, NOW + timedelta(hours=1), now=NOW)
    assert await status_of(tenant, soon) == "scheduled"
    assert await deliveries(tenant, soon) == 0

    assert await logic.publish_due_notices(NOW + timedelta(minutes=59)) == []
    published = await logic.publish_due_notices(NOW + timedelta(hours=1))
    assert sorted(published) == sorted([soon, elsewhere])
    assert await status_of(tenant, soon) == "published"
    assert await status_of(other, elsewhere) == "published"
    assert await status_of(tenant, later) == "scheduled"
    assert await deliveries(tenant, soon) == 1 and await deliveries(other, elsewhere) == 1
    # Running again (another worker) publishes nothing twice.
    assert await logic.publish_due_notices(NOW + timedelta(hours=2)) == []


async def test_scheduling_in_the_past_is_refused(tenant):
    notice_id = await post_notice(tenant, publish=False)
    with pytest.raises(logic.NoticeStateError):
        await logic.schedule_notice(tenant, notice_id, NOW - timedelta(hours=1), now=NOW)
    assert await status_of(tenant, notice_id) == "draft"


async def test_unscheduling_returns_to_draft(tenant):
    notice_id = await post_notice(tenant, publish=False)
    await logic.schedule_notice(tenant, notice_id, NOW + timedelta(days=1), now=NOW)
    await logic.unschedule_notice(tenant, notice_id, now=NOW)
    assert await status_of(tenant, notice_id) == "draft"
    assert await logic.publish_due_notices(NOW + timedelta(days=2)) == []


async def test_archive_and_back(tenant):
    notice_id = await post_notice(tenant)
    with pytest.raises(logic.NoticeStateError):
        await logic.schedule_notice(tenant, notice_id, NOW + timedelta(days=1), now=NOW)
    await logic.archive_notice(tenant, notice_id)
    assert await status_of(tenant, notice_id) == "archived"
    with pytest.raises(logic.NoticeStateError):
        await logic.archive_notice(tenant, notice_id)
    await logic.unarchive_notice(tenant, notice_id)
    assert await status_of(tenant, notice_id) == "published"


async def test_published_notices_cannot_be_deleted_drafts_can(tenant):
    published = await post_notice(tenant)
    draft = await post_notice(tenant, publish=False)
    assert await logic.delete_draft(tenant, published) is False
    assert await logic.delete_draft(tenant, draft) is True
    assert await tenant.count(Notice) == 1


async def test_editing_after_publishing_shows_updated(client, tenant):
    notice_id = await post_notice(tenant, visibility="public")
    page = await client.get(f"/a/sakura/notices/{notice_id}")
    assert "更新" not in page.text
    form = logic.form_from_notice(await logic.get_notice(tenant, notice_id))
    form.body = "時間が9時に変わりました。"
    await logic.update_notice(tenant, notice_id, form)
    page = await client.get(f"/a/sakura/notices/{notice_id}")
    assert "時間が9時に変わりました。" in page.text
    assert "更新</span>" in page.text and "に内容を直しました" in page.text


async def test_editing_a_draft_is_not_an_update(tenant):
    notice_id = await post_notice(tenant, publish=False)
    form = logic.form_from_notice(await logic.get_notice(tenant, notice_id))
    await logic.update_notice(tenant, notice_id, form)
    row = await tenant.select(Notice).where(Notice.id == notice_id).first()
    assert row["edited_at"] is None


async def test_posting_through_the_pages(client, tenant):
    await make_household(tenant, "山田", han="1班")
    await sign_in_officer(client, tenant, Role.EDITOR, "editor@example.jp")
    headers = {"x-chonaikai-csrf": client.cookies["chonaikai_csrf"]}
    form = {"title": "防災訓練", "body": "9時に公園へ", "category": "防災", "audience": "all",
            "visibility": "members", "action": "draft"}
    response = await client.post("/a/sakura/notices/new", data=form, headers=headers)
    assert response.status_code == 303
    notice_id = int(response.headers["location"].split("/")[4])
    assert await status_of(tenant, notice_id) == "draft"
    row = await tenant.select(Notice).where(Notice.id == notice_id).first()
    assert row["author_title"] == "広報"

    later = (datetime.now(UTC) + timedelta(days=2)).astimezone(logic.LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")
    response = await client.post(
        f"/a/sakura/notices/{notice_id}/edit", data={**form, "action": "schedule", "publish_at": later}, headers=headers
    )
    assert response.status_code == 303
    assert await status_of(tenant, notice_id) == "scheduled"

    response = await client.post(f"/a/sakura/notices/{notice_id}/state", data={"action": "publish"}, headers=headers)
    assert response.status_code == 303
    assert await status_of(tenant, notice_id) == "published"
    assert await deliveries(tenant, notice_id) == 1

    response = await client.post(
        f"/a/sakura/notices/{notice_id}/edit", data={**form, "body": "10時に変更", "action": "save"}, headers=headers
    )
    assert response.status_code == 303
    page = await client.get(f"/a/sakura/notices/{notice_id}")
    assert "10時に変更" in page.text and "に内容を直しました" in page.text

    response = await client.post(f"/a/sakura/notices/{notice_id}/state", data={"action": "archive"}, headers=headers)
    assert await status_of(tenant, notice_id) == "archived"


async def test_bad_input_changes_nothing_and_says_why(client, tenant):
    await sign_in_officer(client, tenant)
    headers = {"x-chonaikai-csrf": client.cookies["chonaikai_csrf"]}
    response = await client.post(
        "/a/sakura/notices/new",
        data={"title": "", "body": "x", "category": "天気", "audience": "han", "visibility": "public", "action": "publish"},
        headers=headers,
    )
    assert response.status_code == 400
    assert "題名を書いてください" in response.text
    assert "分類を一覧から選んでください" in response.text
    assert "届ける班をひとつ以上選んでください" in response.text
    assert "ホームページに公開できません" in response.text
    assert await tenant.count(Notice) == 0

    past = (datetime.now(UTC) - timedelta(hours=1)).astimezone(logic.LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")
    response = await client.post(
        "/a/sakura/notices/new",
        data={"title": "t", "category": "行事", "audience": "all", "visibility": "members", "action": "schedule",
              "publish_at": past},
        headers=headers,
    )
    assert response.status_code == 400 and "これから先の日時" in response.text
    assert await tenant.count(Notice) == 0


async def test_preview_by_htmx_and_by_plain_post(client, tenant):
    await sign_in_officer(client, tenant)
    headers = {"x-chonaikai-csrf": client.cookies["chonaikai_csrf"]}
    form = {"title": "総会", "body": "**日時**：【日時】\n<script>alert(1)</script>", "category": "行事",
            "audience": "all", "visibility": "members", "action": "preview"}
    fragment = await client.post("/a/sakura/notices/preview", data=form, headers={**headers, "HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<strong>日時</strong>" in fragment.text and "<script>" not in fragment.text
    assert "まだ書きかえていないところがあります：【日時】" in fragment.text
    assert "<html" not in fragment.text
    page = await client.post("/a/sakura/notices/new", data=form, headers=headers)
    assert page.status_code == 200
    assert "<html" in page.text and "<strong>日時</strong>" in page.text
    assert await tenant.count(Notice) == 0  # previewing saves nothing


async def test_only_posters_may_post(client, tenant):
    await sign_in_officer(client, tenant, Role.TREASURER, "kaikei@example.jp")
    headers = {"x-chonaikai-csrf": client.cookies["chonaikai_csrf"]}
    assert (await client.get("/a/sakura/notices/new")).status_code == 403
    response = await client.post("/a/sakura/notices/new", data={"title": "x", "action": "draft"}, headers=headers)
    assert response.status_code == 403
    assert await tenant.count(Notice) == 0


async def test_anonymous_posting_goes_to_sign_in(client, tenant):
    response = await client.get("/a/sakura/notices/new", headers={"accept": "text/html"})
    assert response.status_code == 303 and response.headers["location"].startswith("/signin?next=")


async def test_categories_are_configurable_per_association(client, tenant, city):
    other = await make_association(city, slug="other")
    await sign_in_officer(client, tenant)
    headers = {"x-chonaikai-csrf": client.cookies["chonaikai_csrf"]}
    response = await client.post("/a/sakura/notices/categories", data={"categories": "行事\n子ども会\n\n行事\n"}, headers=headers)
    assert response.status_code == 200
    assert await logic.categories(tenant) == ["行事", "子ども会"]
    assert await logic.categories(other) == list(logic.DEFAULT_CATEGORIES)
    form, errors = await logic.parse_notice_form(tenant, {"title": "x", "category": "子ども会"})
    assert errors == {}
    form, errors = await logic.parse_notice_form(tenant, {"title": "x", "category": "ごみ"})
    assert "category" in errors
    response = await client.post("/a/sakura/notices/categories", data={"categories": "  \n"}, headers=headers)
    assert response.status_code == 400 and "ひとつ以上" in response.text
    assert await logic.categories(tenant) == ["行事", "子ども会"]


async def test_widening_the_audience_after_publishing_reaches_the_new_households(tenant):
    await make_household(tenant, "一班さん", han="1班")
    await make_household(tenant, "二班さん", han="2班")
    notice_id = await post_notice(tenant, "1班の当番", han=["1班"])
    assert await deliveries(tenant, notice_id) == 1
    form = logic.form_from_notice(await logic.get_notice(tenant, notice_id))
    form.audience, form.han_ids = "all", []
    await logic.update_notice(tenant, notice_id, form)
    assert await deliveries(tenant, notice_id) == 2


async def test_officer_tools_on_the_notice_page(client, tenant):
    from tests.auth import sign_in_as
    from tests.notices.helpers import han_id

    notice_id = await post_notice(tenant, "総会")
    await sign_in_as(client, "hancho@example.jp", Role.HAN_LEADER, tenant, han_id=await han_id(tenant, "1班"))
    page = await client.get(f"/a/sakura/notices/{notice_id}")
    assert f"/a/sakura/notices/{notice_id}/print" in page.text  # 班長 prints the 回覧板 of their 班
    assert f"/a/sakura/notices/{notice_id}/receipts" in page.text
    assert f"/a/sakura/notices/{notice_id}/edit" not in page.text  # but does not post


async def test_a_ready_text_with_unfilled_marks_is_not_published(client, tenant):
    await sign_in_officer(client, tenant)
    headers = {"x-chonaikai-csrf": client.cookies["chonaikai_csrf"]}
    form = {"title": "一斉清掃のお知らせ", "body": "日時：【日時】\n場所：公園", "category": "行事",
            "audience": "all", "visibility": "members", "action": "publish"}
    response = await client.post("/a/sakura/notices/new", data=form, headers=headers)
    assert response.status_code == 400 and "【日時】 がまだ書きかえられていません" in response.text
    assert await tenant.count(Notice) == 0
    response = await client.post("/a/sakura/notices/new", data={**form, "action": "draft"}, headers=headers)
    assert response.status_code == 303  # a draft may keep them
    form["body"] = "日時：12月7日\n【重要】場所：公園"  # brackets that are not a 文例 placeholder are fine
    response = await client.post("/a/sakura/notices/new", data=form, headers=headers)
    assert response.status_code == 303


async def test_deleting_a_draft_from_its_page(client, tenant):
    notice_id = await post_notice(tenant, publish=False)
    await sign_in_officer(client, tenant)
    page = await client.get(f"/a/sakura/notices/{notice_id}")
    assert 'value="delete"' in page.text
    response = await client.post(
        f"/a/sakura/notices/{notice_id}/state", data={"action": "delete"}, headers={"x-chonaikai-csrf": client.cookies["chonaikai_csrf"]}
    )
    assert response.status_code == 303 and response.headers["location"] == "/a/sakura/notices/"
    assert await tenant.count(Notice) == 0


async def test_publishing_a_draft_with_unfilled_marks_from_its_page_is_refused(client, tenant):
    notice_id = await post_notice(tenant, publish=False, body="場所：【集合場所】")
    await sign_in_officer(client, tenant)
    response = await client.post(
        f"/a/sakura/notices/{notice_id}/state", data={"action": "publish"}, headers={"x-chonaikai-csrf": client.cookies["chonaikai_csrf"]}
    )
    assert response.status_code == 409 and "【集合場所】 がまだ書きかえられていません" in response.text
    assert await status_of(tenant, notice_id) == "draft"
