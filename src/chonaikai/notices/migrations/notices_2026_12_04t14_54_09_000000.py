from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-04T14:54:09:000000"
VERSION = "1.38.0"
DESCRIPTION = "one current answer per (notice, household)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notices", description=DESCRIPTION)

    async def add_indexes():
        # A partial unique index (both databases have them): history rows (current false) are
        # not limited; two answers of one household at the same moment leave one current.
        from chonaikai.notices.tables import NoticeAnswer

        await NoticeAnswer.raw(
            "CREATE UNIQUE INDEX notice_answer_current ON notice_answer (notice, household) WHERE current"
        )

    async def drop_indexes():
        from chonaikai.notices.tables import NoticeAnswer

        await NoticeAnswer.raw("DROP INDEX notice_answer_current")

    manager.add_raw(add_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
