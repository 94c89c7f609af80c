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


CAPTURE = """
import os, subprocess, sys
from pathlib import Path
from lakehouse import logs
with logs.console_to_file(Path(sys.argv[1])) as console:
    print("library line on stdout")
    print("Traceback (most recent call last): an expected event", file=sys.stderr)
    os.write(2, b"a JVM-like line on fd 2\\n")
    subprocess.run(["echo", "a child process's line"], check=True)
    print("[demo 1/6] progress for the user", file=console, flush=True)
print("after the block: the console again")
"""


@pytest.mark.parametrize("level, on_console", [(None, False), ("DEBUG", True)])
def test_demo_output_goes_to_its_log_unless_debugging(tmp_path, level, on_console):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "LAKEHOUSE_LOG_LEVEL"}
    if level:
        env["LAKEHOUSE_LOG_LEVEL"] = level
    log = tmp_path / "logs" / "demo.log"
    run = subprocess.run([sys.executable, "-c", CAPTURE, str(log)], env=env, capture_output=True, text=True,
                         timeout=60, check=True)
    console = run.stdout + run.stderr
    assert "[demo 1/6] progress for the user" in console and "after the block: the console again" in console
    noise = ("library line on stdout", "Traceback", "a JVM-like line on fd 2", "a child process's line")
    assert all((line in console) == on_console for line in noise), console
    if not on_console:
        logged = log.read_text()
        assert all(line in logged for line in noise) and "progress for the user" not in logged
