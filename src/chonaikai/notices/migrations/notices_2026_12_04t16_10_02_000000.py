from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Boolean, Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T16:10:02:000000"
VERSION = "1.38.0"
DESCRIPTION = "notice: remind_on_deadline (09:00 local on answer_by) and deadline_reminded_at (once)"

PARAMS = {
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notices", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Notice", tablename="notice", column_name="remind_on_deadline",
        db_column_name="remind_on_deadline", column_class_name="Boolean", column_class=Boolean,
        params={"default": False, "null": False, **PARAMS}, schema=None,
    )
    manager.add_column(
        table_class_name="Notice", tablename="notice", column_name="deadline_reminded_at",
        db_column_name="deadline_reminded_at", column_class_name="Timestamptz", column_class=Timestamptz,
        params={"default": None, "null": True, **PARAMS}, schema=None,
    )
    return manager
