"""Mail sent on someone's behalf is bounded per account per hour: city staff's 催促 (each one
mails the officers of every association that has not passed a circular on) and officer
invitations (each one mails any address typed). Over the bound the action is refused with 429
and a Japanese page; nothing is sent. The counters are shared through the database.
"""

from __future__ import annotations

from datetime import timedelta

from litestar.exceptions import ClientException

from chonaikai.accounts import ratelimit

WINDOW = timedelta(hours=1)
REMINDS_PER_HOUR = 10
INVITES_PER_HOUR = 20


class TooOften(ClientException):
    status_code = 429


async def count_or_refuse(action: str, account_id: int | None, limit: int) -> None:
    """Count one ``action`` by ``account_id``, or raise TooOften when the hour's bound is reached."""
    bucket = f"{action}:account:{account_id}"
    if await ratelimit.over_limit(bucket, limit, WINDOW):
        raise TooOften("短い時間に何度も送りました。1時間ほどたってから、もう一度お試しください。")
    await ratelimit.record(bucket)
