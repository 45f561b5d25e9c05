"""Answers pressed in LINE: the postback of a choice button becomes the household's answer.

The webhook has already checked LINE's signature, the postback's own signature (``messages.
parse_postback``) and which household the LINE user is linked to; this module turns the pressed
choice into an answer through the same path as the read page and writes the thank-you reply
naming the answer. 出席 asks for the number of people first (quick replies 1–10); 書面表決 and
several-choice questions need the page, so the reply is a button opening it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chonaikai.line import messages
from chonaikai.notices import answering
from chonaikai.notices.questions import WRITTEN, QuestionError
from chonaikai.tenancy.scope import Tenant

GONE = "このボタンは使えなくなりました。新しいお知らせのボタンを押してください。"


async def answer_postback(
    tenant: Tenant, delivery: dict[str, Any], postback: messages.Postback, open_url: Callable[[str], str]
) -> list[dict]:
    """The reply to an answer button. ``delivery``: the household's delivery row of the notice;
    ``open_url(token)``: a signed link opening the household's read page (for what LINE cannot ask)."""
    question = await answering.question_of(tenant, postback.notice_id)
    if question is None or question.is_confirm or postback.choice_index is None \
            or postback.choice_index >= len(question.choices):
        return [messages.text(GONE)]
    choice = question.choices[postback.choice_index]
    if question.closed():
        return [messages.text("締め切りを過ぎたので、お返事は受け付けられません。役員さんに直接お伝えください。")]
    if question.needs_people(choice) and not postback.people:
        return [messages.people_question(postback.notice_id, postback.choice_index, choice)]
    if question.multiple or (question.kind == "vote" and choice == WRITTEN):
        what = "いくつでも選べます" if question.multiple else "議案ごとに賛成・反対を選びます"
        return [messages.link_button(f"このお返事はお知らせのページで{what}。下のボタンから開いてください。",
                                     "お知らせを開く", open_url(delivery["token"]))]
    try:
        recorded = await answering.answer_by_token(
            delivery["token"], choice, people=postback.people or None, via="line", confirm_read=False
        )
    except answering.AnswerClosed:
        return [messages.text("締め切りを過ぎたので、お返事は受け付けられません。役員さんに直接お伝えください。")]
    except QuestionError as error:
        return [messages.text(error.ja)]
    if recorded is None:
        return [messages.text("このお知らせは見つかりませんでした。")]
    return [messages.answer_thanks(tenant.name, recorded.text, recorded.changed)]
