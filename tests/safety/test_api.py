"""The 安否確認 API: start by token, officers' results, answers by officer or that 班's 班長, the city
(counts only), drills kept apart."""

from __future__ import annotations

import json

from chonaikai.accounts.api_tokens import create_token
from chonaikai.safety.tables import SafetyCheck
from tests.factories import make_association, make_household


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_start_results_and_answers_by_token(client, tenant, households):
    chair = (await create_token(role="chair", association_slug="sakura")).secret
    han2 = (await create_token(role="han_leader", association_slug="sakura", han_name="2班")).secret
    editor = (await create_token(role="editor", association_slug="sakura")).secret
    assert (await client.post("/api/v1/associations/sakura/safety-checks", json={"title": "地震の安否確認"})).status_code == 401
    assert (await client.post("/api/v1/associations/sakura/safety-checks", json={"title": "x"},
                              headers=bearer(editor))).status_code == 403
    started = await client.post("/api/v1/associations/sakura/safety-checks", json={"title": "地震の安否確認", "drill": False},
                                headers=bearer(chair))
    assert started.status_code == 201, started.text
    check_id = started.json()["id"]

    ichiro, taro = households["ichiro"]["id"], households["taro"]["id"]
    answer = await client.post(f"/api/v1/safety-checks/{check_id}/answers",
                               json={"household_id": ichiro, "answer": "safe", "via": "phone"}, headers=bearer(han2))
    assert answer.status_code == 201, answer.text
    refused = await client.post(f"/api/v1/safety-checks/{check_id}/answers",
                                json={"household_id": taro, "answer": "safe", "via": "visit"}, headers=bearer(han2))
    assert refused.status_code == 403
    bad = await client.post(f"/api/v1/safety-checks/{check_id}/answers",
                            json={"household_id": taro, "answer": "maybe", "via": "visit"}, headers=bearer(chair))
    assert bad.status_code == 400
    wrong_type = await client.post(f"/api/v1/safety-checks/{check_id}/answers",
                                   json={"household_id": "太郎", "answer": "safe"}, headers=bearer(chair))
    assert wrong_type.status_code == 400
    help_ = await client.post(f"/api/v1/safety-checks/{check_id}/answers",
                              json={"household_id": taro, "answer": "need_help", "via": "visit", "note": "けが"},
                              headers=bearer(chair))
    assert help_.status_code == 201

    results = (await client.get(f"/api/v1/safety-checks/{check_id}", headers=bearer(chair))).json()
    assert results["totals"] == {"safe": 1, "need_help": 1, "away": 0, "unknown": 2}
    assert results["by_han"]["1班"]["need_help"] == 1 and results["by_han"]["2班"]["safe"] == 1
    first = results["households"][0]
    assert first == {"household_id": taro, "han": "1班", "answer": "need_help", "note": "けが",
                     "answered_via": "visit", "answered_at": first["answered_at"], "needs_support": False}
    assert results["households"][1]["needs_support"] is True  # 要支援 未確認 next
    # A 班長's token sees their 班 only.
    own = (await client.get(f"/api/v1/safety-checks/{check_id}", headers=bearer(han2))).json()
    assert {h["han"] for h in own["households"]} == {"2班"}
    assert (await client.get(f"/api/v1/safety-checks/{check_id + 999}", headers=bearer(chair))).status_code == 404


async def test_city_start_creates_a_check_in_each_association_and_shows_counts_only(client, city, tenant, households):
    from chonaikai.tenancy.tables import Association

    await Association.update({Association.district: "北地区"}).where(Association.id == tenant.id)
    south = await make_association(city, slug="minami", name="南町内会", han=["1班"], district="南地区")
    await make_household(south, "南 次郎", "1班", phone="024-999-0000", address="南町1", channel="paper")
    token = (await create_token(role="city_staff", city_slug=city["slug"])).secret
    chair = (await create_token(role="chair", association_slug="sakura")).secret

    unknown = await client.post(f"/api/v1/cities/{city['slug']}/safety-checks",
                                json={"title": "地震の安否確認", "districts": ["東地区"]}, headers=bearer(token))
    assert unknown.status_code == 400 and await SafetyCheck.count() == 0
    only_north = await client.post(f"/api/v1/cities/{city['slug']}/safety-checks",
                                   json={"title": "地震の安否確認", "districts": ["北地区"]}, headers=bearer(token))
    assert only_north.status_code == 201
    assert [c["association"] for c in only_north.json()["checks"]] == ["sakura"]
    everyone = await client.post(f"/api/v1/cities/{city['slug']}/safety-checks",
                                 json={"title": "地震の安否確認"}, headers=bearer(token))
    batch = everyone.json()
    assert sorted(c["association"] for c in batch["checks"]) == ["minami", "sakura"]
    sakura_check = next(c["id"] for c in batch["checks"] if c["association"] == "sakura")
    await client.post(f"/api/v1/safety-checks/{sakura_check}/answers",
                      json={"household_id": households["taro"]["id"], "answer": "need_help", "via": "phone"},
                      headers=bearer(chair))

    view = await client.get(f"/api/v1/cities/{city['slug']}/safety-checks/{batch['id']}", headers=bearer(token))
    assert view.status_code == 200
    body = view.json()
    assert body["totals"] == {"safe": 0, "need_help": 1, "away": 0, "unknown": 4}
    assert body["by_district"]["北地区"]["need_help"] == 1 and body["by_district"]["南地区"]["unknown"] == 1
    assert body["not_reported"] == ["minami"] and body["not_started"] == []
    text = json.dumps(body, ensure_ascii=False)
    for personal in ("見本", "仮野", "南 次郎", "024-", "桜町1-", "南町1", "household_id", "phone"):
        assert personal not in text
    # The city's page too.
    assert (await client.get(f"/api/v1/safety-checks/{sakura_check}", headers=bearer(token))).status_code == 403


async def test_drill_is_labelled_and_kept_out_of_real_counts(client, city, tenant, households):
    token = (await create_token(role="city_staff", city_slug=city["slug"])).secret
    chair = (await create_token(role="chair", association_slug="sakura")).secret
    drill = (await client.post(f"/api/v1/cities/{city['slug']}/safety-checks",
                               json={"title": "地震の安否確認", "drill": True}, headers=bearer(token))).json()
    real = (await client.post(f"/api/v1/cities/{city['slug']}/safety-checks",
                              json={"title": "地震の安否確認"}, headers=bearer(token))).json()
    drill_check, real_check = drill["checks"][0]["id"], real["checks"][0]["id"]
    assert drill_check != real_check
    await client.post(f"/api/v1/safety-checks/{drill_check}/answers",
                      json={"household_id": households["taro"]["id"], "answer": "safe", "via": "visit"}, headers=bearer(chair))
    real_view = (await client.get(f"/api/v1/cities/{city['slug']}/safety-checks/{real['id']}", headers=bearer(token))).json()
    drill_view = (await client.get(f"/api/v1/cities/{city['slug']}/safety-checks/{drill['id']}", headers=bearer(token))).json()
    assert real_view["drill"] is False and real_view["totals"]["safe"] == 0
    assert drill_view["drill"] is True and drill_view["totals"]["safe"] == 1
    assert (await client.get(f"/api/v1/safety-checks/{drill_check}", headers=bearer(chair))).json()["drill"] is True
