"""LINE transport for officer alerts (``chonaikai.delivery.alerts``): a text pushed to the
officer's LINE users through the association's channel (one multicast, with a retry key)."""

from __future__ import annotations

from chonaikai.delivery.alerts import PERMANENT, RETRY, SENT, AlertMessage
from chonaikai.line.api import LineApi
from chonaikai.line.api import Outcome as LineOutcome
from chonaikai.line.config import LineNotConfigured, channel_for_association


async def send_alert_line(association_id: int, message: AlertMessage, retry_key: str) -> tuple[str, str]:
    try:
        channel = await channel_for_association(association_id)
    except LineNotConfigured:
        return PERMANENT, "この町内会のLINEは設定されていません。"
    async with LineApi(channel) as api:
        outcome = await api.multicast(
            list(message.line_user_ids), [{"type": "text", "text": message.line_text[:4900]}], retry_key
        )
    if outcome.delivered:
        return SENT, ""
    if outcome.outcome in (LineOutcome.REJECTED, LineOutcome.QUOTA):
        return PERMANENT, "LINEで送れませんでした（送信上限か、LINEに断られました）。"
    return RETRY, "LINEで送れませんでした。しばらくしてからもう一度試します。"
