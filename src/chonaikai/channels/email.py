"""The e-mail channel: content rendered once per piece (``NoticeMail``, from the content port),
sent over several reused SMTP connections (``SMTPSender``), each with its read link and
one-click unsubscribe. Registered with the core as ``SPEC``."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime

from chonaikai.delivery import content
from chonaikai.delivery.channels import ChannelSpec, DeliveryJob, Outcome
from chonaikai.mail.compose import InvalidAddress, NoticeMail
from chonaikai.mail.smtp import SendResult, SMTPSender
from chonaikai.settings import Settings, get_settings

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
    # send() takes ``report``: each message's outcome is handed to the worker as soon as the
    # server accepts it (the worker records it in a group commit of a few ms).
    reports_progress = True

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
        parts = await content.source().mail_parts(notice_id)
        mail = None
        if parts is not None:
            title = (REMINDER_PREFIX if reminder else "") + parts.title
            mail = NoticeMail(title, parts.association_name, parts.text, parts.html, settings=self.settings,
                              choices=parts.choices, answer_deadline=parts.answer_deadline)
        self._mails[key] = mail
        if len(self._mails) > CACHED_NOTICES:
            self._mails.popitem(last=False)
        return mail

    async def send(
        self, batch: list[DeliveryJob], report: Callable[[Outcome], Awaitable[None]] | None = None
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        messages: list[tuple[str, bytes]] = []
        waiting: list[DeliveryJob] = []
        notice_ids = list({job.notice_id for job in batch})
        stamps = await content.source().stamps(notice_ids)
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
        async def reported(index: int, result: SendResult) -> None:
            if report is not None:
                await report(_outcome(waiting[index], result))

        results = await self.sender.send_many(messages, on_result=reported if report is not None else None)
        outcomes.extend(_outcome(job, result) for job, result in zip(waiting, results, strict=True))
        return outcomes


def _outcome(job: DeliveryJob, result: SendResult) -> Outcome:
    if result.ok:
        return Outcome.sent(job.delivery_id)
    if result.permanent:
        return Outcome.permanent(job.delivery_id, refusal_reason(result))
    return Outcome.retry(job.delivery_id, refusal_reason(result))


# A household on e-mail with something that looks like an address.
SPEC = ChannelSpec(name="email", reachable_sql="h.email LIKE '%_@_%'", sender=EmailChannel, label="メール")
