from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T10:57:40:000000"
VERSION = "1.38.0"
DESCRIPTION = "one read marker per (notice, household) and per (notice, account)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notices", description=DESCRIPTION)

    async def add_indexes():
        # Piccolo has no composite indexes. NULLs never collide in a unique index on either
        # database, so household rows and account rows share the table.
        from chonaikai.notices.tables import NoticeRead

        await NoticeRead.raw(
            "CREATE UNIQUE INDEX notice_read_household ON notice_read (notice, household)"
        )
        await NoticeRead.raw("CREATE UNIQUE INDEX notice_read_account ON notice_read (notice, account)")
        await NoticeRead.raw("CREATE INDEX notice_board ON notice (association, status, published_at)")

    async def drop_indexes():
        from chonaikai.notices.tables import NoticeRead

        await NoticeRead.raw("DROP INDEX notice_board")
        await NoticeRead.raw("DROP INDEX notice_read_account")
        await NoticeRead.raw("DROP INDEX notice_read_household")

    manager.add_raw(add_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
