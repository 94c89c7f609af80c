"""`lakehouse airflow start` brings up the real Airflow UI (airflow standalone)
and, first, the warm engine its tasks use: it answers its health endpoint,
lists every DAG of dags/ without import errors through the REST API (logging
in as admin with the generated password), a process with Airflow's
environment gets a Spark Connect session of the warm engine, and `lakehouse
airflow stop` leaves none of its processes (nor the engine) behind."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lakehouse.cli", *args], env=env, capture_output=True,
                          text=True, timeout=400)


def _api(url: str, token: str | None = None, body: dict | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body else None, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def ui(e2e_env):
    from lakehouse import credentials
    from lakehouse.services import airflow_ui

    port = _free_port()
    # the session's Airflow environment pins the default port: let the UI's own knob choose it
    inherited = {k: v for k, v in os.environ.items()
                 if k not in ("AIRFLOW__API__PORT", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL")}
    env = {**inherited, "LAKEHOUSE_AIRFLOW_PORT": str(port),
           # the warm engine, as a newcomer gets it (the suite switches it off), small and on a port of its own
           "LAKEHOUSE_WARM_ENGINE": "on", "LAKEHOUSE_CONNECT_PORT": str(_free_port()),
           "LAKEHOUSE_SPARK_SPARK_DRIVER_MEMORY": "1g"}
    os.environ["LAKEHOUSE_AIRFLOW_PORT"] = str(port)
    started = _cli("airflow", "start", env=env)
    pidfile, _ = airflow_ui._paths()
    pgid = int(pidfile.read_text()) if pidfile.exists() else None
    try:
        assert started.returncode == 0, started.stderr + started.stdout
        yield {"url": f"http://127.0.0.1:{port}", "out": started.stdout, "pgid": pgid, "env": env,
               "password": credentials.airflow_admin_password()}
    finally:
        stopped = _cli("airflow", "stop", env=env)
        os.environ.pop("LAKEHOUSE_AIRFLOW_PORT", None)
        assert stopped.returncode == 0, stopped.stderr
        if pgid:
            assert airflow_ui.session_processes(pgid) == {}, "processes left behind"
        assert "stopped" in _cli("connect", "status", env=env).stdout, "the warm engine still runs"


def test_the_tasks_get_the_warm_engine(ui):
    assert f"Spark Connect server on 127.0.0.1:{ui['env']['LAKEHOUSE_CONNECT_PORT']}" in ui["out"]
    from lakehouse.orchestration.airflow_env import airflow_env

    task = {**ui["env"], **airflow_env()}      # what a task process of this Airflow gets
    task.pop("SPARK_REMOTE", None)
    probe = ("from lakehouse.lake.spark import get_spark\nspark = get_spark()\n"
             "print(type(spark).__module__, spark.range(7).count())\n")
    out = subprocess.run([sys.executable, "-c", probe], env=task, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["pyspark.sql.connect.session", "7"], out.stdout


def test_start_prints_the_url_and_how_to_log_in(ui):
    assert ui["url"] in ui["out"] and "admin" in ui["out"]
    assert ui["password"] not in ui["out"]  # the password stays in the secrets file


def test_health_endpoint_answers(ui):
    health = _api(ui["url"] + "/api/v2/monitor/health")
    assert health["metadatabase"]["status"] == "healthy"
    assert health["scheduler"]["status"] == "healthy"


def test_every_dag_is_listed_without_import_errors(ui, dagbag):
    from lakehouse.orchestration.factories import source_configs

    expected = set(dagbag.dag_ids)
    assert {f"ingest_{c['code']}" for c in source_configs()} <= expected  # one per schemas/sources file
    token = _api(ui["url"] + "/auth/token", body={"username": "admin", "password": ui["password"]})["access_token"]
    listed: set[str] = set()
    deadline = time.monotonic() + 180  # the dag-processor parses dags/ after start
    while time.monotonic() < deadline:
        listed = {d["dag_id"] for d in _api(ui["url"] + "/api/v2/dags?limit=1000", token)["dags"]}
        if listed >= expected:
            break
        time.sleep(3)
    assert listed == expected
    errors = _api(ui["url"] + "/api/v2/importErrors", token)
    assert errors["total_entries"] == 0, errors


def test_wrong_password_is_refused(ui):
    with pytest.raises(urllib.error.HTTPError) as err:
        _api(ui["url"] + "/auth/token", body={"username": "admin", "password": "not-the-password"})
    assert err.value.code in (401, 403)
