from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Boolean, Date
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T15:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Household: 要支援 (needs_support) with the date of the household's consent"


def _params(default, null):
    return {
        "default": default,
        "null": null,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
    }


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="roster", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Household",
        tablename="household",
        column_name="needs_support",
        db_column_name="needs_support",
        column_class_name="Boolean",
        column_class=Boolean,
        params=_params(False, False),
        schema=None,
    )
    manager.add_column(
        table_class_name="Household",
        tablename="household",
        column_name="support_consent_on",
        db_column_name="support_consent_on",
        column_class_name="Date",
        column_class=Date,
        params=_params(None, True),
        schema=None,
    )
    return manager
