from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-04T15:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "page_change: triggers note which association's pages changed, for every web process (page_changes.py)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notices", description=DESCRIPTION)

    async def create():
        from chonaikai import page_changes
        from chonaikai.db import is_postgres
        from chonaikai.notices.tables import Notice

        for statement in page_changes.postgres_create() if is_postgres() else page_changes.sqlite_create():
            await Notice.raw(statement)

    async def drop():
        from chonaikai import page_changes
        from chonaikai.db import is_postgres
        from chonaikai.notices.tables import Notice

        for statement in page_changes.postgres_drop() if is_postgres() else page_changes.sqlite_drop():
            await Notice.raw(statement)

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
