"""The tally of a check: one answer per household (the newest), history kept, urgent ones first."""

from __future__ import annotations

import pytest

from chonaikai.accounts.principal import Access
from chonaikai.accounts.roles import Permission
from chonaikai.notices.tables import Notice
from chonaikai.roster.tables import Han
from chonaikai.safety import logic
from chonaikai.safety.logic import StartInput


async def test_start_publishes_one_urgent_notice_and_a_double_tap_starts_nothing_twice(tenant, households):
    check_id = await logic.start_check(tenant, StartInput(title="地震の安否確認"), started_by_label="会長")
    again = await logic.start_check(tenant, StartInput(title="地震の安否確認"), started_by_label="会長")
    assert again == check_id
    check = await logic.get_check(tenant, check_id)
    notice = await Notice.select().where(Notice.id == check["notice"]).first()
    assert notice["status"] == "published" and notice["urgent"] and notice["pinned"] and notice["category"] == "防災"
    assert "黄色い ハンカチ" in notice["body"]
    assert await Notice.count() == 1


async def test_drill_is_labelled_and_kept_apart_from_a_real_check(tenant, households):
    drill_id = await logic.start_check(tenant, StartInput(title="地震の安否確認", drill=True))
    real_id = await logic.start_check(tenant, StartInput(title="地震の安否確認"))
    assert drill_id != real_id
    drill = await logic.get_check(tenant, drill_id)
    notice = await Notice.select().where(Notice.id == drill["notice"]).first()
    assert notice["title"] == "【訓練】地震の安否確認" and "これは 訓練です" in notice["body"]


async def test_newest_answer_counts_history_kept_and_urgent_first(tenant, households):
    check_id = await logic.start_check(tenant, StartInput())
    taro, hanako, ichiro = households["taro"]["id"], households["hanako"]["id"], households["ichiro"]["id"]
    await logic.record_answer(tenant, check_id, taro, "safe", via="web")
    await logic.record_answer(tenant, check_id, taro, "need_help", via="line", note="けが")
    await logic.record_answer(tenant, check_id, ichiro, "safe", via="cloth", entered_by_label="班長")
    check = await logic.get_check(tenant, check_id)
    result = await logic.results(tenant, check)
    assert result.totals == {"safe": 1, "need_help": 1, "away": 0, "unknown": 2}
    assert [row.household_id for row in result.rows[:2]] == [taro, hanako]  # need help, then 要支援 unknown
    assert [row.household_id for row in result.urgent] == [taro, hanako]
    history = await logic.answer_history(tenant, check_id, taro)
    assert [(h["value"], h["via"]) for h in history] == [("safe", "web"), ("need_help", "line")]
    by_han = {h.name: h.counts for h in result.by_han}
    assert by_han["1班"] == {"safe": 0, "need_help": 1, "away": 0, "unknown": 1}
    assert by_han["2班"] == {"safe": 1, "need_help": 0, "away": 0, "unknown": 1}


async def test_a_han_leader_records_only_in_their_own_han(tenant, households):
    check_id = await logic.start_check(tenant, StartInput())
    han1 = (await tenant.select(Han, Han.id).where(Han.name == "1班").first())["id"]
    access = Access(Permission.SAFETY_RECORD, han_ids=frozenset({han1}))
    await logic.record_answer(tenant, check_id, households["hanako"]["id"], "no_response", via="visit", access=access)
    with pytest.raises(logic.NotYourHan):
        await logic.record_answer(tenant, check_id, households["ichiro"]["id"], "safe", via="visit", access=access)
    with pytest.raises(logic.SafetyError):
        await logic.record_answer(tenant, check_id, households["taro"]["id"], "need_help", via="visit", note="お金")


async def test_closed_check_refuses_answers(tenant, households):
    check_id = await logic.start_check(tenant, StartInput())
    assert await logic.close_check(tenant, check_id)
    with pytest.raises(logic.SafetyError, match="終わりました"):
        await logic.record_answer(tenant, check_id, households["taro"]["id"], "safe", via="web")
