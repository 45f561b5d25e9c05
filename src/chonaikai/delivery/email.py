"""The e-mail channel: notices rendered once per notice (``NoticeMail``), sent over several
reused SMTP connections (``SMTPSender``), each with its read link and one-click unsubscribe."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from chonaikai.delivery.channels import DeliveryJob, Outcome
from chonaikai.mail.compose import InvalidAddress, NoticeMail
from chonaikai.mail.smtp import SendResult, SMTPSender
from chonaikai.notices.tables import Notice
from chonaikai.settings import Settings, get_settings
from chonaikai.tenancy.tables import Association

REASON_NO_ADDRESS = "メールアドレスが登録されていません。名簿でメールアドレスを確かめてください。"
REASON_BAD_ADDRESS = "メールアドレスの書き方が正しくありません。名簿でメールアドレスを確かめてください。"
REASON_SERVER_DOWN = "メールの送信サーバーにつながりませんでした。しばらくしてからもう一度送ります。"
REASON_NOTICE_GONE = "お知らせが削除されたため、送りませんでした。"
REMINDER_PREFIX = "【再送】"
CACHED_NOTICES = 64


def refusal_reason(result: SendResult) -> str:
    """A mail server's answer, in words an officer understands."""
    code = result.code
    if result.permanent:
        if code in (550, 551, 553):
            return "このメールアドレスは相手のメールサーバーで見つかりませんでした（宛先不明）。名簿のアドレスを確かめてください。"
        if code == 552:
            return "相手の受信箱がいっぱいで、受け取ってもらえませんでした。"
        return f"相手のメールサーバーに受け取りを断られました（コード {code}）。"
    if code is None:
        return REASON_SERVER_DOWN
    return f"相手のメールサーバーが一時的に受け取れませんでした（コード {code}）。しばらくしてからもう一度送ります。"


class EmailChannel:
    name = "email"
    batch_size = 200

    def __init__(self, settings: Settings | None = None, *, connections: int | None = None) -> None:
        self.settings = settings or get_settings()
        self.sender = SMTPSender(self.settings, connections=connections)
        # Keyed by the notice's updated_at too: a notice corrected after publishing is sent corrected.
        self._mails: OrderedDict[tuple[int, bool, datetime | None], NoticeMail | None] = OrderedDict()

    async def start(self) -> None:
        """Connections open on first use and stay open."""

    async def close(self) -> None:
        await self.sender.close()

    async def _mail(self, notice_id: int, reminder: bool, stamp: datetime | None = None) -> NoticeMail | None:
        key = (notice_id, reminder, stamp)
        if key in self._mails:
            self._mails.move_to_end(key)
            return self._mails[key]
        notice = await Notice.select(Notice.title, Notice.body, Notice.association, Notice.question,
                                     Notice.answer_deadline).where(
            Notice.id == notice_id
        ).first()
        mail = None
        if notice is not None:
            association = await Association.select(Association.name).where(
                Association.id == notice["association"]
            ).first()
            title = (REMINDER_PREFIX if reminder else "") + notice["title"]
            text, html = notice["body"], None
            try:
                from chonaikai.notices import render  # type: ignore[import-not-found]

                text, html = render.plain_text(notice["body"]), str(render.render_html(notice["body"]))
            except ImportError:  # the notice board's renderer is not in this build: plain text
                pass
            from chonaikai.notices.questions import load_question

            question = load_question(notice["question"], notice["answer_deadline"])
            mail = NoticeMail(
                title, association["name"] if association else "", text, html, settings=self.settings,
                choices=() if question.is_confirm else question.choices, answer_deadline=question.deadline_text(),
            )
        self._mails[key] = mail
        if len(self._mails) > CACHED_NOTICES:
            self._mails.popitem(last=False)
        return mail

    async def send(self, batch: list[DeliveryJob]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        messages: list[tuple[str, bytes]] = []
        waiting: list[DeliveryJob] = []
        notice_ids = list({job.notice_id for job in batch})
        stamps = {
            row["id"]: row["updated_at"]
            for row in await Notice.select(Notice.id, Notice.updated_at).where(Notice.id.is_in(notice_ids or [0]))
        }
        for job in batch:
            address = job.email.strip()
            if not address:
                outcomes.append(Outcome.permanent(job.delivery_id, REASON_NO_ADDRESS))
                continue
            mail = await self._mail(job.notice_id, job.reminder, stamps.get(job.notice_id))
            if mail is None:
                outcomes.append(Outcome.permanent(job.delivery_id, REASON_NOTICE_GONE))
                continue
            try:
                data = mail.for_recipient(address, job.token, name=job.household_name)
            except InvalidAddress:
                outcomes.append(Outcome.permanent(job.delivery_id, REASON_BAD_ADDRESS))
                continue
            messages.append((address, data))
            waiting.append(job)
        results = await self.sender.send_many(messages)
        for job, result in zip(waiting, results, strict=True):
            if result.ok:
                outcomes.append(Outcome.sent(job.delivery_id))
            elif result.permanent:
                outcomes.append(Outcome.permanent(job.delivery_id, refusal_reason(result)))
            else:
                outcomes.append(Outcome.retry(job.delivery_id, refusal_reason(result)))
        return outcomes
