"""chonaikai — 電子町内会: association homepages, rosters, notices and circulars."""

import os

__version__ = "0.1.0"

# Piccolo looks up its engine and apps through this module path.
os.environ.setdefault("PICCOLO_CONF", "chonaikai.piccolo_conf")
