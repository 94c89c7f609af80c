"""The orchestration layer: the Airflow DAG factories (`factories`), the
per-source schedule decision (`schedule`), companion batching (`companions`)
and the environment every Airflow process gets (`airflow_env`)."""
