from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import JSON, Boolean, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T15:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "city.time_zone; association homepage fields edited by officers (links, photos, poster name)"


def _params(default, **extra):
    return {
        "default": default,
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
        **extra,
    }


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tenancy", description=DESCRIPTION)
    manager.add_column(
        table_class_name="City",
        tablename="city",
        column_name="time_zone",
        db_column_name="time_zone",
        column_class_name="Varchar",
        column_class=Varchar,
        params=_params("", length=64),
        schema=None,
    )
    for name, column_class, default in (
        ("links", JSON, "[]"),
        ("photos", JSON, "[]"),
        ("show_poster_name", Boolean, True),
        ("officer_edited", JSON, "[]"),
    ):
        manager.add_column(
            table_class_name="Association",
            tablename="association",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=_params(default),
            schema=None,
        )
    return manager
