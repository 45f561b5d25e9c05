"""The 会長's page for officers: who holds which role, invite by e-mail, take a role away."""

from __future__ import annotations

from litestar import Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from chonaikai.accounts import officer_limits, officers
from chonaikai.accounts.permissions import require
from chonaikai.accounts.principal import Access, Principal
from chonaikai.accounts.roles import ROLE_LABELS, Permission
from chonaikai.tenancy.scope import Tenant

FLASHES = {
    "invited": ("ok", "招待のメールを送りました。届いたメールのリンクから、7日以内にログインしてもらってください。"),
    "already": ("ok", "この方はすでにこの役割です。ログイン用のメールをもう一度送りました。"),
    "not_mailed": (
        "error",
        "役割は登録しましたが、メールを送れませんでした。しばらくしてから、もう一度「招待する」を押してください。",
    ),
    "removed": ("ok", "役割を外しました。"),
}


async def _page(tenant: Tenant, principal: Principal, *, form=None, error="", flash="", status=200) -> Template:
    return Template(
        "accounts/officers.html",
        context={
            "tenant": tenant,
            "association": tenant.row,
            "officers": await officers.list_officers(tenant),
            "han_list": await officers.list_han(tenant),
            "roles": [(role.value, ROLE_LABELS[role]) for role in officers.INVITABLE_ROLES],
            "form": form or {},
            "error": error,
            "flash": FLASHES.get(flash),
            "me": principal.account_id,
        },
        status_code=status,
    )


@get("/officers", name="officers", dependencies={"access": require(Permission.OFFICERS_MANAGE)})
async def officers_page(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], done: FromQuery[str] = ""
) -> Template:
    return await _page(tenant, principal, flash=done)


@post("/officers/invite", name="officers_invite", status_code=303, dependencies={"access": require(Permission.OFFICERS_MANAGE)})
async def officers_invite(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], data: URLEncodedBody[dict[str, str]]
) -> Redirect | Template:
    try:
        invitation = await officers.parse_invitation(tenant, data)
    except officers.InvitationError as error:
        return await _page(tenant, principal, form=data, error=str(error), status=400)
    await officer_limits.count_or_refuse("invite", principal.account_id, officer_limits.INVITES_PER_HOUR)
    result = await officers.invite_officer(tenant, invitation, principal.account_id)
    done = "not_mailed" if not result.mailed else "already" if result.already else "invited"
    return Redirect(path=f"/a/{tenant.slug}/officers", query_params={"done": done}, status_code=303)


@post("/officers/{grant_id:int}/remove", name="officers_remove", status_code=303, dependencies={"access": require(Permission.OFFICERS_MANAGE)})
async def officers_remove(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], grant_id: FromPath[int]
) -> Redirect | Template:
    try:
        await officers.remove_officer(tenant, grant_id, principal.account_id)
    except officers.RemovalError as error:
        return await _page(tenant, principal, error=str(error), status=400)
    return Redirect(path=f"/a/{tenant.slug}/officers", query_params={"done": "removed"}, status_code=303)


router = Router(
    path="/",
    route_handlers=[officers_page, officers_invite, officers_remove],
)
