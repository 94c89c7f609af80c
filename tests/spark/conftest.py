"""The Spark tier: the project's DataFrame functions on a bare local Spark
and Delta session (the project's own session settings and jars) with a
private lake folder; no PostgreSQL, no Airflow. `make test-spark` runs it
alone, in a minute or two; `make test` runs it before the end-to-end suite."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from lakehouse.config import settings
    from lakehouse.lake.spark import get_spark

    os.environ["LAKEHOUSE_LAKE"] = str(tmp_path_factory.mktemp("lake"))
    settings.cache_clear()
    session = get_spark()
    yield session
    session.stop()     # before pytest closes its streams: no py4j noise at exit
