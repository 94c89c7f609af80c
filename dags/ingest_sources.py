"""Airflow DAGs: one daily ingest DAG per source, generated from schemas/sources/*.yaml.

A new district is a new YAML file there; nothing to add here."""

from lakehouse.orchestration.factories import build_ingest_dag, source_configs

for _cfg in source_configs():
    globals()[f"ingest_{_cfg['code']}"] = build_ingest_dag(_cfg)
