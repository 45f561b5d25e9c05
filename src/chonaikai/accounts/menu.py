"""The menu at the top of an association's pages: what this person may open there, nothing more.

Built from the same permission matrix that guards the pages, so a link is shown exactly when
following it would be allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Request

from chonaikai.accounts.principal import ANONYMOUS, Principal, provide_principal
from chonaikai.accounts.roles import ROLE_LABELS, Permission
from chonaikai.accounts.sessions import SESSION_COOKIE


@dataclass(frozen=True)
class MenuLink:
    label: str
    path: str  # below /a/{slug}


# In the order an officer looks for them; (label, path, permission or None for everyone).
ASSOCIATION_LINKS: tuple[tuple[str, str, Permission | None], ...] = (
    ("お知らせ", "/notices/", None),
    ("お知らせを書く", "/notices/new", Permission.NOTICE_POST),
    ("市からの回覧", "/circulars", Permission.CIRCULAR_REVIEW),
    ("名簿", "/roster", Permission.ROSTER_VIEW),
    ("安否確認", "/safety", Permission.SAFETY_VIEW),
    ("わが家の登録", "/my", Permission.OWN_HOUSEHOLD),
    ("役員", "/officers", Permission.OFFICERS_MANAGE),
    ("ホームページの設定", "/settings/homepage", Permission.HOMEPAGE_EDIT),
    ("LINEの設定", "/settings/line", Permission.SETTINGS_EDIT),
    ("記録", "/audit", Permission.AUDIT_VIEW),
)


def association_menu(principal: Principal, association_id: int) -> list[MenuLink]:
    return [
        MenuLink(label, path)
        for label, path, permission in ASSOCIATION_LINKS
        if permission is None or principal.can(permission, association_id)
    ]


def role_summary(principal: Principal, association_id: int) -> str:
    """「会長」, 「広報・班長」 …: shown beside the sign-out button."""
    return "・".join(ROLE_LABELS[role] for role in sorted(principal.roles_in(association_id)))


async def load_principal_for_pages(request: Request) -> None:
    """before_request hook: pages with a session show the signed-in menu even when their
    handler never asked who is there. Visitors without a session cost no query."""
    if request.cookies.get(SESSION_COOKIE) and "principal" not in request.state:
        await provide_principal(request)


def current_principal(request: Request) -> Principal:
    return request.state.get("principal") or ANONYMOUS
