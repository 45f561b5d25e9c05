from pathlib import Path

from piccolo.conf.apps import AppConfig

from chonaikai.tenancy.tables import Association, City

APP_CONFIG = AppConfig(
    app_name="tenancy",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[City, Association],
    migration_dependencies=[],
    commands=[],
)
