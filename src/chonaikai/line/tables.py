from piccolo.columns import Boolean, ForeignKey, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from chonaikai.roster.tables import Household
from chonaikai.tenancy.tables import association_column


class LineLink(Table, tablename="line_link"):
    """A LINE user who receives a household's notices through one channel.

    (channel_id, line_user_id) is unique (index in the migration): one LINE user speaks for
    one household per channel. A household may have several (two phones in one home).
    ``active`` turns false when the user blocks the account (unfollow); the row stays so a
    later unblock (follow again) restores the link without a new code.
    """

    association = association_column()
    household = ForeignKey(Household, null=False, on_delete=OnDelete.cascade, index=True)
    channel_id = Varchar(length=64)
    line_user_id = Varchar(length=64)
    display_name = Varchar(length=100, default="")
    active = Boolean(default=True)
    linked_at = Timestamptz()
    unlinked_at = Timestamptz(null=True, default=None)


class LineWebhookEvent(Table, tablename="line_webhook_event"):
    """Every webhook event handled, by its ``webhookEventId``: LINE redelivers, we act once."""

    webhook_event_id = Varchar(length=64, unique=True)
    channel_id = Varchar(length=64)
    event_type = Varchar(length=30)
    received_at = Timestamptz(index=True)
