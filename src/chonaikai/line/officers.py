"""Officers on LINE: an officer's account is reached on LINE through their own household in the
association (by membership, or the roster address equal to theirs) when it has a LINE user linked.
Used by the officer alerts of city circulars and of 安否確認."""

from __future__ import annotations

from chonaikai.line.tables import LineLink
from chonaikai.roster.tables import Household


async def officer_line_users(
    emails: dict[tuple[int, int], str], member_households: dict[tuple[int, int], set[int]]
) -> dict[tuple[int, int], list[str]]:
    """Per (association id, account id) in ``emails`` (the account's address, may be empty): the
    LINE user ids of the officer's own households there. ``member_households``: the households the
    account is a member of, per (association id, account id)."""
    if not emails:
        return {}
    associations = sorted({aid for aid, _ in emails})
    addresses = sorted({email for email in emails.values() if email})
    households = await Household.select(Household.id, Household.association, Household.email).where(
        Household.association.is_in(associations) & (Household.moved_out == False)  # noqa: E712
        & (Household.email.is_in(addresses) if addresses else Household.id == -1)
    )
    own: dict[tuple[int, int], set[int]] = {key: set(ids) for key, ids in member_households.items() if key in emails}
    for household in households:
        for (association_id, account_id), email in emails.items():
            if association_id == household["association"] and email and email == household["email"]:
                own.setdefault((association_id, account_id), set()).add(household["id"])
    all_ids = sorted({hid for ids in own.values() for hid in ids})
    if not all_ids:
        return {}
    links = await LineLink.select(LineLink.household, LineLink.line_user_id).where(
        LineLink.household.is_in(all_ids) & (LineLink.active == True)  # noqa: E712
    ).order_by(LineLink.id)
    users: dict[int, list[str]] = {}
    for link in links:
        users.setdefault(link["household"], []).append(link["line_user_id"])
    return {key: sorted({u for hid in ids for u in users.get(hid, [])}) for key, ids in own.items()}
