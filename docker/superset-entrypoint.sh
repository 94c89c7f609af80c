#!/usr/bin/env bash
# The compose stack's Superset: metadata schema and roles, the admin and the
# dashboards of dashboards/ (as `lakehouse dashboards start` does), then the
# web server in the foreground. Secrets arrive in the environment.
set -euo pipefail
superset db upgrade
superset init
python -I /opt/superset/superset_inside.py import /opt/superset/dashboards
exec gunicorn --workers 2 --threads 4 --worker-class gthread --timeout 120 --bind 0.0.0.0:8088 \
    "superset.app:create_app()"
