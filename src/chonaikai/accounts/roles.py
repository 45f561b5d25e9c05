"""Roles and what each may do: the one matrix every check goes through (see docs/roles.md)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CHAIR = "chair"  # 会長
    VICE_CHAIR = "vice_chair"  # 副会長
    TREASURER = "treasurer"  # 会計
    EDITOR = "editor"  # 広報
    HAN_LEADER = "han_leader"  # 班長
    SAFETY_OFFICER = "safety_officer"  # 防災（防災担当: starts and follows 安否確認）
    MEMBER = "member"  # 会員 (a household)
    CITY_STAFF = "city_staff"  # 市職員


ROLE_LABELS = {
    Role.CHAIR: "会長",
    Role.VICE_CHAIR: "副会長",
    Role.TREASURER: "会計",
    Role.EDITOR: "広報",
    Role.HAN_LEADER: "班長",
    Role.SAFETY_OFFICER: "防災",
    Role.MEMBER: "会員",
    Role.CITY_STAFF: "市職員",
}

OFFICER_ROLES = frozenset(
    {Role.CHAIR, Role.VICE_CHAIR, Role.TREASURER, Role.EDITOR, Role.HAN_LEADER, Role.SAFETY_OFFICER}
)
ASSOCIATION_ROLES = OFFICER_ROLES | {Role.MEMBER}


class Permission(StrEnum):
    # Roster (名簿)
    ROSTER_VIEW = "roster.view"  # see households and their contact details
    ROSTER_EDIT = "roster.edit"  # add, edit, move, mark moved out
    ROSTER_IMPORT = "roster.import"
    ROSTER_EXPORT = "roster.export"
    ROSTER_ERASE = "roster.erase"  # erase a household's personal data
    AUDIT_VIEW = "audit.view"
    OFFICERS_MANAGE = "officers.manage"  # invite officers, change roles
    SIGNIN_CARD_ISSUE = "signin_card.issue"  # printable sign-in card / LINE link code
    # Notices
    NOTICE_POST = "notice.post"
    NOTICE_READ_MEMBERS = "notice.read_members"  # members-only notices
    NOTICE_READ_OFFICERS = "notice.read_officers"  # officers-only notices
    RECEIPTS_VIEW = "receipts.view"  # who has read what
    RECEIPTS_TICK = "receipts.tick"  # tick a confirmation by hand (paper 回覧板)
    PRINT_SHEETS = "print.sheets"
    # Circulars from the city
    CIRCULAR_REVIEW = "circular.review"  # forward or decline in the association
    SETTINGS_EDIT = "settings.edit"
    # 安否確認 (safety checks after a disaster)
    SAFETY_START = "safety.start"  # start (or close) a check for every household
    SAFETY_VIEW = "safety.view"  # the results with names, phones and addresses
    SAFETY_RECORD = "safety.record"  # record what was seen at a door or heard on the phone
    HOMEPAGE_EDIT = "homepage.edit"  # the public homepage, categories, circular auto-forward
    # Own household
    OWN_HOUSEHOLD = "household.own"
    # City
    CITY_CIRCULAR_SEND = "city.circular.send"
    CITY_DASHBOARD = "city.dashboard"
    CITY_SAFETY = "city.safety"  # start a check in many associations; see counts only


_ALL_OFFICERS = {Role.CHAIR, Role.VICE_CHAIR, Role.TREASURER, Role.EDITOR}

# Permissions held within one association. 班長 permissions apply to their own 班 only:
# `han_limited` below tells the checks to narrow them.
ASSOCIATION_MATRIX: dict[Permission, frozenset[Role]] = {
    Permission.ROSTER_VIEW: frozenset(_ALL_OFFICERS | {Role.HAN_LEADER}),
    Permission.ROSTER_EDIT: frozenset({Role.CHAIR, Role.VICE_CHAIR, Role.HAN_LEADER}),
    Permission.ROSTER_IMPORT: frozenset({Role.CHAIR, Role.VICE_CHAIR}),
    Permission.ROSTER_EXPORT: frozenset({Role.CHAIR, Role.VICE_CHAIR, Role.TREASURER, Role.HAN_LEADER}),
    Permission.ROSTER_ERASE: frozenset({Role.CHAIR}),
    Permission.AUDIT_VIEW: frozenset({Role.CHAIR}),
    Permission.OFFICERS_MANAGE: frozenset({Role.CHAIR}),
    Permission.SIGNIN_CARD_ISSUE: frozenset({Role.CHAIR, Role.VICE_CHAIR, Role.HAN_LEADER}),
    Permission.NOTICE_POST: frozenset({Role.CHAIR, Role.VICE_CHAIR, Role.EDITOR}),
    Permission.NOTICE_READ_MEMBERS: frozenset(ASSOCIATION_ROLES),
    Permission.NOTICE_READ_OFFICERS: frozenset(OFFICER_ROLES),
    Permission.RECEIPTS_VIEW: frozenset(_ALL_OFFICERS | {Role.HAN_LEADER}),
    Permission.RECEIPTS_TICK: frozenset({Role.CHAIR, Role.VICE_CHAIR, Role.EDITOR, Role.HAN_LEADER}),
    Permission.PRINT_SHEETS: frozenset(_ALL_OFFICERS | {Role.HAN_LEADER}),
    Permission.CIRCULAR_REVIEW: frozenset({Role.CHAIR, Role.VICE_CHAIR, Role.EDITOR}),
    Permission.SETTINGS_EDIT: frozenset({Role.CHAIR}),
    Permission.SAFETY_START: frozenset({Role.CHAIR, Role.VICE_CHAIR, Role.SAFETY_OFFICER}),
    Permission.SAFETY_VIEW: frozenset(_ALL_OFFICERS | {Role.SAFETY_OFFICER, Role.HAN_LEADER}),
    Permission.SAFETY_RECORD: frozenset({Role.CHAIR, Role.VICE_CHAIR, Role.SAFETY_OFFICER, Role.HAN_LEADER}),
    Permission.HOMEPAGE_EDIT: frozenset({Role.CHAIR, Role.EDITOR}),
    Permission.OWN_HOUSEHOLD: frozenset({Role.MEMBER}),
}

CITY_MATRIX: dict[Permission, frozenset[Role]] = {
    Permission.CITY_CIRCULAR_SEND: frozenset({Role.CITY_STAFF}),
    Permission.CITY_DASHBOARD: frozenset({Role.CITY_STAFF}),
    Permission.CITY_SAFETY: frozenset({Role.CITY_STAFF}),
}

# For these, a 班長 acts only on households of their own 班.
HAN_LIMITED = frozenset(
    {
        Permission.ROSTER_VIEW,
        Permission.ROSTER_EDIT,
        Permission.ROSTER_EXPORT,
        Permission.SIGNIN_CARD_ISSUE,
        Permission.RECEIPTS_VIEW,
        Permission.RECEIPTS_TICK,
        Permission.PRINT_SHEETS,
        Permission.SAFETY_VIEW,
        Permission.SAFETY_RECORD,
    }
)
