"""The association menu shows exactly the pages this person may open, and a way to sign out."""

from chonaikai.accounts.roles import Role
from tests.auth import sign_in_as
from tests.factories import make_household


def menu_labels(html: str) -> list[str]:
    start = html.index('class="site-nav"')
    nav = html[start : html.index("</nav>", start)]
    return [part.split("<", 1)[0] for part in nav.split('">')[1:] if part.split("<", 1)[0].strip()]


async def test_stranger_sees_the_public_menu_and_a_sign_in_link(client, tenant):
    html = (await client.get("/a/sakura/")).text
    assert menu_labels(html) == ["ホーム", "お知らせ", "ログイン"]
    assert "ログアウト" not in html


async def test_chair_sees_every_officer_page_and_can_sign_out(client, tenant):
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    html = (await client.get("/a/sakura/")).text
    labels = menu_labels(html)
    for label in ("お知らせを書く", "市からの回覧", "名簿", "役員", "LINEの設定", "記録"):
        assert label in labels
    assert "わが家の登録" not in labels and "ログイン" not in labels
    assert "ログアウト" in html and "（会長）" in html


async def test_member_sees_only_their_household(client, tenant):
    household = await make_household(tenant, "見本 太郎", han="1班")
    await sign_in_as(client, "member@example.jp", Role.MEMBER, tenant, household_id=household["id"])
    labels = menu_labels((await client.get("/a/sakura/notices/")).text)
    assert labels == ["ホーム", "お知らせ", "わが家の登録"]


async def test_officer_here_is_nobody_there(client, city, tenant):
    from tests.factories import make_association

    await make_association(city, slug="other")
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    html = (await client.get("/a/other/")).text
    assert menu_labels(html) == ["ホーム", "お知らせ"]
    assert "この町内会の役割はありません" in html
