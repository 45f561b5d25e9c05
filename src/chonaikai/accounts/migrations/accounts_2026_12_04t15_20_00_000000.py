from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T15:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "sign_in_token: lookup and failed_attempts (a card code dies after a few wrong tries)"

PARAMS = {"primary_key": False, "unique": False, "index_method": IndexMethod.btree, "choices": None,
          "db_column_name": None, "secret": False}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="accounts", description=DESCRIPTION)
    manager.add_column(
        table_class_name="SignInToken", tablename="sign_in_token", column_name="lookup", db_column_name="lookup",
        column_class_name="Varchar", column_class=Varchar,
        params={**PARAMS, "length": 64, "default": None, "null": True, "index": True}, schema=None,
    )
    manager.add_column(
        table_class_name="SignInToken", tablename="sign_in_token", column_name="failed_attempts",
        db_column_name="failed_attempts", column_class_name="Integer", column_class=Integer,
        params={**PARAMS, "default": 0, "null": False, "index": False}, schema=None,
    )
    return manager
