"""Airflow DAG: compact, checkpoint and vacuum the lake's Delta tables (LAKEHOUSE_MAINTAIN_SCHEDULE)."""

from lakehouse.orchestration.factories import build_maintain_dag

maintain_lake = build_maintain_dag()
