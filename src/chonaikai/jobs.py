"""Scheduled work, in one place, run by the worker (``chonaikai worker``) between delivery rounds:

- notices scheduled by officers that came due are published (``notices.publishing``);
- the city's scheduled circulars are sent and recorded 催促 e-mails go out (``circulars``);
- alerts to officers (a circular arrived) are sent (``delivery.alerts``);
- at 09:00 local on a notice's answer-by date, its unconfirmed households are reminded
  (``notices.deadline``, when the officer asked for it);
- on a question's deadline day at 09:00, households that have not answered are reminded
  (``notices.answer_reminders``);
- expired sign-in sessions are purged (at most once every ``PURGE_EVERY``).

The worker itself (``chonaikai.delivery.worker``) only claims, sends and records; it is handed
``run_due`` and knows nothing of what it does.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from chonaikai.accounts.sessions import purge_expired_sessions
from chonaikai.circulars.logic import run_due as run_due_circulars
from chonaikai.delivery.alerts import send_due_alerts
from chonaikai.delivery.worker import Worker, registered_senders
from chonaikai.kept import freeze_start_up
from chonaikai.notices.answer_reminders import remind_unanswered
from chonaikai.notices.deadline import remind_due_deadlines
from chonaikai.notices.logic import publish_due_notices
from chonaikai.settings import Settings, get_settings
from chonaikai.wiring import wire

log = logging.getLogger(__name__)

PURGE_EVERY = timedelta(hours=1)
_last_purge: dict[str, datetime] = {}


async def purge_sessions_if_due(now: datetime) -> int | None:
    """Purge expired sessions unless that was done less than ``PURGE_EVERY`` ago."""
    last = _last_purge.get("sessions")
    if last is not None and now - last < PURGE_EVERY:
        return None
    _last_purge["sessions"] = now
    return await purge_expired_sessions()


async def run_due(now: datetime) -> None:
    """Everything scheduled that has come due; one failing job does not stop the others."""
    try:
        published = await publish_due_notices(now)
        if published:
            log.info("published %d scheduled notice(s)", len(published))
    except Exception:
        log.exception("publishing scheduled notices failed; trying again later")
    try:  # the city's scheduled circulars and pending 催促 e-mails
        await run_due_circulars(now)
    except Exception:
        log.exception("city circulars: scheduled sends or reminders failed; trying again later")
    try:  # 09:00 local on an answer-by date: remind those not yet confirmed (once per notice)
        reminded = await remind_due_deadlines(now)
        if reminded:
            log.info("reminded %d notice(s) on their answer-by date", len(reminded))
    except Exception:
        log.exception("morning-of-deadline reminders failed; trying again later")
    try:  # officers told at once: a circular arrived (delivery/alerts.py)
        told = await send_due_alerts()
        if told:
            log.info("sent %d alert(s) to officers", told)
    except Exception:
        log.exception("alerts to officers failed; trying again later")
    try:  # 09:00 on a question's deadline day: those who have not answered get it again
        reminded = await remind_unanswered(now)
        if reminded:
            log.info("queued %d deadline-morning reminder(s)", reminded)
    except Exception:
        log.exception("deadline-morning reminders failed; trying again later")
    try:
        purged = await purge_sessions_if_due(now)
        if purged:
            log.info("purged %d expired session(s)", purged)
    except Exception:
        log.exception("purging expired sessions failed; trying again later")


def make_worker(settings: Settings | None = None, **options) -> Worker:
    """The worker of ``chonaikai worker``: every registered channel, and the scheduled jobs."""
    wire()
    settings = settings or get_settings()
    return Worker(registered_senders(settings), settings=settings, due_jobs=run_due, **options)


async def run_worker_process(once: bool = False) -> int:
    """The ``chonaikai worker`` command: SIGTERM/SIGINT stop it gracefully."""
    import signal

    from chonaikai.db import get_engine, postgres_pool

    worker = make_worker()
    if get_settings().env != "test":  # as the web process does (app.py)
        freeze_start_up()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    log.info("worker %s started%s", worker.worker_id, " (--once)" if once else "")
    async with postgres_pool(get_engine()):
        return await worker.run(once=once)
