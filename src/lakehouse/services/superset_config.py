"""Superset's configuration, read by Superset itself (SUPERSET_CONFIG_PATH)
locally (`lakehouse dashboards start`) and in the compose stack alike; the
secret key and the metadata database arrive in the environment."""

import os

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]          # signs sessions, encrypts the stored database password
SQLALCHEMY_DATABASE_URI = os.environ["SUPERSET_METADATA_URI"]   # Superset's own metadata (SQLite)
SUPERSET_LOAD_EXAMPLES = False
FEATURE_FLAGS = {"DASHBOARD_NATIVE_FILTERS": True}
ROW_LIMIT = 10000
