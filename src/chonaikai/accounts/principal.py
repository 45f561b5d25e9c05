"""Who is asking: the signed-in account (or household) with its role grants, and the checks on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from litestar import Request
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from chonaikai.accounts.credentials import SESSION_EPOCH_KEY, opened_by_household_credentials
from chonaikai.accounts.roles import ASSOCIATION_MATRIX, CITY_MATRIX, HAN_LIMITED, Permission, Role
from chonaikai.accounts.signed_in_cache import signed_in_cache
from chonaikai.db import fetch_rows, is_postgres
from chonaikai.roster.tables import Household
from chonaikai.tenancy.scope import Tenant


@dataclass(frozen=True)
class Grant:
    role: Role
    association_id: int | None = None
    city_id: int | None = None
    han_id: int | None = None
    household_id: int | None = None


@dataclass(frozen=True)
class Principal:
    account_id: int | None = None
    email: str = ""
    display_name: str = ""
    grants: tuple[Grant, ...] = field(default=())
    # (household, its 班) for the households of the grants, when loaded with them (the board's
    # 班-only notices); a household missing here is looked up.
    household_hans: tuple[tuple[int, int | None], ...] = field(default=())

    @property
    def is_authenticated(self) -> bool:
        return bool(self.grants) or self.account_id is not None

    def roles_in(self, association_id: int) -> frozenset[Role]:
        return frozenset(g.role for g in self.grants if g.association_id == association_id)

    def household_in(self, association_id: int) -> int | None:
        for grant in self.grants:
            if grant.association_id == association_id and grant.role == Role.MEMBER and grant.household_id:
                return grant.household_id
        return None

    def city_ids(self, permission: Permission) -> frozenset[int]:
        allowed = CITY_MATRIX.get(permission, frozenset())
        return frozenset(g.city_id for g in self.grants if g.city_id is not None and g.role in allowed)

    def access(self, permission: Permission, association_id: int) -> Access | None:
        """What this principal may do with ``permission`` in an association, or None."""
        allowed_roles = ASSOCIATION_MATRIX.get(permission, frozenset())
        grants = [g for g in self.grants if g.association_id == association_id and g.role in allowed_roles]
        if not grants:
            return None
        if permission in HAN_LIMITED and all(g.role == Role.HAN_LEADER for g in grants):
            return Access(permission, han_ids=frozenset(g.han_id for g in grants if g.han_id is not None))
        return Access(permission, han_ids=None)

    def can(self, permission: Permission, association_id: int) -> bool:
        return self.access(permission, association_id) is not None


ANONYMOUS = Principal()


@dataclass(frozen=True)
class Access:
    """A permission granted in one association; ``han_ids`` narrows it to some 班 (None: all)."""

    permission: Permission
    han_ids: frozenset[int] | None = None

    @property
    def whole_association(self) -> bool:
        return self.han_ids is None

    def covers_han(self, han_id: int | None) -> bool:
        return self.han_ids is None or (han_id is not None and han_id in self.han_ids)

    def household_filter(self):
        """A WHERE clause limiting households to the 班 this access covers (None: no limit)."""
        if self.han_ids is None:
            return None
        if not self.han_ids:
            return Household.id == -1
        return Household.han.is_in(list(self.han_ids))


def authorize(principal: Principal, tenant: Tenant, permission: Permission) -> Access:
    """The single gate for association pages: 401 for strangers, 403 for those without the role."""
    if not principal.is_authenticated:
        raise NotAuthorizedException("ログインしてください")
    access = principal.access(permission, tenant.id)
    if access is None:
        raise PermissionDeniedException("この操作をする権限がありません")
    return access


def authorize_city(principal: Principal, city_id: int, permission: Permission) -> None:
    if not principal.is_authenticated:
        raise NotAuthorizedException("ログインしてください")
    if city_id not in principal.city_ids(permission):
        raise PermissionDeniedException("この操作をする権限がありません")


# Everything a session's person is, in one statement: the session's household (its 班, whether it
# moved out, its credential epoch), the account and its role grants (with the 班 of a grant's
# household). Written as plain SQL for both databases (db.fetch_rows): composing it with Piccolo cost
# more than running it.
_PRINCIPAL_SQL = """
SELECT 0 AS kind, id AS i, association AS a, han AS b, credential_epoch AS c, CAST(NULL AS INTEGER) AS d,
       CASE WHEN moved_out THEN 1 ELSE 0 END AS e, CAST(NULL AS TEXT) AS t1, CAST(NULL AS TEXT) AS t2
  FROM household WHERE id = {}
UNION ALL
SELECT 1, id, NULL, NULL, NULL, NULL, NULL, email, display_name FROM account WHERE id = {}
UNION ALL
SELECT 2, g.id, g.association, g.city, g.han, g.household, hh.han, g.role, NULL
  FROM role_grant g LEFT JOIN household hh ON hh.id = g.household WHERE g.account = {}
"""


# The same, and the session row it starts from, in one statement: a signed-in page view whose
# session is not kept (accounts/signed_in_cache.py) costs one round trip. The ids are read from
# the session's JSON (Litestar's session serialisation) by the database.
_SESSION_ROW = """
SELECT -1 AS kind, 0 AS i, CAST(NULL AS INTEGER) AS a, CAST(NULL AS INTEGER) AS b, CAST(NULL AS INTEGER) AS c,
       CAST(NULL AS INTEGER) AS d, CAST(NULL AS INTEGER) AS e, CAST(NULL AS TEXT) AS t1, CAST(NULL AS TEXT) AS t2,
       s.value AS v, s.expires_at AS x, s.aid AS aid, s.hid AS hid FROM s
UNION ALL
SELECT 0, h.id, h.association, h.han, h.credential_epoch, NULL, CASE WHEN h.moved_out THEN 1 ELSE 0 END, NULL, NULL,
       NULL, NULL, NULL, NULL FROM household h JOIN s ON h.id = s.hid
UNION ALL
SELECT 1, a.id, NULL, NULL, NULL, NULL, NULL, a.email, a.display_name, NULL, NULL, NULL, NULL
  FROM account a JOIN s ON a.id = s.aid
UNION ALL
SELECT 2, g.id, g.association, g.city, g.han, g.household, hh.han, g.role, NULL, NULL, NULL, NULL, NULL
  FROM role_grant g JOIN s ON g.account = s.aid LEFT JOIN household hh ON hh.id = g.household
"""
_SESSION_SQLITE = """
WITH s AS (SELECT value, expires_at,
                  CAST(json_extract(CAST(value AS TEXT), '$.account_id') AS INTEGER) AS aid,
                  CAST(json_extract(CAST(value AS TEXT), '$.household_id') AS INTEGER) AS hid
             FROM web_session WHERE key = {})""" + _SESSION_ROW
_SESSION_POSTGRES = """
WITH s AS (SELECT value, expires_at,
                  (convert_from(value, 'UTF8')::jsonb ->> 'account_id')::integer AS aid,
                  (convert_from(value, 'UTF8')::jsonb ->> 'household_id')::integer AS hid
             FROM web_session WHERE key = {})""" + _SESSION_ROW
PERSON_ROWS = "chonaikai_person_rows"  # connection state: (account_id, household_id, rows) read with the session


async def session_with_person(stored_key: str) -> tuple[tuple[bytes, datetime | None] | None, Any]:
    """The session row (value, expires_at) and, read in the same statement, the rows of the
    person it names (for ``provide_principal``)."""
    rows = await fetch_rows(_SESSION_POSTGRES if is_postgres() else _SESSION_SQLITE, stored_key)
    head = next((row for row in rows if row["kind"] == -1), None)
    if head is None:
        return None, None
    expires_at = head["x"]
    if isinstance(expires_at, str):  # SQLite: a column of a UNION has no declared type to convert by
        expires_at = datetime.fromisoformat(expires_at)
    return (bytes(head["v"]), expires_at), (head["aid"], head["hid"], [row for row in rows if row["kind"] >= 0])


async def _resolve(account_id: int | None, household_id: int | None, epoch: int | None = None,
                   rows: list[dict[str, Any]] | None = None) -> Principal | None:
    """The principal of a session holding these; ``epoch``: the session was opened by the
    household's card or LINE at that credential epoch (None otherwise). None: such a session is
    no longer valid (accounts/credentials.py). ``rows``: read already with the session."""
    if rows is None:
        rows = await fetch_rows(_PRINCIPAL_SQL, household_id, account_id, account_id) if (household_id or account_id) else []
    rows.sort(key=lambda row: (row["kind"], row["i"]))
    household = next((row for row in rows if row["kind"] == 0), None)
    if epoch is not None and (household is None or household["e"] or household["c"] != epoch):
        return None
    household_grant = (
        Grant(Role.MEMBER, association_id=household["a"], household_id=household_id)
        if household is not None and not household["e"] else None
    )
    hans = {household_id: household["b"]} if household is not None else {}
    if account_id is not None:
        account = next((row for row in rows if row["kind"] == 1), None)
        if account is None:
            return ANONYMOUS
        grants = []
        for row in rows:
            if row["kind"] == 2:
                grants.append(Grant(role=Role(row["t1"]), association_id=row["a"], city_id=row["b"], han_id=row["c"],
                                    household_id=row["d"]))
                if row["d"] is not None:
                    hans.setdefault(row["d"], row["e"])
        if household_grant is not None:
            grants.insert(0, household_grant)  # the household signed in with comes first
        return Principal(account_id, account["t1"], account["t2"], tuple(grants), tuple(hans.items()))
    if household_grant is not None:
        return Principal(grants=(household_grant,), household_hans=tuple(hans.items()))
    return ANONYMOUS


async def load_principal(account_id: int | None = None, household_id: int | None = None) -> Principal:
    """The account's grants, plus membership of the session's household when there is one: a member
    signed in with a card or with the roster's e-mail address, or an officer who is also a member
    there (signed in with an address the roster holds) and keeps both."""
    return await _resolve(account_id, household_id) or ANONYMOUS


async def principal_from_bearer(authorization: str) -> Principal:
    """``Authorization: Bearer …`` → the token's Principal; a bad or revoked token is a 401."""
    from chonaikai.accounts.api_tokens import find_token

    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise NotAuthorizedException("Authorization: Bearer <token> を付けてください (bearer token required)")
    row = await find_token(secret.strip())
    if row is None:
        raise NotAuthorizedException("トークンが正しくないか、無効です (invalid or revoked token)")
    grant = Grant(role=Role(row["role"]), association_id=row["association"], city_id=row["city"], han_id=row["han"])
    return Principal(display_name=row["label"] or f"API token {row['id']}", grants=(grant,))


API_PREFIX = "/api/"


async def provide_principal(request: Request) -> Principal:
    """The dependency every page uses; loaded once per request.

    Under /api/ (other systems) a request is judged by its ``Authorization: Bearer …`` token alone,
    never by a session cookie (the session is not even loaded there, and /api/ is exempt from
    CSRF). Everywhere else by the session alone: a bearer token on a page opens nothing, so a
    page fetched with one is the page a stranger gets (page_cache.py may keep it for everyone).
    """
    cached = request.state.get("principal")
    if cached is not None:
        return cached
    if request.scope["path"].startswith(API_PREFIX):
        authorization = request.headers.get("authorization", "")
        # Other schemes (Basic from a proxy in front of a staging site) are nobody, not a 401.
        principal = await principal_from_bearer(authorization) if authorization[:7].lower() == "bearer " else ANONYMOUS
        request.state["principal"] = principal
        return principal
    session = request.scope.get("session")
    if not isinstance(session, dict):  # no session cookie: Litestar leaves a sentinel here
        session = {}
    if not session:
        request.state["principal"] = ANONYMOUS
        return ANONYMOUS
    # Who a session's person is depends only on these (and on the database: kept ≤ 1 s, see
    # signed_in_cache.py); a session found invalid is never kept, so it ends at its next request.
    key = ("principal", session.get("account_id"), session.get("household_id"),
           SESSION_EPOCH_KEY in session, session.get(SESSION_EPOCH_KEY))
    principal = signed_in_cache.get(key)
    if principal is None:
        generation = signed_in_cache.generation
        epoch = session.get(SESSION_EPOCH_KEY, 0) if opened_by_household_credentials(session) else None
        account_id, household_id = session.get("account_id"), session.get("household_id")
        read = request.state.get(PERSON_ROWS)  # with the session row, when it was not kept
        rows = read[2] if read is not None and read[:2] == (account_id, household_id) else None
        found = await _resolve(account_id, household_id, epoch, rows)
        if found is None:
            request.clear_session()  # opened by a card or LINE since replaced: ends here (row deleted)
            request.state["principal"] = ANONYMOUS
            return ANONYMOUS
        principal = found
        signed_in_cache.keep_watched(key, principal, generation)
    request.state["principal"] = principal
    return principal
