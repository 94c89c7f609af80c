"""A quiet console by default: the project's own progress lines (logger
"lakehouse") at INFO, every library (py4j, Great Expectations, Airflow, dbt,
SQLAlchemy...) at WARNING. LAKEHOUSE_LOG_LEVEL=DEBUG brings the libraries'
INFO lines back (and the project's DEBUG lines)."""

from __future__ import annotations

import logging

from lakehouse.config import settings

# loggers that talk at INFO about things a user never acts on
NOISY_LIBRARIES = ("py4j", "great_expectations", "airflow", "dbt", "sqlalchemy", "alembic", "urllib3",
                   "botocore", "fsspec", "pyspark", "filelock")


def verbose() -> bool:
    return settings().log_level == "DEBUG"


def library_level() -> str:
    """Level of every library's logger: INFO when debugging, else WARNING."""
    return "INFO" if verbose() else "WARNING"


def configure() -> None:
    """Set up stdlib logging for a `lakehouse` command (Airflow configures its own
    structlog from airflow_env(), which carries the same levels)."""
    logging.basicConfig(level=library_level(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("lakehouse").setLevel(settings().log_level)
    for name in NOISY_LIBRARIES:
        logging.getLogger(name).setLevel(library_level())
