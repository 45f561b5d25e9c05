"""Audience and visibility, for every role and for an anonymous visitor: the notice page, the
board, the homepage and the attachments all follow the same rules."""

import pytest

from chonaikai.accounts.roles import Role
from chonaikai.notices import attachments as files
from tests.auth import sign_in_as
from tests.factories import make_association, make_household
from tests.notices.helpers import han_id, post_notice, sign_in_member

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

# Who reads, and which of the five notices each may open.
NOTICES = ("public", "members", "han1", "officers", "draft")
EXPECTED = {
    "anonymous": {"public"},
    "member_han1": {"public", "members", "han1"},
    "member_han2": {"public", "members"},
    "member_no_han": {"public", "members"},
    "han_leader_han2": {"public", "members", "han1", "officers"},
    "treasurer": {"public", "members", "han1", "officers"},
    "chair": {"public", "members", "han1", "officers", "draft"},
    "editor": {"public", "members", "han1", "officers", "draft"},
    "member_of_other_association": {"public"},
}


async def make_notices(tenant):
    ids = {
        "public": await post_notice(tenant, "だれでも読めるお知らせ", visibility="public"),
        "members": await post_notice(tenant, "会員向けのお知らせ", visibility="members"),
        "han1": await post_notice(tenant, "1班だけのお知らせ", han=["1班"]),
        "officers": await post_notice(tenant, "役員だけのお知らせ", audience="officers"),
        "draft": await post_notice(tenant, "下書きのお知らせ", publish=False, visibility="public"),
    }
    for notice_id in ids.values():
        await files.add_attachment(tenant, notice_id, "map.png", PNG)
    return ids


async def become(client, who, tenant, city):
    if who == "anonymous":
        return
    if who == "member_han1":
        await sign_in_member(client, tenant, "1班")
    elif who == "member_han2":
        await sign_in_member(client, tenant, "2班")
    elif who == "member_no_han":
        await sign_in_member(client, tenant, None)
    elif who == "han_leader_han2":
        await sign_in_as(client, "hancho@example.jp", Role.HAN_LEADER, tenant, han_id=await han_id(tenant, "2班"))
    elif who == "member_of_other_association":
        other = await make_association(city, slug="other", han=["1班"])
        row = await make_household(other, "よその世帯", han="1班")
        await sign_in_as(client, "other@example.jp", Role.MEMBER, other, household_id=row["id"])
    else:
        await sign_in_as(client, f"{who}@example.jp", Role(who), tenant)


@pytest.mark.parametrize("who", list(EXPECTED))
async def test_who_may_open_which_notice(client, tenant, city, who):
    ids = await make_notices(tenant)
    await become(client, who, tenant, city)
    for name in NOTICES:
        notice_id = ids[name]
        page = await client.get(f"/a/sakura/notices/{notice_id}", headers={"accept": "text/html"})
        attachment_id = (await files.list_attachments(tenant, notice_id))[0].id
        file = await client.get(f"/a/sakura/notices/{notice_id}/files/{attachment_id}", headers={"accept": "text/html"})
        if name in EXPECTED[who]:
            assert page.status_code == 200, (who, name)
            assert file.status_code == 200 and file.content == PNG, (who, name)
            continue
        expected_status = {
            "anonymous": 303,  # to sign in, then back
        }.get(who, 403)
        if name == "draft":
            expected_status = 404  # drafts do not exist for readers
        assert page.status_code == expected_status, (who, name, page.status_code)
        assert file.status_code == expected_status, (who, name, file.status_code)
        if expected_status == 303:
            assert page.headers["location"] == f"/signin?next=%2Fa%2Fsakura%2Fnotices%2F{notice_id}"


@pytest.mark.parametrize("who", list(EXPECTED))
async def test_the_board_lists_only_what_each_may_read(client, tenant, city, who):
    ids = await make_notices(tenant)
    await become(client, who, tenant, city)
    board = await client.get("/a/sakura/notices/")
    assert board.status_code == 200
    for name in NOTICES:
        listed = f'href="/a/sakura/notices/{ids[name]}"' in board.text
        expected = name in EXPECTED[who] and name != "draft"  # drafts are listed apart, for posters
        assert listed == expected, (who, name)
    if who in ("chair", "editor"):
        assert f'href="/a/sakura/notices/{ids["draft"]}/edit"' in board.text


async def test_the_homepage_shows_only_public_notices(client, tenant):
    ids = await make_notices(tenant)
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)  # even for the chair
    home = await client.get("/a/sakura/")
    assert "だれでも読めるお知らせ" in home.text
    for name in ("members", "han1", "officers", "draft"):
        assert f"/a/sakura/notices/{ids[name]}\"" not in home.text, name


async def test_a_notice_of_another_association_is_not_found_here(client, tenant, city):
    other = await make_association(city, slug="other")
    notice_id = await post_notice(other, "よそのお知らせ", visibility="public")
    assert (await client.get(f"/a/sakura/notices/{notice_id}")).status_code == 404
    assert (await client.get(f"/a/other/notices/{notice_id}")).status_code == 200


async def test_an_api_client_gets_401_not_a_redirect(client, tenant):
    notice_id = await post_notice(tenant, visibility="members")
    response = await client.get(f"/a/sakura/notices/{notice_id}", headers={"accept": "application/json"})
    assert response.status_code == 401
