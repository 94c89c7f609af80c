"""Airflow's ports follow LAKEHOUSE_AIRFLOW_PORT: the UI on it, Airflow's task
log server on +1, the triggerer's log server on +2 (Airflow's own 8793/8794
collided between two checkouts). `lakehouse airflow start` refuses a taken
port at once, naming a free LAKEHOUSE_AIRFLOW_PORT, and stops as soon as
Airflow's log says why it cannot come up."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import pytest

from lakehouse.orchestration.airflow_env import airflow_env
from lakehouse.services import airflow_ui


def _free_triple() -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port < 65000 and all(airflow_ui.port_free(h, port + k) for k, h in enumerate(("127.0.0.1", "", ""))):
            return port
    raise AssertionError("no three free ports in a row")


def _own_airflow() -> dict[str, str]:
    """This environment without the Airflow settings a test session exported (its
    metadata database): the command derives its own from LAKEHOUSE_HOME."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}


def test_the_log_servers_follow_the_ui_port(monkeypatch):
    # a shell (or test session) that exported the default ports before: the explicit knob wins
    monkeypatch.setenv("AIRFLOW__API__PORT", "8080")
    monkeypatch.setenv("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", "8081")
    monkeypatch.setenv("LAKEHOUSE_AIRFLOW_PORT", "9100")
    env = airflow_env()
    assert env["AIRFLOW__API__PORT"] == "9100"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:9100/execution/"
    assert env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == "9101"
    assert env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] == "9102"
    assert [port for _, _, port in airflow_ui.ports()] == [9100, 9101, 9102]


def test_default_ports(monkeypatch):
    for key in ("LAKEHOUSE_AIRFLOW_PORT", "AIRFLOW__API__PORT", "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"):
        monkeypatch.delenv(key, raising=False)
    assert [port for _, _, port in airflow_ui.ports()] == [8080, 8081, 8082]


@pytest.mark.parametrize("value", ["80", "http", "65535"])
def test_a_bad_port_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("LAKEHOUSE_AIRFLOW_PORT", value)
    with pytest.raises(ValueError, match=f"LAKEHOUSE_AIRFLOW_PORT='{value}': use a port number from 1024"):
        airflow_env()


def test_a_fatal_line_of_airflows_log_is_found():
    log = ("standalone | Database ready\n"
           "scheduler  | 2026-12-07T03:50:48.451453Z [error    ] [Errno 98] error while attempting to bind on "
           "address ('0.0.0.0', 18611): address already in use [uvicorn.error] loc=server.py:190\n"
           "triggerer  | 2026-12-07T03:50:49Z [info     ] Starting log server\n")
    assert "('0.0.0.0', 18611): address already in use" in airflow_ui.fatal_log_line(log)
    assert airflow_ui.fatal_log_line("standalone | Database ready\napi-server | Uvicorn running\n") is None


def test_start_refuses_a_taken_log_server_port_before_anything_starts(tmp_path):
    port = _free_triple()
    with socket.socket(socket.AF_INET6 if socket.has_dualstack_ipv6() else socket.AF_INET) as holder:
        holder.bind(("", port + 1))
        holder.listen()
        t0 = time.monotonic()
        run = subprocess.run([sys.executable, "-m", "lakehouse.cli", "airflow", "start"], capture_output=True,
                             text=True, timeout=60,
                             env={**_own_airflow(), "LAKEHOUSE_HOME": str(tmp_path),
                                  "LAKEHOUSE_AIRFLOW_PORT": str(port)})
        seconds = time.monotonic() - t0
    assert run.returncode == 2, run.stdout + run.stderr
    assert seconds < 15, f"{seconds:.1f}s"
    [line] = run.stderr.strip().splitlines()
    assert line.startswith(f"lakehouse airflow: port {port + 1}, for Airflow's task log server "
                           "(LAKEHOUSE_AIRFLOW_PORT+1): in use by another program"), line
    suggested = int(re.search(r"e\.g\. LAKEHOUSE_AIRFLOW_PORT=(\d+) lakehouse airflow start", line).group(1))
    assert all(airflow_ui.port_free(h, suggested + k) for k, h in enumerate(("127.0.0.1", "", "")))
    assert not (tmp_path / "airflow").exists(), "nothing migrated or started"
    assert not (tmp_path / "airflow-ui.pid").exists()
