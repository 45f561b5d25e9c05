from piccolo.columns import Boolean, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from chonaikai.tenancy.tables import association_column

CHANNELS = ("email", "line", "paper")


class Han(Table, tablename="han"):
    """班: a block of neighbouring households, led by a 班長."""

    association = association_column()
    name = Varchar(length=50)
    position = Integer(default=0)


class Household(Table, tablename="household"):
    """世帯: the unit of delivery and of read receipts."""

    association = association_column()
    han = ForeignKey(Han, null=True, on_delete=OnDelete.set_null, index=True)
    name = Varchar(length=100)  # 世帯主
    kana = Varchar(length=200, default="")  # フリガナ
    address = Varchar(length=300, default="")
    phone = Varchar(length=50, default="")
    email = Varchar(length=254, default="")
    channel = Varchar(length=10, default="paper", choices=None)
    notes = Text(default="")
    moved_out = Boolean(default=False)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    # Account id of whoever changed the row last. A plain integer, not a foreign key: the accounts
    # app depends on this one, and the audit log holds the full history anyway.
    updated_by = Integer(null=True, default=None)
    # Set when 会長 erased the personal fields of a household that moved out (only counts remain).
    erased_at = Timestamptz(null=True, default=None)
    # 要支援: needs help to evacuate (as for the city's 避難行動要支援者名簿). Set only with the
    # household's consent, whose date is kept; listed first in 安否確認 for officers and 班長.
    needs_support = Boolean(default=False)
    support_consent_on = Date(null=True, default=None)
    # Raised when the household's credentials change (card replaced, LINE unlinked or blocked,
    # moved out, erased): a session its card or LINE opened holds the value it had, and ends
    # once it differs (accounts/credentials.py).
    credential_epoch = Integer(default=0)


class Member(Table, tablename="member"):
    """A person living in a household."""

    association = association_column()
    household = ForeignKey(Household, null=False, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=100)
    kana = Varchar(length=200, default="")
    relation = Varchar(length=30, default="")  # 続柄
