from pathlib import Path

from piccolo.conf.apps import AppConfig

from chonaikai.accounts.tables import (
    Account,
    ApiToken,
    AuditEntry,
    RateLimitHit,
    RoleGrant,
    SignInToken,
    WebSession,
)

APP_CONFIG = AppConfig(
    app_name="accounts",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[Account, RoleGrant, SignInToken, WebSession, RateLimitHit, AuditEntry, ApiToken],
    migration_dependencies=["chonaikai.tenancy.piccolo_app", "chonaikai.roster.piccolo_app"],
    commands=[],
)
