from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-04T15:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "text index for board search (SQLite FTS5 trigram, PostgreSQL pg_trgm) and kana readings in search_text"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notices", description=DESCRIPTION)

    async def create_index():
        from chonaikai.db import is_postgres
        from chonaikai.notices import search
        from chonaikai.notices.tables import Notice

        await search.backfill(Notice)  # readings for notices saved before them
        for statement in search.POSTGRES_CREATE if is_postgres() else search.SQLITE_CREATE:
            await Notice.raw(statement)

    async def drop_index():
        from chonaikai.db import is_postgres
        from chonaikai.notices import search
        from chonaikai.notices.tables import Notice

        for statement in search.POSTGRES_DROP if is_postgres() else search.SQLITE_DROP:
            await Notice.raw(statement)

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
