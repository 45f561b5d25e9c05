"""E-mail transport for officer alerts (``chonaikai.delivery.alerts``): one plain-text message."""

from __future__ import annotations

from chonaikai.delivery.alerts import PERMANENT, RETRY, SENT, AlertMessage
from chonaikai.mail.compose import InvalidAddress, single_part_message
from chonaikai.mail.smtp import send_one


async def send_alert_email(association_id: int, message: AlertMessage, retry_key: str) -> tuple[str, str]:
    try:
        data = single_part_message(message.email, message.subject, message.text, from_name=message.from_name)
    except InvalidAddress:
        return PERMANENT, "メールアドレスの形が正しくありません。"
    result = await send_one(message.email, data)
    if result.ok:
        return SENT, ""
    if result.permanent:
        return PERMANENT, f"メールが届きませんでした（{result.code or ''} {result.error[:120]}）。"
    return RETRY, "メールを送れませんでした。しばらくしてからもう一度試します。"
