"""Sessions end with the credentials that opened them.

A household signs in without an account: with its printed card or a button in its LINE. Such a
session holds the household's ``credential_epoch`` as it was at sign-in; every change to those
credentials (a new card printed, LINE unlinked or blocked, moved out, erased) raises the epoch,
and a session holding an older one opens nothing and is deleted at its next request. An
officer's or member's own account session (opened by e-mail) is not one of these: role removal
ends that one already, since grants are read on every request.
"""

from __future__ import annotations

from typing import Any

from chonaikai.roster.tables import Household
from chonaikai.tenancy.scope import Tenant

SESSION_EPOCH_KEY = "household_epoch"


async def end_household_sessions(tenant: Tenant, household_id: int) -> None:
    """Every session this household's card or LINE opened ends (call inside the write's transaction)."""
    await tenant.update(Household, {Household.credential_epoch: Household.credential_epoch + 1}).where(
        Household.id == household_id
    )


async def household_session(household_id: int) -> dict[str, Any]:
    """The session data for a household signing in with its card or LINE."""
    row = await Household.select(Household.credential_epoch).where(Household.id == household_id).first()
    return {"account_id": None, "household_id": household_id, SESSION_EPOCH_KEY: row["credential_epoch"] if row else 0}


def opened_by_household_credentials(session: dict[str, Any]) -> bool:
    # Sessions from before the epoch existed hold a household and no account.
    return bool(session.get("household_id")) and (SESSION_EPOCH_KEY in session or not session.get("account_id"))


async def session_still_valid(session: dict[str, Any]) -> bool:
    if not opened_by_household_credentials(session):
        return True
    row = await Household.select(Household.credential_epoch, Household.moved_out).where(
        Household.id == session["household_id"]
    ).first()
    return row is not None and not row["moved_out"] and row["credential_epoch"] == session.get(SESSION_EPOCH_KEY, 0)
