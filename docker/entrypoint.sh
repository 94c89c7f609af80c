#!/bin/sh
# Export the Airflow environment the package assembles (airflow_env.airflow_env():
# metadata connection from PGHOST/PGPORT/PGUSER/PGPASSWORD, dags folder, ...),
# then run the container's command. Values set in the compose file win.
set -e
eval "$(lakehouse airflow-env)"
# Spark executors on other containers must reach this driver: bind to the
# container's address, not loopback (the embedded default's SPARK_LOCAL_IP).
SPARK_LOCAL_IP=$(hostname -i | cut -d' ' -f1)
export SPARK_LOCAL_IP
exec "$@"
