"""The tables of 安否確認.

A check is carried to the households by one urgent notice of the association (``notice``), so
its deliveries, read links, LINE messages and paper sheets are the notice's, and its answers are
kept in the one answers ledger against that notice (see store.py).
"""

from piccolo.columns import Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from chonaikai.notices.tables import Notice
from chonaikai.tenancy.tables import City, association_column


class SafetyCityBatch(Table, tablename="safety_city_batch"):
    """City staff started a check for every association of the city (or of some 地区) at once."""

    city = ForeignKey(City, null=False, on_delete=OnDelete.restrict, index=True)
    title = Varchar(length=100)
    message = Text(default="")
    drill = Boolean(default=False)
    districts = Text(default="")  # the chosen 地区, one per line; empty: every association
    started_by = Integer(null=True, default=None)  # account id
    started_by_label = Varchar(length=100, default="")
    created_at = Timestamptz()


class SafetyCheck(Table, tablename="safety_check"):
    """One 安否確認 in one association."""

    association = association_column()
    notice = ForeignKey(Notice, null=True, on_delete=OnDelete.set_null, index=True)
    title = Varchar(length=100)
    message = Text(default="")
    drill = Boolean(default=False)  # 訓練: labelled everywhere, never in real statistics
    started_by = Integer(null=True, default=None)  # account id (None: city staff or a token)
    started_by_label = Varchar(length=100, default="")  # 会長, 防災, 市職員 …
    city_batch = ForeignKey(SafetyCityBatch, null=True, on_delete=OnDelete.set_null, index=True)
    created_at = Timestamptz()
    closed_at = Timestamptz(null=True, default=None)


class SafetyBatchCheck(Table, tablename="safety_batch_check"):
    """The check of each association in a city batch (an association that already had a check open
    when the city started one joins the batch with it instead of getting a second)."""

    association = association_column()
    city_batch = ForeignKey(SafetyCityBatch, null=False, on_delete=OnDelete.cascade, index=True)
    safety_check = ForeignKey(SafetyCheck, null=False, on_delete=OnDelete.cascade, index=True)
