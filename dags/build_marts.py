"""Airflow DAG: publish silver to PostgreSQL and build the marts whenever a silver asset updates."""

from lakehouse.orchestration import build_marts_dag, source_configs

_tables = sorted({feed for cfg in source_configs() for feed in cfg["feeds"]})
build_marts = build_marts_dag(_tables)
