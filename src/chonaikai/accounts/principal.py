"""Who is asking: the signed-in account (or household) with its role grants, and the checks on them."""

from __future__ import annotations

from dataclasses import dataclass, field

from litestar import Request
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from chonaikai.accounts.credentials import SESSION_EPOCH_KEY, session_still_valid
from chonaikai.accounts.roles import ASSOCIATION_MATRIX, CITY_MATRIX, HAN_LIMITED, Permission, Role
from chonaikai.accounts.signed_in_cache import signed_in_cache
from chonaikai.accounts.tables import Account, RoleGrant
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


async def _household_grant(household_id: int) -> Grant | None:
    row = await Household.select(Household.association, Household.moved_out).where(Household.id == household_id).first()
    if row is None or row["moved_out"]:
        return None
    return Grant(Role.MEMBER, association_id=row["association"], household_id=household_id)


async def load_principal(account_id: int | None = None, household_id: int | None = None) -> Principal:
    """The account's grants, plus membership of the session's household when there is one: a member
    signed in with a card or with the roster's e-mail address, or an officer who is also a member
    there (signed in with an address the roster holds) and keeps both."""
    household_grant = await _household_grant(household_id) if household_id is not None else None
    if account_id is not None:
        account = await Account.select().where(Account.id == account_id).first()
        if account is None:
            return ANONYMOUS
        rows = await RoleGrant.select().where(RoleGrant.account == account_id)
        grants = tuple(
            Grant(
                role=Role(row["role"]),
                association_id=row["association"],
                city_id=row["city"],
                han_id=row["han"],
                household_id=row["household"],
            )
            for row in rows
        )
        if household_grant is not None:
            grants = (household_grant, *grants)  # the household signed in with comes first
        return Principal(account_id, account["email"], account["display_name"], grants)
    if household_grant is not None:
        return Principal(grants=(household_grant,))
    return ANONYMOUS


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
        if not await session_still_valid(session):
            request.clear_session()  # opened by a card or LINE since replaced: ends here (row deleted)
            request.state["principal"] = ANONYMOUS
            return ANONYMOUS
        principal = await load_principal(session.get("account_id"), session.get("household_id"))
        signed_in_cache.keep(key, principal, generation)
    request.state["principal"] = principal
    return principal
