"""安否確認 pages: an officer starts in two taps, 班長 record on their phone, officers see the tally."""

from __future__ import annotations

import re

from chonaikai.accounts.roles import Role
from chonaikai.delivery.alerts import send_due_alerts
from chonaikai.delivery.tables import DeliveryAlert
from chonaikai.roster.tables import Han
from chonaikai.safety import logic
from chonaikai.safety.tables import SafetyCheck
from tests.auth import csrf_headers, sign_in_as


async def han_id(tenant, name):
    return (await tenant.select(Han, Han.id).where(Han.name == name).first())["id"]


async def test_safety_officer_starts_in_two_taps_and_sees_the_banner(client, tenant, households):
    await sign_in_as(client, "bousai@example.jp", Role.SAFETY_OFFICER, tenant)
    page = await client.get("/a/sakura/safety")  # tap 1: the menu's 安否確認
    assert page.status_code == 200 and 'value="地震の安否確認"' in page.text
    assert 'href="/a/sakura/safety"' in page.text  # in the menu
    response = await client.post("/a/sakura/safety", data={"title": "地震の安否確認", "message": ""},
                                 headers=await csrf_headers(client))  # tap 2
    assert response.status_code == 303
    check = await SafetyCheck.select().first()
    assert response.headers["location"] == f"/a/sakura/safety/{check['id']}?started=1"
    results = await client.get(f"/a/sakura/safety/{check['id']}")
    assert results.status_code == 200
    assert "安否確認をしています" in results.text  # the banner at the top
    assert "仮野 花子" in results.text and "024-000-0002" in results.text and "要支援" in results.text
    board = await client.get("/a/sakura/notices/")
    assert "安否確認をしています" in board.text


async def test_treasurer_may_see_but_not_start_and_a_member_sees_nothing(client, tenant, households):
    await sign_in_as(client, "kaikei@example.jp", Role.TREASURER, tenant)
    page = await client.get("/a/sakura/safety")
    assert page.status_code == 200 and "安否確認を始める</button>" not in page.text
    refused = await client.post("/a/sakura/safety", data={"title": "x"}, headers=await csrf_headers(client))
    assert refused.status_code == 403
    assert await SafetyCheck.count() == 0


async def test_han_leader_checklist_one_tap_and_another_han_refused(client, tenant, households):
    check_id = await logic.start_check(tenant, logic.StartInput(title="地震の安否確認"))
    han1, han2 = await han_id(tenant, "1班"), await han_id(tenant, "2班")
    await sign_in_as(client, "hancho1@example.jp", Role.HAN_LEADER, tenant, han_id=han1)
    page = await client.get(f"/a/sakura/safety/{check_id}/han/{han1}")
    assert page.status_code == 200
    # 要支援 first, with phone; another 班's household is not there.
    assert page.text.index("仮野 花子") < page.text.index("見本 太郎")
    assert "024-000-0002" in page.text and "例田" not in page.text
    for label in ("ハンカチあり", "訪問して無事", "助けが必要", "不在", "応答なし"):
        assert label in page.text
    headers = await csrf_headers(client)
    tap = await client.post(f"/a/sakura/safety/{check_id}/households/{households['hanako']['id']}",
                            data={"seen": "cloth", "han": str(han1)}, headers=headers)
    assert tap.status_code == 303
    fragment = await client.post(f"/a/sakura/safety/{check_id}/households/{households['taro']['id']}",
                                 data={"seen": "need_help", "note": "building", "han": str(han1)},
                                 headers={**headers, "HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and "建物" in fragment.text
    other_list = await client.get(f"/a/sakura/safety/{check_id}/han/{han2}")
    assert other_list.status_code == 403
    other = await client.post(f"/a/sakura/safety/{check_id}/households/{households['ichiro']['id']}",
                              data={"seen": "visit_safe", "han": str(han2)}, headers=headers)
    assert other.status_code == 403
    check = await logic.get_check(tenant, check_id)
    result = await logic.results(tenant, check)
    assert result.totals == {"safe": 1, "need_help": 1, "away": 0, "unknown": 2}
    hanako = next(r for r in result.rows if r.household_id == households["hanako"]["id"])
    assert (hanako.answer, hanako.via, hanako.entered_by_label) == ("safe", "cloth", "班長")
    assert hanako.answered_at is not None


async def test_results_csv_has_bom_and_print_lists_who_to_visit(client, tenant, households):
    check_id = await logic.start_check(tenant, logic.StartInput(title="地震の安否確認"))
    await logic.record_answer(tenant, check_id, households["taro"]["id"], "safe", via="web")
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    csv = await client.get(f"/a/sakura/safety/{check_id}/results.csv")
    assert csv.content.startswith(b"\xef\xbb\xbf") and csv.headers["content-type"].startswith("text/csv")
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + 4 and lines[1].startswith("仮野 花子")  # 要支援 未確認 first
    printed = await client.get(f"/a/sakura/safety/{check_id}/print")
    assert printed.status_code == 200
    assert "★要支援 仮野 花子" in printed.text and "見本 太郎" not in printed.text  # safe: no visit needed
    assert "1班" in printed.text and "2班" in printed.text


async def test_bad_start_input_changes_nothing(client, tenant, households):
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    response = await client.post("/a/sakura/safety", data={"title": "長" * 61}, headers=await csrf_headers(client))
    assert response.status_code == 400 and "60文字まで" in response.text
    assert await SafetyCheck.count() == 0


async def test_city_staff_start_from_the_page_and_officers_see_it_on_top(client, city, tenant, households):
    from tests.auth import make_account, sign_in

    staff = await make_account("shi@example.jp", Role.CITY_STAFF, city_id=city["id"])
    await sign_in(client, staff)
    page = await client.get("/c/testcity/safety/")
    assert page.status_code == 200 and "町内会へ一斉に始める" in page.text
    started = await client.post("/c/testcity/safety/", data={"title": "地震の安否確認", "drill": "1"},
                                headers=await csrf_headers(client))
    assert started.status_code == 303
    view = await client.get(started.headers["location"])
    assert view.status_code == 200 and "訓練" in view.text and "テスト桜町内会" in view.text
    assert "見本" not in view.text and "024-" not in view.text
    assert (await client.get("/a/sakura/safety")).status_code == 403  # no association role

    await client.post("/signout", headers=await csrf_headers(client))
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    home = await client.get("/a/sakura/")
    assert "【訓練】安否確認をしています" in home.text


async def test_households_without_a_han_have_a_checklist_for_officers_only(client, tenant, households):
    from tests.factories import make_household

    lone = await make_household(tenant, "無所属 一", None, phone="024-000-0009", address="桜町9")
    check_id = await logic.start_check(tenant, logic.StartInput(title="地震の安否確認"))
    await sign_in_as(client, "bousai@example.jp", Role.SAFETY_OFFICER, tenant)
    page = await client.get(f"/a/sakura/safety/{check_id}/han/0")
    assert page.status_code == 200 and "無所属 一" in page.text and "見本" not in page.text
    tap = await client.post(f"/a/sakura/safety/{check_id}/households/{lone['id']}", data={"seen": "away", "han": "0"},
                            headers=await csrf_headers(client))
    assert tap.status_code == 303 and tap.headers["location"].startswith(f"/a/sakura/safety/{check_id}/han/0")
    await client.post("/signout", headers=await csrf_headers(client))
    await sign_in_as(client, "hancho1@example.jp", Role.HAN_LEADER, tenant, han_id=await han_id(tenant, "1班"))
    assert (await client.get(f"/a/sakura/safety/{check_id}/han/0")).status_code == 403


async def test_officers_and_han_leaders_get_an_email_when_the_city_starts_a_check(client, city, tenant, households, mail_sink):
    from tests.auth import make_account

    await make_account("kaicho@example.jp", Role.CHAIR, tenant)
    await make_account("hancho1@example.jp", Role.HAN_LEADER, tenant, han_id=await han_id(tenant, "1班"))
    await make_account("member@example.jp", Role.MEMBER, tenant, household_id=households["taro"]["id"])
    batch_id, started = await logic.start_city_check(city["id"], logic.StartInput(title="地震の安否確認", drill=True))
    ((slug, check_id),) = started
    addresses = sorted(m["To"].addresses[0].addr_spec for m in mail_sink.messages if "安否確認" in str(m["subject"]))
    assert addresses == ["hancho1@example.jp", "kaicho@example.jp"]  # officers only, not members, once each
    # Through the delivery core's officer-alert outbox: one e-mail row per officer, sent.
    rows = await DeliveryAlert.select(DeliveryAlert.kind, DeliveryAlert.ref_id, DeliveryAlert.channel,
                                      DeliveryAlert.status)
    assert sorted((r["kind"], r["ref_id"], r["channel"], r["status"]) for r in rows) == [
        ("safety", check_id, "email", "sent")] * 2
    [message] = mail_sink.to("kaicho@example.jp")
    assert str(message["subject"]) == "【安否確認】【訓練】地震の安否確認"
    text = message.get_body().get_content()
    link = re.search(r"http://testserver(/signin/[^\s]+)", text).group(1)
    assert link.endswith(f"?next=/a/sakura/safety/{check_id}")
    used = await client.post(link, headers=await csrf_headers(client))  # signs the 会長 in, straight to the results
    assert used.status_code == 303 and used.headers["location"] == f"/a/sakura/safety/{check_id}"
    assert (await client.get(used.headers["location"])).status_code == 200
    mail_sink.clear()
    # Starting again while it is open alerts nobody twice.
    await logic.start_city_check(city["id"], logic.StartInput(title="地震の安否確認", drill=True))
    assert not [m for m in mail_sink.messages if "安否確認" in str(m["subject"])]
    await send_due_alerts()  # nor does the worker's round
    assert not [m for m in mail_sink.messages if "安否確認" in str(m["subject"])]


async def test_a_line_linked_officer_gets_a_push_from_the_fake_line_server(line_tenant, fake_line, mail_sink):
    from datetime import UTC, datetime

    from chonaikai.line.tables import LineLink
    from tests.auth import make_account
    from tests.factories import make_household

    chair = await make_account("kaicho@example.jp", Role.CHAIR, line_tenant)
    await make_account("bousai@example.jp", Role.SAFETY_OFFICER, line_tenant)
    own = await make_household(line_tenant, "防災 宅", "1班", email="bousai@example.jp", channel="line")
    user = fake_line.add_friend()
    await LineLink.insert(line_tenant.new(LineLink, household=own["id"], channel_id="1650000001", line_user_id=user,
                                          linked_at=datetime.now(UTC)))
    check_id = await logic.start_check(line_tenant, logic.StartInput(title="地震の安否確認"), started_by=chair)
    [received] = fake_line.messages_for(user)
    text = received.messages[0]["text"]
    assert text.startswith("【安否確認】地震の安否確認")
    assert re.search(r"/signin/\S+\?next=/a/line-town/safety/" + str(check_id) + r"\b", text)
    assert len(mail_sink.to("bousai@example.jp")) == 1
    assert not mail_sink.to("kaicho@example.jp")  # the one who started it is not told
    await send_due_alerts()
    assert len(fake_line.messages_for(user)) == 1  # once


async def test_odd_digits_in_the_checklist_links_are_not_a_server_error(client, tenant, households):
    check_id = await logic.start_check(tenant, logic.StartInput())
    han1 = await han_id(tenant, "1班")
    await sign_in_as(client, "hancho1@example.jp", Role.HAN_LEADER, tenant, han_id=han1)
    page = await client.get(f"/a/sakura/safety/{check_id}/han/{han1}", params={"saved": "²"})
    assert page.status_code == 200
    tap = await client.post(f"/a/sakura/safety/{check_id}/households/{households['taro']['id']}",
                            data={"seen": "cloth", "han": "①"}, headers=await csrf_headers(client))
    assert tap.status_code == 303 and tap.headers["location"].startswith(f"/a/sakura/safety/{check_id}?")
