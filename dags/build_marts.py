"""Airflow DAG: publish silver to PostgreSQL and build the marts once per round of deliveries."""

from lakehouse.orchestration.factories import build_marts_dag, source_configs

build_marts = build_marts_dag(sorted(cfg["code"] for cfg in source_configs()))
