"""The question model: what an officer may ask, refused clearly when it makes no sense."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chonaikai.notices import questions
from chonaikai.notices.questions import QuestionError, QuestionKind, parse_answer, parse_question


def test_no_question_is_the_plain_confirm():
    assert parse_question(None).kind == "confirm"
    assert questions.load_question("").is_confirm


def test_choice_needs_two_to_six_choices():
    assert parse_question({"kind": "choice", "choices": ["第1候補", "第2候補"]}).choices == ("第1候補", "第2候補")
    for choices in (["ひとつ"], [f"案{i}" for i in range(7)], []):
        with pytest.raises(QuestionError) as error:
            parse_question({"kind": "choice", "choices": choices})
        assert "選択肢は2つから6つまで" in error.value.ja
    with pytest.raises(QuestionError, match="同じ選択肢"):
        parse_question({"kind": "choice", "choices": ["A", "A"]})


def test_unknown_kind_and_bad_types_are_refused():
    with pytest.raises(QuestionError, match="質問の種類"):
        parse_question({"kind": "poll"})
    with pytest.raises(QuestionError, match="multiple"):
        parse_question({"kind": "choice", "choices": ["A", "B"], "multiple": "yes"})
    with pytest.raises(QuestionError, match="複数は選べません"):
        parse_question({"kind": "attendance", "multiple": True})
    with pytest.raises(QuestionError, match="決まっています"):
        parse_question({"kind": "attendance", "choices": ["行く", "行かない"]})


def test_vote_needs_motions_and_deadline_must_be_ahead():
    with pytest.raises(QuestionError, match="議案"):
        parse_question({"kind": "vote"})
    vote = parse_question({"kind": "vote", "motions": ["第1号議案 決算", "第2号議案 予算"],
                           "deadline": "2099-12-20T18:00:00+09:00"})
    assert vote.choices == ("出席", "委任状", "書面表決")
    assert vote.deadline == datetime(2099, 12, 20, 9, 0, tzinfo=UTC)
    with pytest.raises(QuestionError, match="過ぎています"):
        parse_question({"kind": "choice", "choices": ["A", "B"], "deadline": "2020-01-01T00:00:00+09:00"})
    with pytest.raises(QuestionError, match="読めません"):
        parse_question({"kind": "choice", "choices": ["A", "B"], "deadline": "来週"})


def test_round_trip_through_storage():
    question = parse_question({"kind": "choice", "choices": ["A", "B", "C"], "multiple": True, "comment": True,
                               "deadline": (datetime.now(UTC) + timedelta(days=3)).isoformat()})
    again = questions.load_question(question.to_json())
    assert again == question


def test_answers_are_checked_against_the_question():
    attendance = parse_question({"kind": "attendance"})
    assert parse_answer(attendance, "出席", people="２").people == 2
    assert parse_answer(attendance, "欠席", people="5").people is None
    with pytest.raises(QuestionError, match="1人から20人"):
        parse_answer(attendance, "出席", people="21")
    with pytest.raises(QuestionError, match="この質問にありません"):
        parse_answer(attendance, "たぶん")
    multiple = parse_question({"kind": "choice", "choices": ["A", "B", "C"], "multiple": True})
    assert parse_answer(multiple, ["C", "A"]).value == "A、C"
    single = parse_question({"kind": "choice", "choices": ["A", "B"]})
    with pytest.raises(QuestionError, match="1つだけ"):
        parse_answer(single, ["A", "B"])
    vote = parse_question({"kind": "vote", "motions": ["第1号議案", "第2号議案"]})
    written = parse_answer(vote, "書面表決", motions={"第1号議案": "賛成", "第2号議案": "反対"})
    assert written.detail == {"motions": {"第1号議案": "賛成", "第2号議案": "反対"}}
    with pytest.raises(QuestionError, match="第2号議案"):
        parse_answer(vote, "書面表決", motions={"第1号議案": "賛成"})
    assert parse_answer(vote, "委任状").detail == {"proxy": "議長"}


def test_other_parts_register_their_own_kind():
    kind = questions.register_kind(QuestionKind(
        "test_safety", "安否", fixed_choices=("無事です", "助けが必要です", "不在・避難しています"), min_choices=3,
        notes=True, alert_choices=("助けが必要です",)))
    try:
        question = parse_question({"kind": "test_safety"})
        assert question.choices == kind.fixed_choices
        assert parse_answer(question, "助けが必要です", comment="足が悪い").comment == "足が悪い"
    finally:
        questions._KINDS.pop("test_safety")


async def test_a_kind_may_bring_its_own_read_page(client, tenant):
    from chonaikai.delivery.outbox import create_deliveries
    from chonaikai.notices import answering
    from tests.answers.helpers import token_of
    from tests.delivery.helpers import make_notice
    from tests.factories import make_household

    questions.register_kind(QuestionKind("test_light", "軽い", fixed_choices=("はい", "いいえ"),
                                         read_template="delivery/read_missing.html"))
    try:
        home = await make_household(tenant, "見本", han="1班", channel="paper")
        notice = await make_notice(tenant)
        await answering.set_question(tenant, notice, parse_question({"kind": "test_light"}))
        await create_deliveries(notice)
        page = await client.get("/r/" + await token_of(home["id"]))
        assert page.status_code == 200 and "一斉清掃のお知らせ" not in page.text  # the kind's own template
    finally:
        questions._KINDS.pop("test_light")


async def test_concurrent_answers_of_one_household_leave_one_current(tenant):
    import asyncio

    from chonaikai.delivery.outbox import create_deliveries
    from chonaikai.notices import answers
    from chonaikai.notices.questions import AnswerInput
    from chonaikai.notices.tables import NoticeAnswer
    from tests.delivery.helpers import make_notice
    from tests.factories import make_household

    home = await make_household(tenant, "見本", han="1班", channel="paper")
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    await asyncio.gather(*[
        answers.record_answer(tenant, notice, home["id"], AnswerInput(value=v), via="web") for v in ("A", "B", "C", "D")
    ])
    rows = await NoticeAnswer.select(NoticeAnswer.value, NoticeAnswer.current)
    assert len(rows) == 4 and sum(row["current"] for row in rows) == 1
    assert len(await answers.answer_history(tenant, notice, home["id"])) == 4
    assert len(await answers.current_answers(tenant, notice)) == 1
