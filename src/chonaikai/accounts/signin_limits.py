"""How often the sign-in form sends mail, and how it slows down addresses asking too often.

The form accepts every well-formed request and answers the same page to each (no account
discovery, nobody refused). What is limited is the mail sent to one address: after a mail, the
next one goes out only after a gap that doubles with each mail of the hour (1, 2, 4, 8 minutes)
up to MAX_GAP. The gap never exceeds a link's lifetime (15 minutes), so whoever asks for an
address's link — its owner or anyone else — the owner's inbox always holds a link that still
works: asking for someone's mail can neither lock them out nor flood their inbox (at most
about 10 mails an hour). A client address asking very often is slowed down, not refused
(mobile carriers put many members behind one address).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from chonaikai.accounts import ratelimit
from chonaikai.accounts.signin import EMAIL_LINK_LIFETIME

FIRST_GAP = timedelta(minutes=1)
MAX_GAP = timedelta(minutes=10)
MAIL_WINDOW = timedelta(hours=1)
REQUESTS_PER_CLIENT = 20  # in MAIL_WINDOW; beyond it, answers are slowed down
SLOW_DOWN_SECONDS = 2.0

assert MAX_GAP < EMAIL_LINK_LIFETIME  # the latest mail's link is alive whenever no new one is sent


def gap_after(mails: int) -> timedelta:
    if mails <= 0:
        return timedelta(0)
    return min(MAX_GAP, FIRST_GAP * 2 ** (mails - 1))


async def mail_due(address: str) -> bool:
    """Whether a request for ``address`` sends a mail now (and counts it if so)."""
    bucket = f"signin:mail:{address}"
    mails, last = await ratelimit.recent(bucket, MAIL_WINDOW)
    if last is not None and datetime.now(UTC) - last < gap_after(mails):
        return False
    await ratelimit.record(bucket)
    return True


async def slow_down(client: str) -> None:
    bucket = f"signin:client:{client}"
    if await ratelimit.over_limit(bucket, REQUESTS_PER_CLIENT, MAIL_WINDOW):
        await asyncio.sleep(SLOW_DOWN_SECONDS)
    await ratelimit.record(bucket)
