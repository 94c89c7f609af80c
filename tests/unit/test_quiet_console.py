"""Library logs stay at WARNING unless LAKEHOUSE_LOG_LEVEL=DEBUG; the project's own at INFO."""

from __future__ import annotations

import logging
import os

import pytest

from lakehouse import logs
from lakehouse.config import settings


@pytest.fixture
def log_level(monkeypatch):
    def set_level(value: str | None):
        if value is None:
            monkeypatch.delenv("LAKEHOUSE_LOG_LEVEL", raising=False)
        else:
            monkeypatch.setenv("LAKEHOUSE_LOG_LEVEL", value)
        # set, then unset: monkeypatch restores the variable whatever quiet_airflow() writes
        monkeypatch.setenv("AIRFLOW__LOGGING__LOGGING_LEVEL", "unset")
        monkeypatch.delenv("AIRFLOW__LOGGING__LOGGING_LEVEL")
        settings.cache_clear()
    yield set_level
    monkeypatch.delenv("LAKEHOUSE_LOG_LEVEL", raising=False)
    settings.cache_clear()
    logs.configure()   # leave the default levels for the tests that follow


def test_default_is_quiet(log_level):
    log_level(None)
    logs.quiet_airflow()
    assert os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] == "WARNING"
    logs.configure()
    assert logging.getLogger("py4j").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("great_expectations.data_context").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("lakehouse.ingest.pipeline").getEffectiveLevel() == logging.INFO
    # our progress has its own handler: it survives Airflow putting the root logger at WARNING
    ours = logging.getLogger("lakehouse")
    assert not ours.propagate and any(h.get_name() == "lakehouse-console" for h in ours.handlers)


def test_debug_brings_the_libraries_back(log_level):
    log_level("debug")
    logs.quiet_airflow()
    assert os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] == "INFO"
    logs.configure()
    assert logging.getLogger("py4j").getEffectiveLevel() == logging.INFO
    assert logging.getLogger("lakehouse").getEffectiveLevel() == logging.DEBUG
    assert logs.verbose()
