from piccolo.columns import ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from chonaikai.roster.tables import Household
from chonaikai.tenancy.tables import association_column

DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "printed")
PRIORITY_NORMAL, PRIORITY_URGENT, PRIORITY_SAFETY = 0, 1, 2
CONFIRMED_VIA = ("web", "line", "paper", "officer")


class Delivery(Table, tablename="delivery"):
    """One notice to one household: the outbox entry and the read receipt in one row.

    (notice, household) is unique (index made in the migration), so publishing twice
    creates nothing twice.
    """

    association = association_column()
    # The content's id (a notice). A plain integer here so the core imports nothing of notices;
    # the database keeps its foreign key (ON DELETE CASCADE) from the migration. No index of its
    # own: (notice, household) serves it, and every index costs each status change a write.
    notice = Integer()
    household = ForeignKey(Household, null=False, on_delete=OnDelete.cascade, index=True)
    channel = Varchar(length=10)  # email | line | paper
    status = Varchar(length=10, default="pending")
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(null=True, default=None)
    lease_until = Timestamptz(null=True, default=None)  # a worker holds the row until then
    last_error = Text(default="")  # in plain words for officers
    token = Varchar(length=64, unique=True)  # read link /r/{token}, ≥128 random bits
    retry_key = Varchar(length=36, null=True, default=None)  # X-Line-Retry-Key of the send it joined
    sent_at = Timestamptz(null=True, default=None)
    opened_at = Timestamptz(null=True, default=None)
    confirmed_at = Timestamptz(null=True, default=None)
    confirmed_via = Varchar(length=10, default="")
    created_at = Timestamptz()
    claimed_by = Varchar(length=40, null=True, default=None)  # the worker holding the lease
    reminded_at = Timestamptz(null=True, default=None)  # the last reminder (「未確認の世帯に再送」)
    reminders = Integer(default=0)  # how many reminders went to the household (each a further attempt)
    # Claimed before every row of a lower priority that is due (store.claim): 0 normal, 1 an
    # urgent notice, 2 a 安否確認. Kept through retries.
    priority = Integer(default=0)


class WorkerLock(Table, tablename="worker_lock"):
    """A named lease held by one worker (on SQLite only one worker may deliver at a time).

    Not owned by an association: it belongs to the installation.
    """

    name = Varchar(length=50, unique=True)
    holder = Varchar(length=100)
    lease_until = Timestamptz()


ALERT_STATUSES = ("pending", "sending", "sent", "failed", "no_address")


class DeliveryAlert(Table, tablename="delivery_alert"):
    """One message to one officer's account (not a household): 「市からの回覧が届きました」,
    「安否確認を始めました」. The content is made when it is sent, by the source registered for
    ``kind`` (``delivery.alerts``); claimed, leased and retried like deliveries.

    (kind, ref_id, account, channel) is unique (index made in the migration): telling twice
    sends nothing twice.
    """

    association = association_column()
    kind = Varchar(length=30)  # e.g. "circular" (ref_id: the inbox entry), "safety"
    ref_id = Integer()
    account = Integer(index=True)  # an account id (a plain integer: accounts sit below this app)
    channel = Varchar(length=10)  # email | line
    status = Varchar(length=12, default="pending")
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(null=True, default=None)
    lease_until = Timestamptz(null=True, default=None)
    claimed_by = Varchar(length=40, null=True, default=None)
    last_error = Text(default="")
    sent_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
