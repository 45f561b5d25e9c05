from piccolo.columns import JSON, Boolean, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from chonaikai.accounts.tables import Account
from chonaikai.notices.tables import Notice
from chonaikai.tenancy.tables import City, association_column

TARGET_KINDS = ("all", "districts", "associations")
CIRCULAR_STATUSES = ("draft", "scheduled", "sent")
ENTRY_STATES = ("pending", "opened", "forwarded", "declined")


class Circular(Table, tablename="circular"):
    """回覧物: one circular a city sends to many associations at once."""

    city = ForeignKey(City, null=False, on_delete=OnDelete.restrict, index=True)
    title = Varchar(length=200)
    summary = Text(default="")  # plain text members read on a phone
    category = Varchar(length=30, default="回覧")
    target_kind = Varchar(length=15, default="all")
    target_districts = JSON(default="[]")  # chosen 地区 names (target_kind "districts")
    target_associations = JSON(default="[]")  # chosen association slugs (target_kind "associations")
    needs_confirmation = Boolean(default=False)
    answer_by = Date(null=True, default=None)
    status = Varchar(length=12, default="draft", index=True)
    publish_at = Timestamptz(null=True, default=None, index=True)  # when scheduled
    sent_at = Timestamptz(null=True, default=None)
    created_by = ForeignKey(Account, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()


class CircularAttachment(Table, tablename="circular_attachment"):
    """A PDF of a circular. It belongs to the city (not to one association); the bytes live in
    the upload folder under ``storage_key``, an unguessable name, so the link can be put in
    every forwarded notice without signing in."""

    city = ForeignKey(City, null=False, on_delete=OnDelete.restrict, index=True)
    circular = ForeignKey(Circular, null=False, on_delete=OnDelete.cascade, index=True)
    filename = Varchar(length=200)
    content_type = Varchar(length=50, default="application/pdf")
    size_bytes = Integer()
    storage_key = Varchar(length=64, unique=True)
    position = Integer(default=0)
    created_at = Timestamptz()


class CircularEntry(Table, tablename="circular_entry"):
    """One circular in one association's 「市からの回覧」 inbox; (circular, association) is unique
    (index in the migration) so sending twice creates nothing twice."""

    association = association_column()
    circular = ForeignKey(Circular, null=False, on_delete=OnDelete.cascade, index=True)
    state = Varchar(length=12, default="pending")
    opened_at = Timestamptz(null=True, default=None)
    forwarded_at = Timestamptz(null=True, default=None)
    declined_at = Timestamptz(null=True, default=None)
    decline_reason = Text(default="")  # shown to the city
    cover_note = Text(default="")
    notice = ForeignKey(Notice, null=True, on_delete=OnDelete.set_null, index=True)
    handled_by = ForeignKey(Account, null=True, on_delete=OnDelete.set_null)
    last_reminded_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


class CircularReminder(Table, tablename="circular_reminder"):
    """One 「催促」 to one association: who it was meant for and whether it went out yet.

    ``status`` is "recorded" until a mail sender picks it up ("sent") — see circulars.logic.remind.
    """

    association = association_column()
    circular = ForeignKey(Circular, null=False, on_delete=OnDelete.cascade, index=True)
    recipients = JSON(default="[]")  # e-mail addresses of the 会長 / 副会長
    status = Varchar(length=10, default="recorded")
    requested_by = ForeignKey(Account, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)
