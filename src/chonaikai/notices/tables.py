from piccolo.columns import Boolean, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from chonaikai.accounts.tables import Account
from chonaikai.roster.tables import Han, Household
from chonaikai.tenancy.tables import Association, City, association_column

DEFAULT_CATEGORIES = ("行事", "回覧", "防災", "ごみ", "会費", "その他")
AUDIENCES = ("all", "han", "officers")  # all households / chosen 班 / officers only
VISIBILITIES = ("public", "members")  # on the homepage / members only
STATUSES = ("draft", "scheduled", "published", "archived")


class Notice(Table, tablename="notice"):
    """お知らせ: one post on an association's board (also what a forwarded city circular becomes)."""

    association = association_column()
    title = Varchar(length=200)
    body = Text(default="")  # Markdown subset; rendered and sanitised on display
    category = Varchar(length=30, default="その他")
    audience = Varchar(length=10, default="all")
    visibility = Varchar(length=10, default="members")
    urgent = Boolean(default=False)
    pinned = Boolean(default=False)
    needs_confirmation = Boolean(default=False)
    answer_by = Date(null=True, default=None)
    status = Varchar(length=12, default="draft", index=True)
    publish_at = Timestamptz(null=True, default=None, index=True)  # when scheduled
    published_at = Timestamptz(null=True, default=None, index=True)
    edited_at = Timestamptz(null=True, default=None)  # edited after publishing: shows 「更新」
    author = ForeignKey(Account, null=True, on_delete=OnDelete.set_null)
    author_title = Varchar(length=50, default="")  # role title shown instead of a personal name
    source_city = ForeignKey(City, null=True, on_delete=OnDelete.set_null)  # forwarded city circular
    created_at = Timestamptz()
    updated_at = Timestamptz()
    # Title and body folded for search (NFKC, lower case, katakana as hiragana): 「ゴミ」 finds
    # 「ごみ」, 「２０２６」 finds 「2026」. Kept by notices.logic; rows made elsewhere are still
    # found by their raw title and body.
    search_text = Text(default="")
    # The one question the notice asks (notices.questions.Question as JSON; "" = 「読みました」)
    # and its answer-by time (UTC), kept as a column so the deadline-morning reminder finds it.
    question = Text(default="")
    answer_deadline = Timestamptz(null=True, default=None, index=True)
    answer_reminded_at = Timestamptz(null=True, default=None)  # the deadline-morning reminder went out


class NoticeHan(Table, tablename="notice_han"):
    """The 班 a notice with audience "han" goes to."""

    association = association_column()
    notice = ForeignKey(Notice, null=False, on_delete=OnDelete.cascade, index=True)
    han = ForeignKey(Han, null=False, on_delete=OnDelete.cascade)


class Attachment(Table, tablename="attachment"):
    """A PDF or image of a notice; the bytes live in the attachment store under ``storage_key``."""

    association = association_column()
    notice = ForeignKey(Notice, null=True, on_delete=OnDelete.cascade, index=True)
    filename = Varchar(length=200)
    content_type = Varchar(length=50)
    size_bytes = Integer()
    storage_key = Varchar(length=200, unique=True)
    position = Integer(default=0)
    created_at = Timestamptz()


class NoticeCategory(Table, tablename="notice_category"):
    """An association's own list of categories; none stored means DEFAULT_CATEGORIES."""

    association = association_column()
    name = Varchar(length=30)
    position = Integer(default=0)


class NoticeRead(Table, tablename="notice_read"):
    """A signed-in reader opened a notice: per household (members) or per account (officers
    without a household), so the list can mark what is still unread."""

    association = association_column()
    notice = ForeignKey(Notice, null=False, on_delete=OnDelete.cascade, index=True)
    household = ForeignKey(Household, null=True, on_delete=OnDelete.cascade)
    account = ForeignKey(Account, null=True, on_delete=OnDelete.cascade)
    read_at = Timestamptz()


class VoteRule(Table, tablename="vote_rule"):
    """How an association counts its 総会 (one row per association; none = per household, half).

    ``count_by``: "household" (one vote per household) or "person" (per member, as 認可地縁団体 must).
    ``quorum_percent``: the share of all votes (households or people), in percent, that
    出席 + 委任状 + 書面表決 must reach (at least) for the 総会 to stand.
    """

    association = ForeignKey(Association, null=False, on_delete=OnDelete.cascade, unique=True)
    count_by = Varchar(length=10, default="household")
    quorum_percent = Integer(default=50)
    updated_at = Timestamptz()


class NoticeAnswer(Table, tablename="notice_answer"):
    """Interim store of answers, used only through notices.answers until the delivery core's
    answers ledger takes over. Every answer is a row (history); the household's current one is
    the row with ``current`` set (last counts)."""

    association = association_column()
    notice = ForeignKey(Notice, null=False, on_delete=OnDelete.cascade, index=True)
    household = ForeignKey(Household, null=False, on_delete=OnDelete.cascade, index=True)
    value = Text(default="")
    people = Integer(null=True, default=None)
    comment = Text(default="")
    detail = Text(default="")  # JSON
    via = Varchar(length=10, default="web")
    entered_by = Integer(null=True, default=None)  # account id of an officer / 班長 who keyed it in
    current = Boolean(default=True)
    answered_at = Timestamptz()
