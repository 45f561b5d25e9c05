"""City circulars (回覧物): create, send to many associations in bulk, forward or decline in each
association, and the city's dashboard — all plain async functions the routes and tests call.

Split by what it does: ``rules.py`` (limits, input checks), ``sending.py`` (create and send;
automatic forwarding publishes through the notices' publishing service), ``inbox.py`` (the
association's inbox: forward, decline), ``reminders.py`` (催促), ``dashboard.py`` (the city's
view, chart, CSV). This module gathers their names for the routes, the CLI and the tests.

Sending to 800 associations must take seconds: inbox entries are made with one INSERT … SELECT,
auto-forwarded notices with chunked multi-row inserts, and deliveries with the delivery core's
bulk enqueue. The dashboard aggregates in SQL (GROUP BY) and never selects a household column.
"""

from chonaikai.circulars.dashboard import *  # noqa: F403
from chonaikai.circulars.inbox import *  # noqa: F403
from chonaikai.circulars.reminders import *  # noqa: F403
from chonaikai.circulars.rules import *  # noqa: F403
from chonaikai.circulars.sending import *  # noqa: F403
