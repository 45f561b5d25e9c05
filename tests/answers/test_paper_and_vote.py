"""Paper answers keyed in by the 班長 of that 班 (another 班's is refused), the 総会 vote counted
against the quorum with 委任状 and 書面表決, and the CSV export."""

from __future__ import annotations

import csv
import io

import segno

from chonaikai.accounts.roles import Role
from chonaikai.notices import answering
from chonaikai.notices.tables import NoticeAnswer
from chonaikai.roster.tables import Han, Member
from tests.answers.helpers import bearer, publish_question, token_for, token_of
from tests.auth import csrf_headers, sign_in_as
from tests.factories import make_household


async def _han_id(tenant, name):
    return (await tenant.select(Han, Han.id).where(Han.name == name).first())["id"]


async def test_han_leader_enters_paper_answers_for_own_han_only(client, tenant):
    mine = await make_household(tenant, "紙 一", han="1班", channel="paper")
    other = await make_household(tenant, "紙 二", han="2班", channel="paper")
    notice = await publish_question(client, tenant, {"kind": "attendance"})
    leader = await sign_in_as(client, "hancho@example.jp", Role.HAN_LEADER, tenant, han_id=await _han_id(tenant, "1班"))
    headers = await csrf_headers(client)
    base = f"/a/{tenant.slug}/notices/{notice}/answers"

    screen = await client.get(base + "/enter")
    assert screen.status_code == 200 and "紙 一" in screen.text and "紙 二" not in screen.text
    ok = await client.post(f"{base}/{mine['id']}", data={"choice": "出席", "people": "2", "via": "paper"},
                           headers={**headers, "HX-Request": "true"})
    assert ok.status_code == 200 and "出席（2人）" in ok.text and "紙（返信票・回覧板）" in ok.text
    refused = await client.post(f"{base}/{other['id']}", data={"choice": "出席"}, headers=headers)
    assert refused.status_code == 403
    rows = await NoticeAnswer.select(NoticeAnswer.household, NoticeAnswer.via, NoticeAnswer.entered_by)
    assert rows == [{"household": mine["id"], "via": "paper", "entered_by": leader}]

    # The same through the API: a 班長 token of 2班 may enter 2班's household, not 1班's.
    han2 = await token_for(tenant, "han_leader", han="2班")
    api = f"/api/v1/notices/{notice}/answers"
    created = await client.post(api, json={"household_id": other["id"], "answer": "欠席", "via": "paper"},
                                headers=bearer(han2))
    assert created.status_code == 201, created.text
    assert (await client.post(api, json={"household_id": mine["id"], "answer": "欠席"}, headers=bearer(han2))).status_code == 403
    bad = await client.post(api, json={"household_id": other["id"], "answer": "たぶん"}, headers=bearer(han2))
    assert bad.status_code == 400 and bad.json()["errors"][0]["ja"]
    data = (await client.get(api, headers=bearer(await token_for(tenant)))).json()
    assert data["totals"] == {"出席": 1, "欠席": 1, "未回答": 0}
    # 班長's view through the API: only their 班.
    assert [h["han"] for h in (await client.get(api, headers=bearer(han2))).json()["households"]] == ["2班"]


async def test_vote_quorum_counts_proxies_and_written_votes(client, tenant):
    homes = [await make_household(tenant, f"会員{i}", han="1班" if i < 3 else "2班", channel="email",
                                  email=f"k{i}@example.jp") for i in range(6)]
    notice = await publish_question(client, tenant, {"kind": "vote", "motions": ["第1号議案 決算", "第2号議案 予算"]},
                                    title="定期総会のご案内")
    headers = await csrf_headers(client)

    async def answer(home, **data):
        response = await client.post("/r/" + await token_of(home["id"]) + "/answer", data=data, headers=headers)
        assert response.status_code == 303, response.text

    await answer(homes[0], choice="出席")
    await answer(homes[1], choice="委任状")  # to the chair
    await answer(homes[2], choice="書面表決", motion_1="賛成", motion_2="反対")
    page = await client.get("/r/" + await token_of(homes[3]["id"]))
    assert 'name="motion_2" value="反対"' in page.text and "委任状" in page.text
    missing = await client.post("/r/" + await token_of(homes[3]["id"]) + "/answer",
                                data={"choice": "書面表決", "motion_1": "賛成"}, headers=headers)
    assert missing.status_code == 400 and "第2号議案 予算" in missing.text

    result = await answering.results(tenant, None, notice)
    vote = result.vote
    assert vote["count_by"] == "household" and vote["eligible"] == 6 and vote["needed"] == 3
    assert vote["present"] == {"出席": 1, "委任状": 1, "書面表決": 1}
    assert vote["counted"] == 3 and vote["quorum_met"] is True
    assert vote["motions"] == [{"motion": "第1号議案 決算", "賛成": 1, "反対": 0},
                               {"motion": "第2号議案 予算", "賛成": 0, "反対": 1}]
    assert vote["proxies"] == {"議長": 1}

    # Per person: each household weighs its members; the quorum is no longer met.
    for i, home in enumerate(homes):
        for n in range(3 if i >= 3 else 1):
            await tenant.new(Member, household=home["id"], name=f"人{i}-{n}").save()
    await answering.save_vote_rules(tenant, "person", "50")
    vote = (await answering.results(tenant, None, notice)).vote
    assert vote["eligible"] == 12 and vote["needed"] == 6 and vote["counted"] == 3 and vote["quorum_met"] is False
    await answer(homes[4], choice="委任状", proxy="見本 次郎")  # 3 members
    vote = (await answering.results(tenant, None, notice)).vote
    assert vote["counted"] == 6 and vote["quorum_met"] is True and vote["proxies"] == {"議長": 1, "見本 次郎": 3}

    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    sheet = await client.get(f"/a/{tenant.slug}/notices/{notice}/answers/print")
    assert sheet.status_code == 200 and "総会 出席・議決結果" in sheet.text and "成立" in sheet.text
    page = await client.get(f"/a/{tenant.slug}/notices/{notice}/answers")
    assert "定足数に達しています" in page.text and "1人1票" in page.text
    saved = await client.post(f"/a/{tenant.slug}/answers/rules", data={"count_by": "household", "quorum_percent": "60",
                                                                       "back": f"/a/{tenant.slug}/notices/{notice}/answers"},
                              headers=await csrf_headers(client))
    assert saved.status_code == 303
    assert (await answering.vote_rules(tenant)).quorum_percent == 60


async def test_csv_has_a_bom_and_one_row_per_household(client, tenant):
    homes = [await make_household(tenant, name, han="1班", channel="paper") for name in ("=危ない", "普通")]
    notice = await publish_question(client, tenant, {"kind": "attendance"})
    headers = await csrf_headers(client)
    await client.post("/r/" + await token_of(homes[1]["id"]) + "/answer", data={"choice": "出席", "people": "2"},
                      headers=headers)
    await client.post("/r/" + await token_of(homes[1]["id"]) + "/answer", data={"choice": "出席", "people": "4"},
                      headers=headers)  # changed: still one row
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    response = await client.get(f"/a/{tenant.slug}/notices/{notice}/answers.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:7] == ["世帯番号", "世帯", "班", "届け方", "電話", "答え", "人数"]
    assert len(rows) == 3
    by_name = {row[1]: row for row in rows[1:]}
    assert by_name["'=危ない"][5] == "未回答"
    assert by_name["普通"][5:7] == ["出席", "4"]


async def test_paper_sheet_has_a_column_per_choice_and_slips_carry_each_households_qr(client, tenant):
    paper = await make_household(tenant, "紙 一", han="1班", channel="paper")
    await make_household(tenant, "メール 二", han="1班", channel="email", email="m2@example.jp")
    notice = await publish_question(client, tenant, {"kind": "choice", "choices": ["12月6日", "12月13日", "どちらでも"]})
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    han = await _han_id(tenant, "1班")
    sheet = await client.get(f"/a/{tenant.slug}/notices/{notice}/print?han={han}")
    assert sheet.status_code == 200
    assert "お返事欄" in sheet.text and "読んだ日" not in sheet.text
    assert '<th scope="col" class="col-choice">12月13日</th>' in sheet.text
    assert sheet.text.count('<td class="col-choice"></td>') == 2 * 3  # two households × three choices

    slips = await client.get(f"/a/{tenant.slug}/notices/{notice}/answers/slips")
    assert slips.status_code == 200
    assert "紙 一" in slips.text and "メール 二" not in slips.text and "<svg" in slips.text
    # The slip's QR is the household's own read link.
    token = await token_of(paper["id"])
    expected = segno.make(f"http://testserver/r/{token}", error="m").svg_inline(scale=3, border=2, dark="#000")
    assert expected.split('<path', 1)[1][:200] in slips.text


async def test_officer_enters_a_written_vote_from_a_paper_slip(client, tenant):
    home = await make_household(tenant, "紙 一", han="1班", channel="paper")
    notice = await publish_question(client, tenant, {"kind": "vote", "motions": ["第1号議案", "第2号議案"]})
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    base = f"/a/{tenant.slug}/notices/{notice}/answers"
    screen = await client.get(base + "/enter")
    assert 'name="motion_2" value="反対"' in screen.text
    posted = await client.post(f"{base}/{home['id']}", data={"choice": "書面表決", "motion_1": "賛成", "motion_2": "反対"},
                               headers=await csrf_headers(client))
    assert posted.status_code == 303
    vote = (await answering.results(tenant, None, notice)).vote
    assert vote["present"]["書面表決"] == 1
    assert vote["motions"][1] == {"motion": "第2号議案", "賛成": 0, "反対": 1}


async def test_a_bad_paper_entry_without_javascript_says_why(client, tenant):
    home = await make_household(tenant, "紙 一", han="1班", channel="paper")
    notice = await publish_question(client, tenant, {"kind": "attendance"})
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    base = f"/a/{tenant.slug}/notices/{notice}/answers"
    posted = await client.post(f"{base}/{home['id']}", data={"choice": "出席", "people": "99"},
                               headers=await csrf_headers(client))
    assert posted.status_code == 303
    page = await client.get(posted.headers["location"])
    assert "人数は1人から20人までです" in page.text
    assert await NoticeAnswer.count() == 0
