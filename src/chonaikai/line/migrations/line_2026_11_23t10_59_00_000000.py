from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T10:59:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique (channel_id, line_user_id) on line_link"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="line", description=DESCRIPTION)

    async def add_indexes():
        # Piccolo has no composite indexes; this statement works on SQLite and PostgreSQL alike.
        from chonaikai.line.tables import LineLink

        await LineLink.raw("CREATE UNIQUE INDEX line_link_channel_user ON line_link (channel_id, line_user_id)")

    async def drop_indexes():
        from chonaikai.line.tables import LineLink

        await LineLink.raw("DROP INDEX line_link_channel_user")

    manager.add_raw(add_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
