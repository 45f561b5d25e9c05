"""The red line at the top of an officer's pages while a 安否確認 is open in their association
(how officers of every association learn that the city started one)."""

from __future__ import annotations

from litestar import Request

from chonaikai.accounts.menu import load_principal_for_pages
from chonaikai.accounts.roles import Role
from chonaikai.safety.logic import open_checks_of

STATE_KEY = "safety_open"


async def before_request(request: Request) -> None:
    """before_request hook: the menu's principal, then (for officers only) their open checks."""
    await load_principal_for_pages(request)
    principal = request.state.get("principal")
    if principal is None or not principal.grants:
        return
    ids = sorted({g.association_id for g in principal.grants if g.association_id and g.role != Role.MEMBER})
    if ids:
        request.state[STATE_KEY] = await open_checks_of(ids)
