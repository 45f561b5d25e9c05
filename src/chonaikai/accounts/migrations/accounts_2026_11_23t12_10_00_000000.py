from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T12:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique role_grant (account, role, association, city, han, household); duplicates removed first"

# NULLs are distinct in a unique index on SQLite and PostgreSQL alike, so the nullable columns go
# through COALESCE (ids start at 1, so 0 never names a real row).
KEY = "account, role, COALESCE(association, 0), COALESCE(city, 0), COALESCE(han, 0), COALESCE(household, 0)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="accounts", description=DESCRIPTION)

    async def add_index():
        from chonaikai.accounts.tables import RoleGrant

        # Inviting twice used to grant twice: keep the oldest grant of each kind.
        await RoleGrant.raw(f"DELETE FROM role_grant WHERE id NOT IN (SELECT MIN(id) FROM role_grant GROUP BY {KEY})")
        await RoleGrant.raw(f"CREATE UNIQUE INDEX role_grant_once ON role_grant ({KEY})")

    async def drop_index():
        from chonaikai.accounts.tables import RoleGrant

        await RoleGrant.raw("DROP INDEX role_grant_once")

    manager.add_raw(add_index)
    manager.add_raw_backwards(drop_index)
    return manager
