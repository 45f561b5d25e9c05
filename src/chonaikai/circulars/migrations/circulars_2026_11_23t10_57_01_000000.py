from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T10:57:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique (circular, association); index for the dashboard's per-state counts"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="circulars", description=DESCRIPTION)

    async def add_indexes():
        # Piccolo has no composite indexes; these statements work on SQLite and PostgreSQL alike.
        from chonaikai.circulars.tables import CircularEntry

        await CircularEntry.raw(
            "CREATE UNIQUE INDEX circular_entry_circular_association ON circular_entry (circular, association)"
        )
        await CircularEntry.raw("CREATE INDEX circular_entry_circular_state ON circular_entry (circular, state)")

    async def drop_indexes():
        from chonaikai.circulars.tables import CircularEntry

        await CircularEntry.raw("DROP INDEX circular_entry_circular_state")
        await CircularEntry.raw("DROP INDEX circular_entry_circular_association")

    manager.add_raw(add_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
