from pathlib import Path

from piccolo.conf.apps import AppConfig

from chonaikai.roster.tables import Han, Household, Member

APP_CONFIG = AppConfig(
    app_name="roster",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[Han, Household, Member],
    migration_dependencies=["chonaikai.tenancy.piccolo_app"],
    commands=[],
)
