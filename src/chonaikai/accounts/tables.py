from piccolo.columns import Boolean, Bytea, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from chonaikai.roster.tables import Han, Household
from chonaikai.tenancy.tables import Association, City


class Account(Table, tablename="account"):
    """A person who signs in: an officer, a member with e-mail, or city staff."""

    email = Varchar(length=254, unique=True, index=True)  # stored lower-case
    display_name = Varchar(length=100, default="")
    created_at = Timestamptz()
    last_sign_in_at = Timestamptz(null=True, default=None)


class RoleGrant(Table, tablename="role_grant"):
    """One role of one account: in an association (officer or member) or in a city (city staff)."""

    account = ForeignKey(Account, null=False, on_delete=OnDelete.cascade, index=True)
    role = Varchar(length=20)
    association = ForeignKey(Association, null=True, on_delete=OnDelete.cascade, index=True)
    city = ForeignKey(City, null=True, on_delete=OnDelete.cascade, index=True)
    han = ForeignKey(Han, null=True, on_delete=OnDelete.cascade)  # 班長: their 班
    household = ForeignKey(Household, null=True, on_delete=OnDelete.cascade)  # member: their household
    granted_by = ForeignKey(Account, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()


class SignInToken(Table, tablename="sign_in_token"):
    """A one-time sign-in: an e-mailed link (for an account) or a printed card (for a household).

    Only a hash of the secret is stored, so a leaked database does not let anyone sign in.
    """

    secret_hash = Varchar(length=64, unique=True, index=True)
    purpose = Varchar(length=20)  # "email_link" | "card"
    account = ForeignKey(Account, null=True, on_delete=OnDelete.cascade)
    household = ForeignKey(Household, null=True, on_delete=OnDelete.cascade)
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    # A card's short code is an id part and a secret part: ``lookup`` is the HMAC of the id
    # part, and ``failed_attempts`` counts wrong secrets typed with it (roster/cards.py).
    lookup = Varchar(length=64, null=True, default=None, index=True)
    failed_attempts = Integer(default=0)


class WebSession(Table, tablename="web_session"):
    """Server-side sessions, shared by every web process through the database."""

    key = Varchar(length=128, unique=True, index=True)
    value = Bytea()
    expires_at = Timestamptz(null=True, default=None, index=True)


class RateLimitHit(Table, tablename="rate_limit_hit"):
    """One counted attempt (sign-in requests per address and per client), shared across processes."""

    bucket = Varchar(length=300, index=True)
    created_at = Timestamptz(index=True)


class AuditEntry(Table, tablename="audit_entry"):
    """Who did what, when: roster views, exports, imports, changes, sign-ins."""

    association = ForeignKey(Association, null=True, on_delete=OnDelete.restrict, index=True)
    city = ForeignKey(City, null=True, on_delete=OnDelete.restrict)
    account = ForeignKey(Account, null=True, on_delete=OnDelete.set_null)
    household = ForeignKey(Household, null=True, on_delete=OnDelete.set_null)
    action = Varchar(length=50)
    detail = Text(default="")
    created_at = Timestamptz(index=True)


class ApiToken(Table, tablename="api_token"):
    """A bearer token for another system (a city's or an association's), acting with one role
    in one city or one association (and one 班 for a 班長 token).

    Only a hash of the secret is stored; the secret is shown once when the token is made.
    """

    secret_hash = Varchar(length=64, unique=True, index=True)
    label = Varchar(length=100, default="")
    role = Varchar(length=20)
    association = ForeignKey(Association, null=True, on_delete=OnDelete.cascade, index=True)
    city = ForeignKey(City, null=True, on_delete=OnDelete.cascade, index=True)
    han = ForeignKey(Han, null=True, on_delete=OnDelete.cascade)
    created_at = Timestamptz()
    last_used_at = Timestamptz(null=True, default=None)
    revoked = Boolean(default=False)
