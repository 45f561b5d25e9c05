"""Piccolo's configuration: the one engine of this process and the apps whose migrations run.

Piccolo finds this module through PICCOLO_CONF=chonaikai.piccolo_conf (set by our CLI).
"""

from piccolo.conf.apps import AppRegistry

from chonaikai.db import create_engine
from chonaikai.settings import get_settings

_settings = get_settings()
DB = create_engine(_settings.database_url, sqlite_pool_size=_settings.sqlite_read_connections)

# Order matters only for readability; Piccolo sorts apps by their migration dependencies.
APP_REGISTRY = AppRegistry(
    apps=[
        "chonaikai.tenancy.piccolo_app",
        "chonaikai.roster.piccolo_app",
        "chonaikai.accounts.piccolo_app",
        "chonaikai.notices.piccolo_app",
        "chonaikai.delivery.piccolo_app",
        "chonaikai.circulars.piccolo_app",
        "chonaikai.line.piccolo_app",
        "chonaikai.safety.piccolo_app",
    ]
)
