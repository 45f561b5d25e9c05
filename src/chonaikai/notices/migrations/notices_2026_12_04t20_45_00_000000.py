from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-04T20:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "read marks by reader: a signed-in reader's every read mark in one index range (search pages)"

# notices.logic.read_among reads all of a household's (or an officer's account's) read marks at
# once; the other indexes of notice_read begin with the notice.
CREATE = [
    "CREATE INDEX notice_read_by_household ON notice_read (household, association, notice) WHERE household IS NOT NULL",
    "CREATE INDEX notice_read_by_account ON notice_read (account, association, notice) WHERE account IS NOT NULL",
]
DROP = ["DROP INDEX notice_read_by_account", "DROP INDEX notice_read_by_household"]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notices", description=DESCRIPTION)

    async def create():
        from chonaikai.notices.tables import NoticeRead

        for statement in CREATE:
            await NoticeRead.raw(statement)

    async def drop():
        from chonaikai.notices.tables import NoticeRead

        for statement in DROP:
            await NoticeRead.raw(statement)

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
