"""Migrations run forward on the database under test (SQLite or PostgreSQL) and match the tables."""

from pathlib import Path

from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.conf.apps import Finder


async def test_every_table_exists_with_every_column():
    for table in Finder().get_table_classes():
        assert await table.table_exists(), table._meta.tablename
        # Selecting every declared column fails if a migration forgot one.
        await table.select(*table._meta.columns).limit(1)


async def test_running_migrations_again_changes_nothing():
    result = await run_forwards(app_name="all")
    assert result.success


async def test_migrations_exist_for_every_app():
    for app in Finder().get_app_configs():
        folder = Path(app.resolved_migrations_folder_path)
        assert list(folder.glob(f"{app.app_name}_*.py")), app.app_name
