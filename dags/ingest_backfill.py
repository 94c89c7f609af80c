"""Airflow DAG: ingest a range of days for many sources in one batch (manual trigger)."""

from lakehouse.orchestration.factories import build_backfill_dag, source_configs

ingest_backfill = build_backfill_dag(sorted({feed for cfg in source_configs() for feed in cfg["feeds"]}))
