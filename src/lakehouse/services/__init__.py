"""Local stand-ins for the services a deployment provides: the embedded
PostgreSQL (`embedded_pg`), the Airflow UI (`airflow_ui`), a Spark cluster,
Spark Connect and a local S3 (`engines`), and the demo that runs them all
(`demo`)."""
