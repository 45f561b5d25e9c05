"""Start-up wiring: the content sources and channels the delivery core works with.

The core (``chonaikai.delivery``) names no producer and no channel; they are registered here,
once, by every entry point (the web app, the worker, the command line, the tests). Adding a
channel (SMS, a voice call for 安否確認) means one module with a ``ChannelSpec`` and one line
here.
"""

from __future__ import annotations

from chonaikai.channels import alert_email, email, paper
from chonaikai.circulars import alerts as circular_alerts
from chonaikai.delivery import alerts, channels, content
from chonaikai.line import alert_transport as line_alerts
from chonaikai.line import channel as line
from chonaikai.notices.answering import read_page_extension
from chonaikai.notices.outgoing import NoticeContent
from chonaikai.safety import alerts as safety_alerts

CHANNEL_SPECS = (email.SPEC, line.SPEC, paper.SPEC)


def wire() -> None:
    """Register the notice content source and the e-mail, LINE and paper channels (idempotent)."""
    content.register(NoticeContent())
    content.register_read_extension(read_page_extension)  # a notice's question on its read page
    for spec in CHANNEL_SPECS:
        channels.register(spec)
    # Alerts to officers' accounts (delivery/alerts.py): how they travel, and what a circular says.
    alerts.register_transport("email", alert_email.send_alert_email)
    alerts.register_transport("line", line_alerts.send_alert_line)
    alerts.register_source(circular_alerts.KIND, circular_alerts.render_alert)
    alerts.register_source(safety_alerts.KIND, safety_alerts.render_alert)
