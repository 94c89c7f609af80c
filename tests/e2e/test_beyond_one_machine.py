"""The scaled-out column on this machine, with the same code and only
environment variables changed: a Spark standalone cluster, a Spark Connect
server, the lake on an S3-compatible server (s3a://), and Airflow on
PostgreSQL metadata. Each ingests the tiny preset (the registry and two
districts), publishes and builds the marts as subprocesses (`lakehouse ...`,
or the DAGs via `airflow dags test`) and must give the same silver (as
published to PostgreSQL lake.*) and the same marts, row for row, as the
embedded default run once for the module.

The services are started with the `lakehouse cluster|connect|s3 up` commands
on free ports, their pidfiles in a private LAKEHOUSE_HOME, and always stopped
in teardown. Wall times of each run go to
$LAKEHOUSE_HOME/logs/beyond-one-machine-timings.json (README figures).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent
LAKEHOUSE = str(BIN / "lakehouse")
SEED = 7
# The registry and two districts write all 11 tables, and per-table cost
# dominates a tiny run: the module took 17-18 min on a fresh clone here against
# 20 in CI with all 17 sources. The readers of the other templates (xlsx among them) run in
# Python before Spark, the same on every engine; the vertical slice and the
# generated city check them.
SOURCES = ["city", "huangpu", "jingan"]
# Differ between any two runs by design (run ids, wall-clock stamps).
VOLATILE = {"_ingest_run_id", "_ingested_at", "ingest_run_id", "started_at", "finished_at", "published_at",
            "built_at", "recorded_at"}
# the project's variables a variant must not inherit from the test process
VARIANT_VARS = ("LAKEHOUSE_SPARK_MASTER", "SPARK_REMOTE", "AWS_ENDPOINT_URL", "LAKEHOUSE_S3_ENDPOINT",
                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "LAKEHOUSE_AIRFLOW_METADATA",
                "LAKEHOUSE_AIRFLOW_DATABASE")
TIMINGS: dict[str, dict[str, float]] = {}


def _run(cmd: list[str], env: dict[str, str], what: str, timeout: int = 600) -> str:
    t0 = time.monotonic()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    TIMINGS.setdefault(what.split(":")[0], {})[what.split(":")[1]] = round(time.monotonic() - t0, 1)
    assert res.returncode == 0, f"{what}: {' '.join(cmd)} failed ({res.returncode}):\n{res.stdout[-3000:]}\n" \
                                f"{res.stderr[-5000:]}"
    return res.stdout


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in VARIANT_VARS}
    env.update(extra)
    return env


def _pipeline(engine: str, env: dict[str, str]) -> None:
    """ingest -> publish -> marts, each its own process, as a user would run them."""
    _run([LAKEHOUSE, "ingest"], env, f"{engine}:ingest")
    _run([LAKEHOUSE, "publish"], env, f"{engine}:publish")
    _run([LAKEHOUSE, "marts"], env, f"{engine}:marts")


@contextmanager
def _database(base: dict, name: str):
    """A private lake and PostgreSQL database; yields the environment naming them."""
    with base["private_lakehouse"](base["root"] / name):
        yield _env(LAKEHOUSE_LANDING=str(base["landing"]))


@contextmanager
def _service(kind: str, **ports: str):
    """`lakehouse <kind> up` with its pidfiles in a private home; `down` always."""
    from lakehouse.config import settings

    home = Path(os.environ["LAKEHOUSE_SERVICES_HOME"]) / kind
    env = _env(LAKEHOUSE_HOME=str(home), LAKEHOUSE_JARS_DIR=str(settings().jars_dir), **ports)
    try:
        _run([LAKEHOUSE, kind, "up"], env, f"{kind}:start", timeout=240)
        yield
    finally:
        subprocess.run([LAKEHOUSE, kind, "down"], env=env, capture_output=True, timeout=120)
        status = subprocess.run([LAKEHOUSE, kind, "status"], env=env, capture_output=True, text=True).stdout
        assert "running" not in status, f"{kind} still running after down:\n{status}"


def _tables(cur, schema: str) -> list[str]:
    cur.execute("select table_name from information_schema.tables where table_schema = %s order by 1", (schema,))
    return [r[0] for r in cur.fetchall()]


def _rows(cur, schema: str, table: str) -> list[tuple]:
    cur.execute("select column_name from information_schema.columns where table_schema = %s and table_name = %s "
                "order by ordinal_position", (schema, table))
    cols = [r[0] for r in cur.fetchall() if r[0] not in VOLATILE]
    cur.execute(f'select {", ".join(f"{chr(34)}{c}{chr(34)}::text" for c in cols)} from {schema}."{table}"')
    return sorted(cur.fetchall(), key=lambda r: tuple("" if v is None else v for v in r))


def _snapshot(dbname: str) -> dict[str, list[tuple]]:
    """Every row of lake.* (silver, quarantine, run log as published) and marts.*."""
    from lakehouse import warehouse

    out = {}
    with warehouse.connect("admin", dbname=dbname) as conn, conn.cursor() as cur:
        for schema in ("lake", "marts"):
            for table in _tables(cur, schema):
                if table not in ("_publish_state", "mart_builds"):   # bookkeeping of the run itself
                    out[f"{schema}.{table}"] = _rows(cur, schema, table)
    return out


def _assert_same(baseline: dict[str, list[tuple]], env: dict[str, str], engine: str) -> None:
    got = _snapshot(env["PGDATABASE"])
    assert sorted(got) == sorted(baseline), f"{engine}: other tables than the embedded default"
    assert sum(len(v) for k, v in baseline.items() if k.startswith("lake.")) > 0
    assert any(baseline[k] for k in baseline if k.startswith("marts."))
    for name, rows in baseline.items():
        if got[name] != rows:
            missing = [r for r in rows if r not in got[name]][:3]
            extra = [r for r in got[name] if r not in rows][:3]
            pytest.fail(f"{engine}: {name} differs from the embedded default ({len(got[name])} rows, "
                        f"{len(rows)} expected); missing {missing}, unexpected {extra}")


@pytest.fixture(scope="module")
def baseline(private_lakehouse_factory, tmp_path_factory):
    """The tiny preset through the embedded default (local[2], local lake)."""
    from lakehouse.generator import generate

    root = tmp_path_factory.mktemp("beyond")
    landing = root / "landing"
    generate(out=landing, truth=root / "truth", preset="tiny", seed=SEED, sources=SOURCES, progress=False)
    os.environ["LAKEHOUSE_SERVICES_HOME"] = str(root / "services")
    base = {"landing": landing, "root": root, "private_lakehouse": private_lakehouse_factory}
    with _database(base, "local") as env:
        _pipeline("local", env)
        base["rows"] = _snapshot(env["PGDATABASE"])
        yield base
    os.environ.pop("LAKEHOUSE_SERVICES_HOME", None)
    from lakehouse.config import settings

    out = settings().home / "logs" / "beyond-one-machine-timings.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(TIMINGS, indent=2))


def _ports(*names: str) -> dict[str, str]:
    from lakehouse.services import free_port

    return {n: str(free_port()) for n in names}


def test_standalone_cluster_gives_the_same_silver_and_marts(baseline):
    ports = _ports("LAKEHOUSE_CLUSTER_PORT")
    with _service("cluster", **ports, LAKEHOUSE_SERVICE_MEMORY="1g"), \
            _database(baseline, "cluster") as env:
        env.update(LAKEHOUSE_SPARK_MASTER=f"spark://127.0.0.1:{ports['LAKEHOUSE_CLUSTER_PORT']}",
                   LAKEHOUSE_SPARK_SPARK_EXECUTOR_MEMORY="1g")
        _pipeline("cluster", env)
        _assert_same(baseline["rows"], env, "cluster")


def test_spark_connect_gives_the_same_silver_and_marts(baseline):
    ports = _ports("LAKEHOUSE_CONNECT_PORT")
    with _service("connect", **ports), \
            _database(baseline, "connect") as env:
        env["SPARK_REMOTE"] = f"sc://127.0.0.1:{ports['LAKEHOUSE_CONNECT_PORT']}"
        # no Java for the clients: a run that ignored SPARK_REMOTE and started a
        # local Spark instead fails at once rather than passing with the same rows
        env["JAVA_HOME"] = "/nonexistent-java"
        _pipeline("connect", env)
        _assert_same(baseline["rows"], env, "connect")


def test_lake_on_object_storage_gives_the_same_silver_and_marts(baseline):
    ports = _ports("LAKEHOUSE_S3_PORT")
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    with _service("s3", **ports, LAKEHOUSE_LAKE=f"s3a://{bucket}/x"), \
            _database(baseline, "s3a") as env:
        env.update(LAKEHOUSE_LAKE=f"s3a://{bucket}/lake", AWS_ENDPOINT_URL=f"http://127.0.0.1:{ports['LAKEHOUSE_S3_PORT']}",
                   AWS_ACCESS_KEY_ID="lakehouse-test", AWS_SECRET_ACCESS_KEY="lakehouse-test-secret")
        _pipeline("s3a", env)
        _assert_same(baseline["rows"], env, "s3a")
        # the lake really is in the bucket, not on the local disk
        import urllib.request

        listing = urllib.request.urlopen(f"{env['AWS_ENDPOINT_URL']}/{bucket}?list-type=2&prefix=lake/silver/",
                                         timeout=10).read().decode()
        assert "_delta_log" in listing
        assert not (baseline["root"] / "s3a" / "lake").exists()


# --------------------------------------------------------------------------- Airflow on PostgreSQL
# Every Airflow process runs in a session of its own, ended whole in teardown:
# the LocalExecutor's workers are forks of `airflow dags test`, and each task
# process (with its Spark JVM) puts itself in a process group of its own, so
# killing the command, or its process group, leaves them running.

def _session_processes(sid: int) -> dict[int, str]:
    """{pid: command} of the live processes of session `sid` (zombies have exited already)."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,sid=,stat=,args="], capture_output=True, text=True).stdout
    rows = [line.split(None, 3) for line in out.splitlines()]
    return {int(r[0]): r[3] for r in rows if len(r) == 4 and int(r[1]) == sid and not r[2].startswith("Z")}


def _end_session(proc: subprocess.Popen) -> dict[int, str]:
    """SIGTERM, then SIGKILL, every process of proc's session; returns any left."""
    for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        for pid in _session_processes(proc.pid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while _session_processes(proc.pid) and time.monotonic() < deadline:
            proc.poll()     # reap the session leader, our own child
            time.sleep(0.5)
    proc.wait(10)
    return _session_processes(proc.pid)


@contextmanager
def _airflow(env: dict[str, str], args: str, log: Path):
    """`airflow <args>` with the environment of `lakehouse airflow-env`, in its own
    session, output in `log`; yields the process, then ends its whole session."""
    cmd = f'eval "$({LAKEHOUSE} airflow-env)" && exec {BIN / "airflow"} {args}'
    with open(log, "wb") as out:
        proc = subprocess.Popen(["sh", "-c", cmd], env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        yield proc
    finally:
        left = _end_session(proc)
        assert not left, f"airflow {args}: processes left after SIGKILL: {left}"


@contextmanager
def _execution_api(env: dict[str, str], port: int):
    """Airflow's execution API (`airflow api-server --apps execution`), which
    LocalExecutor workers report to."""
    from lakehouse.services import port_open

    log = Path(env["AIRFLOW_HOME"]) / "api-server.log"
    with _airflow(env, f"api-server --apps execution -H 127.0.0.1 -p {port} -w 1", log) as proc:
        deadline = time.monotonic() + 120
        while not port_open(port):
            assert proc.poll() is None and time.monotonic() < deadline, f"api-server did not start; see {log}"
            time.sleep(0.5)
        yield


def _states(env: dict[str, str], dag_id: str) -> tuple[str | None, dict[str, str]]:
    """The DAG's run state and {task_id: state}, as the airflow role reads them."""
    from lakehouse import warehouse

    with warehouse.connect("airflow", dbname=env["LAKEHOUSE_AIRFLOW_DATABASE"]) as conn, conn.cursor() as cur:
        cur.execute("select state from dag_run where dag_id = %s", (dag_id,))
        run = cur.fetchone()
        cur.execute("select task_id, coalesce(state, 'none') from task_instance where dag_id = %s", (dag_id,))
        return (run[0] if run else None), dict(cur.fetchall())


def _dag_test(env: dict[str, str], dag_id: str, extra: str = "", timeout: float = 1800, linger: float = 180) -> None:
    """One run of the DAG through `airflow dags test --use-executor`, watched
    through its metadata: a task that fails ends it at once (its retries come
    five minutes apart, which looks like a hang), and so does a command still
    running `linger` seconds after its run ended; the failure names the
    states, the processes still alive and the logs."""
    log = Path(env["AIRFLOW_HOME"]) / f"dags-test-{dag_id}.log"
    t0 = time.monotonic()
    with _airflow(env, f"dags test --use-executor {dag_id} {extra}", log) as proc:
        run, tasks, ended = None, {}, None
        while proc.poll() is None:
            run, tasks = _states(env, dag_id)
            ended = ended or (time.monotonic() if run in ("success", "failed") else None)
            why = None
            if any(s in ("failed", "up_for_retry", "upstream_failed") for s in tasks.values()):
                why = "a task failed"
            elif time.monotonic() - t0 > timeout:
                why = f"not done after {timeout:.0f}s"
            elif ended and time.monotonic() - ended > linger:
                why = f"still running {linger:.0f}s after its run ended"
            if why:
                pytest.fail(f"{dag_id}: {why}: run {run}, tasks {tasks}; processes {_session_processes(proc.pid)}; "
                            f"see {log} and the task logs under "
                            f"{Path(os.environ['LAKEHOUSE_HOME']) / 'logs' / f'dag_id={dag_id}'}")
            time.sleep(5)
        TIMINGS.setdefault("airflow", {})[dag_id] = round(time.monotonic() - t0, 1)
        assert proc.returncode == 0, f"{dag_id}: dags test exited {proc.returncode} (run {run}, tasks {tasks}):\n" \
                                     f"{log.read_text(errors='replace')[-4000:]}"


def test_airflow_on_postgres_gives_the_same_silver_and_marts(baseline):
    """The backfill and marts DAGs through `airflow dags test --use-executor`:
    Airflow's metadata in a database of the project's PostgreSQL (owned by the
    airflow role), the tasks run by the LocalExecutor (reporting to a local
    execution API), the environment assembled by `lakehouse airflow-env`."""
    from lakehouse import warehouse
    from lakehouse.config import REPO_ROOT
    from lakehouse.services import free_port

    airflow_db = f"airflow_e2e_{uuid.uuid4().hex[:8]}"
    api_port = free_port()
    with _database(baseline, "airflow") as env:
        env = {k: v for k, v in env.items() if not k.startswith("AIRFLOW")}
        env.update(LAKEHOUSE_AIRFLOW_METADATA="postgres", LAKEHOUSE_AIRFLOW_DATABASE=airflow_db,
                   AIRFLOW_HOME=str(baseline["root"] / "airflow" / "home"),
                   AIRFLOW__API_AUTH__JWT_SECRET=uuid.uuid4().hex + uuid.uuid4().hex,
                   AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{api_port}/execution/",
                   # the tasks import jobs/ of this checkout, as `lakehouse airflow start` gives them
                   PYTHONPATH=os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p))
        Path(env["AIRFLOW_HOME"]).mkdir(parents=True)
        try:
            _run([LAKEHOUSE, "airflow-init"], env, "airflow:init")
            shown = _run([LAKEHOUSE, "airflow-env"], env, "airflow:env")
            assert "lakehouse_airflow:" in shown and f"/{airflow_db}" in shown and "postgresql+psycopg2://" in shown
            assert "AIRFLOW__CORE__EXECUTOR=LocalExecutor" in shown
            with _execution_api(env, api_port):
                _dag_test(env, "ingest_backfill", "--conf '{}'")
                _dag_test(env, "build_marts")
            with warehouse.connect("airflow", dbname=airflow_db) as conn, conn.cursor() as cur:
                cur.execute("select dag_id, state from dag_run order by dag_id")
                runs = cur.fetchall()
            assert runs == [("build_marts", "success"), ("ingest_backfill", "success")], runs
            _assert_same(baseline["rows"], env, "airflow")
        finally:
            with warehouse.connect("admin", dbname="postgres") as conn:
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute(f'drop database if exists "{airflow_db}" with (force)')
