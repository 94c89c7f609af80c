"""Library logs stay at WARNING unless LAKEHOUSE_LOG_LEVEL=DEBUG; the project's own at INFO."""

from __future__ import annotations

import logging

import pytest

from lakehouse import logs
from lakehouse.config import airflow_env, settings


@pytest.fixture
def log_level(monkeypatch):
    def set_level(value: str | None):
        if value is None:
            monkeypatch.delenv("LAKEHOUSE_LOG_LEVEL", raising=False)
        else:
            monkeypatch.setenv("LAKEHOUSE_LOG_LEVEL", value)
        for name in ("AIRFLOW__LOGGING__LOGGING_LEVEL", "AIRFLOW__LOGGING__NAMESPACE_LEVELS"):
            monkeypatch.delenv(name, raising=False)
        settings.cache_clear()
    yield set_level
    monkeypatch.delenv("LAKEHOUSE_LOG_LEVEL", raising=False)
    settings.cache_clear()
    logs.configure()   # leave the default levels for the tests that follow


def test_default_is_quiet(log_level):
    log_level(None)
    env = airflow_env()
    assert env["AIRFLOW__LOGGING__LOGGING_LEVEL"] == "WARNING"
    assert env["AIRFLOW__LOGGING__NAMESPACE_LEVELS"] == "lakehouse=INFO"
    logs.configure()
    assert logging.getLogger("py4j").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("great_expectations.data_context").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("lakehouse.ingest.pipeline").getEffectiveLevel() == logging.INFO


def test_debug_brings_the_libraries_back(log_level):
    log_level("debug")
    assert airflow_env()["AIRFLOW__LOGGING__LOGGING_LEVEL"] == "INFO"
    logs.configure()
    assert logging.getLogger("py4j").getEffectiveLevel() == logging.INFO
    assert logging.getLogger("lakehouse").getEffectiveLevel() == logging.DEBUG
    assert logs.verbose()
