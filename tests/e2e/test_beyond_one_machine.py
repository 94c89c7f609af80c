"""The scaled-out column on this machine, with the same code and only
environment variables changed: a Spark Connect server on a Spark standalone
cluster with the lake on an S3-compatible server (s3a://), and the daily
DAGs under Airflow's scheduler on PostgreSQL metadata. Each ingests the tiny
preset (the registry and two districts), publishes and builds the marts as
subprocesses (`lakehouse ...`, or the DAGs under the scheduler) and must give
the same silver (as published to PostgreSQL lake.*) and the same marts, row
for row, as the embedded default run once for the module.

The services are started with the `lakehouse cluster|connect|s3 up` commands
on free ports, their pidfiles in a private LAKEHOUSE_HOME, and always stopped
in teardown. Wall times of each run go to
$LAKEHOUSE_HOME/logs/beyond-one-machine-timings.json (README figures).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent
LAKEHOUSE = str(BIN / "lakehouse")
SEED = 7
# The registry and two districts write all 11 tables, and per-table cost
# dominates a tiny run (all 17 sources made the module several minutes
# longer for no more coverage). The readers of the other templates (xlsx among them) run in
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
    try:
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{what}: {' '.join(cmd)} still running after {timeout} s:\n{_tail(exc.stderr)}\n"
                    f"{_service_logs()}")
    TIMINGS.setdefault(what.split(":")[0], {})[what.split(":")[1]] = round(time.monotonic() - t0, 1)
    assert res.returncode == 0, f"{what}: {' '.join(cmd)} failed ({res.returncode}):\n{res.stdout[-3000:]}\n" \
                                f"{res.stderr[-5000:]}\n{_service_logs()}"
    return res.stdout


def _tail(text: str | bytes | None, chars: int = 5000) -> str:
    text = text.decode(errors="replace") if isinstance(text, bytes) else (text or "")
    return text[-chars:]


def _service_logs() -> str:
    """The last lines of every service's log and executor's stderr: a failure
    on the scaled-out column is usually explained there, not in the client."""
    home = os.environ.get("LAKEHOUSE_SERVICES_HOME")
    logs = sorted(Path(home).glob("*/logs/*.log")) + sorted(Path(home).glob("*/spark-work/app-*/*/stderr")) \
        if home else []
    return "\n".join(f"--- {log}\n{_tail(log.read_text(errors='replace'), 3000)}" for log in logs[-6:])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in VARIANT_VARS}
    env.update(extra)
    return env


def _pipeline(engine: str, env: dict[str, str]) -> None:
    """ingest -> publish -> marts, each its own process, as a user would run them."""
    _run([LAKEHOUSE, "ingest"], env, f"{engine}:ingest", timeout=900)
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
    # the project's secrets shared: the Connect server requires the token its clients read there
    env = _env(LAKEHOUSE_HOME=str(home), LAKEHOUSE_JARS_DIR=str(settings().jars_dir),
               LAKEHOUSE_SECRETS_FILE=str(settings().secrets_file), **ports)
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
    from lakehouse.serving import warehouse

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
    from lakehouse.services.engines import free_port

    return {n: str(free_port()) for n in names}


# make test-slow: minutes of services on top of the embedded default's run
@pytest.mark.slow
def test_connect_on_a_cluster_with_the_lake_on_object_storage_gives_the_same_silver_and_marts(baseline):
    """The whole scaled-out column in one deployment, as it would run off the
    laptop: an S3-compatible server holds the landing and the lake (s3a://),
    the same rows as a local landing give; a standalone
    cluster runs the executors, and a Spark Connect server on that cluster is
    the driver the Java-less clients share. (One run for the three: each is a
    full tiny pipeline of minutes, and the suite must stay well inside CI's
    limit. The local driver on a cluster or on s3a differs from this only in
    where the driver runs, which the embedded default covers.)"""
    ports = _ports("LAKEHOUSE_S3_PORT", "LAKEHOUSE_CLUSTER_PORT", "LAKEHOUSE_CONNECT_PORT")
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    s3 = dict(LAKEHOUSE_LAKE=f"s3a://{bucket}/lake", AWS_ENDPOINT_URL=f"http://127.0.0.1:{ports['LAKEHOUSE_S3_PORT']}",
              AWS_ACCESS_KEY_ID="lakehouse-test", AWS_SECRET_ACCESS_KEY="lakehouse-test-secret")
    cluster = dict(LAKEHOUSE_SPARK_MASTER=f"spark://127.0.0.1:{ports['LAKEHOUSE_CLUSTER_PORT']}",
                   LAKEHOUSE_SPARK_SPARK_EXECUTOR_MEMORY="1g")
    with _service("s3", LAKEHOUSE_S3_PORT=ports["LAKEHOUSE_S3_PORT"], LAKEHOUSE_LAKE=s3["LAKEHOUSE_LAKE"]), \
            _service("cluster", LAKEHOUSE_CLUSTER_PORT=ports["LAKEHOUSE_CLUSTER_PORT"], LAKEHOUSE_SERVICE_MEMORY="1g"), \
            _service("connect", LAKEHOUSE_CONNECT_PORT=ports["LAKEHOUSE_CONNECT_PORT"], **s3, **cluster), \
            _database(baseline, "scaled_out") as env:
        # the deliveries land in the bucket too: the executors read them through s3a
        _upload(baseline["landing"], s3["AWS_ENDPOINT_URL"], bucket, "landing")
        env.update(s3, SPARK_REMOTE=f"sc://127.0.0.1:{ports['LAKEHOUSE_CONNECT_PORT']}",
                   LAKEHOUSE_LANDING=f"s3a://{bucket}/landing")
        # no Java for the clients: a run that ignored SPARK_REMOTE and started a
        # local Spark instead fails at once rather than passing with the same rows
        env["JAVA_HOME"] = "/nonexistent-java"
        _pipeline("scaled_out", env)
        _assert_same(baseline["rows"], env, "scaled_out")
        # the lake really is in the bucket, not on the local disk
        import urllib.request

        listing = urllib.request.urlopen(f"{env['AWS_ENDPOINT_URL']}/{bucket}?list-type=2&prefix=lake/silver/",
                                         timeout=10).read().decode()
        assert "_delta_log" in listing
        assert not (baseline["root"] / "scaled_out" / "lake").exists()
        # and the cluster's worker ran the Connect server's executors
        work = Path(os.environ["LAKEHOUSE_SERVICES_HOME"]) / "cluster" / "spark-work"
        assert list(work.glob("app-*/*/stderr")), f"no executor ran on the cluster's worker ({work})"


def _opened_files(trace: Path) -> set[str]:
    """Every path a traced process tree opened (strace -e trace=open,openat,openat2)."""
    import re

    pattern = re.compile(r'open(?:at2?)?\((?:[^,"]*, )?"([^"]+)"')
    return {m.group(1) for line in trace.read_text(errors="replace").splitlines() if (m := pattern.search(line))}


def test_a_driver_on_a_cluster_plans_and_the_executors_read_every_delivered_file(baseline, tmp_path):
    """Staging runs in Spark's executors: `lakehouse ingest` as a local driver
    on a standalone cluster (a master and a worker) gives the embedded
    default's silver and marts row for row, and its whole process tree
    (Python and its JVM, traced with strace) opens every delivery's manifest
    and not one delivered data file: those are opened by the executors on
    the worker. If staging moved back to the driver, the trace would show it."""
    import shutil as sh

    strace = sh.which("strace")
    assert strace, "strace is needed (make setup installs it: apt-get install strace)"
    ports = _ports("LAKEHOUSE_CLUSTER_PORT")
    with _service("cluster", LAKEHOUSE_CLUSTER_PORT=ports["LAKEHOUSE_CLUSTER_PORT"], LAKEHOUSE_SERVICE_MEMORY="1g"), \
            _database(baseline, "cluster") as env:
        env.update(LAKEHOUSE_SPARK_MASTER=f"spark://127.0.0.1:{ports['LAKEHOUSE_CLUSTER_PORT']}",
                   LAKEHOUSE_SPARK_SPARK_EXECUTOR_MEMORY="1g")
        trace = tmp_path / "driver.strace"
        _run([strace, "-f", "-qq", "--seccomp-bpf", "-e", "trace=open,openat,openat2", "-o", str(trace),
              LAKEHOUSE, "ingest"], env, "cluster:ingest")
        _run([LAKEHOUSE, "publish"], env, "cluster:publish")
        _run([LAKEHOUSE, "marts"], env, "cluster:marts")
        _assert_same(baseline["rows"], env, "cluster")
        delivered = {str(p) for p in baseline["landing"].rglob("*") if p.is_file()}
        manifests = {p for p in delivered if p.endswith("_MANIFEST.json")}
        opened = _opened_files(trace) & delivered
        assert manifests and opened >= manifests, "the trace did not see the driver read the manifests"
        assert opened == manifests, f"the driver opened delivered data files: {sorted(opened - manifests)[:5]}"
        work = Path(os.environ["LAKEHOUSE_SERVICES_HOME"]) / "cluster" / "spark-work"
        assert list(work.glob("app-*/*/stderr")), f"no executor ran on the cluster's worker ({work})"


def _upload(landing: Path, endpoint: str, bucket: str, prefix: str) -> None:
    """The landing's folders as objects under s3://bucket/prefix/ (moto's S3 server)."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="lakehouse-test",
                      aws_secret_access_key="lakehouse-test-secret")
    for path in sorted(p for p in landing.rglob("*") if p.is_file()):
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{path.relative_to(landing).as_posix()}", Body=path.read_bytes())


# --------------------------------------------------------------------------- Airflow's scheduler on PostgreSQL
# `lakehouse airflow start` (airflow standalone: scheduler, dag-processor, api-server)
# with the LocalExecutor on PostgreSQL metadata; the test drives it only through
# the REST API, as an operator would, and reads the metadata as the airflow role.

def _metadata(env: dict[str, str], sql: str, *args) -> list[tuple]:
    from lakehouse.serving import warehouse

    with warehouse.connect("airflow", dbname=env["LAKEHOUSE_AIRFLOW_DATABASE"]) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def _wait(what: str, done, env: dict[str, str], timeout: float = 900) -> None:
    """Until done() is true; a failed task (its retries come minutes apart) or the
    timeout ends the test at once, naming the states and where the logs are."""
    deadline = time.monotonic() + timeout
    while not done():
        failed = _metadata(env, "select dag_id, run_id, task_id, state from task_instance "
                                "where state in ('failed', 'up_for_retry', 'upstream_failed')")
        if failed or time.monotonic() > deadline:
            states = _metadata(env, "select dag_id, run_id, task_id, state from task_instance order by 1, 2, 3")
            pytest.fail(f"{what}: {'a task failed: ' + str(failed) if failed else 'timed out'}; states {states}; "
                        f"task logs under {Path(env['LAKEHOUSE_HOME']) / 'logs'}, scheduler log "
                        f"{Path(env['LAKEHOUSE_HOME']) / 'logs' / 'airflow-ui.log'}")
        time.sleep(3)


@contextmanager
def _scheduler(env: dict[str, str]):
    """`lakehouse airflow start`, then `stop`; yields (url, token). Nothing of its session may outlive stop."""
    from lakehouse.services import airflow_ui

    _run([LAKEHOUSE, "airflow", "start"], env, "airflow:start", timeout=400)
    sid = int((Path(env["LAKEHOUSE_HOME"]) / "airflow-ui.pid").read_text())
    try:
        url = f"http://127.0.0.1:{env['LAKEHOUSE_AIRFLOW_PORT']}"
        yield url, airflow_ui.login(url)
    finally:
        _run([LAKEHOUSE, "airflow", "stop"], env, "airflow:stop", timeout=200)
        assert airflow_ui.session_processes(sid) == {}, "processes left after `lakehouse airflow stop`"


def _hold_the_pool(url: str, token: str, slots: int) -> None:
    from lakehouse.services import airflow_ui

    airflow_ui.rest(url, "/api/v2/pools/lake_writers?update_mask=slots", token,
                    {"pool": "lake_writers", "slots": slots, "include_deferred": False}, method="PATCH")


# make test-slow: minutes of services on top of the embedded default's run
@pytest.mark.slow
def test_the_daily_dags_under_the_scheduler_give_the_same_silver_and_marts(baseline, tmp_path):
    """The per-source DAGs and build_marts under Airflow's real scheduler, which
    schedules the preset's two business days itself (start date the first day,
    the clock frozen the morning after the second). The six ingest tasks queue
    behind a held pool, as when the deliveries are in before the pool frees;
    then each day one Spark batch ingests all three sources (the first ingest
    task takes the two queued behind it), the other two report their own files
    from its receipts, and the scheduler starts build_marts once per day from
    the three sources' assets. Same silver and marts as the embedded default;
    every task's report reconciles with the run log."""
    from lakehouse.config import REPO_ROOT, settings
    from lakehouse.services import airflow_ui
    from lakehouse.services.engines import free_port

    days = sorted(p.parent.name for p in (baseline["landing"] / SOURCES[0]).glob("*/_MANIFEST.json"))
    assert len(days) == 2, days
    morning_after = date.fromisoformat(days[-1]) + timedelta(days=1)
    schemas = tmp_path / "schemas"       # the other 14 feeds not connected: three ingest DAGs
    shutil.copytree(REPO_ROOT / "schemas", schemas)
    for other in (schemas / "sources").glob("*.yaml"):
        if other.stem not in SOURCES:
            other.write_text(other.read_text(encoding="utf-8") + "\nscheduled: false\n", encoding="utf-8")
    airflow_db = f"airflow_e2e_{uuid.uuid4().hex[:8]}"
    with _database(baseline, "airflow") as env:
        env = {k: v for k, v in env.items() if not k.startswith("AIRFLOW") and k != "LAKEHOUSE_CATCHUP_DAYS"}
        env.update(LAKEHOUSE_AIRFLOW_METADATA="postgres", LAKEHOUSE_AIRFLOW_DATABASE=airflow_db,
                   LAKEHOUSE_HOME=str(tmp_path / "home"), AIRFLOW_HOME=str(tmp_path / "home" / "airflow"),
                   LAKEHOUSE_SECRETS_FILE=str(settings().secrets_file), LAKEHOUSE_JARS_DIR=str(settings().jars_dir),
                   LAKEHOUSE_AIRFLOW_PORT=str(free_port()), LAKEHOUSE_SCHEMAS=str(schemas),
                   LAKEHOUSE_START_DATE=days[0], LAKEHOUSE_NOW=f"{morning_after}T09:00:00+08:00")
        try:
            _run([LAKEHOUSE, "airflow-init"], env, "airflow:init")
            with _scheduler(env) as (url, token):
                dag_ids = [f"ingest_{c}" for c in SOURCES] + ["build_marts"]
                _wait("the DAGs parsed", lambda: set(dag_ids) <= {
                    d["dag_id"] for d in airflow_ui.rest(url, "/api/v2/dags?limit=100", token)["dags"]}, env, timeout=300)
                _hold_the_pool(url, token, 0)
                t0 = time.monotonic()
                for dag_id in dag_ids:
                    airflow_ui.rest(url, f"/api/v2/dags/{dag_id}", token, {"is_paused": False}, method="PATCH")
                queued = ("select count(*) from task_instance ti join dag_run r using (dag_id, run_id) "
                          "where ti.task_id = 'ingest' and ti.state = 'scheduled' and "
                          "(r.logical_date at time zone 'Asia/Shanghai')::date < %s")
                _wait("the ingest tasks queued", lambda: _metadata(env, queued, morning_after)[0][0] == 6, env)
                _hold_the_pool(url, token, 1)
                marts = "select count(*) from dag_run where dag_id = 'build_marts' and state = 'success'"
                _wait("build_marts for each day", lambda: _metadata(env, marts)[0][0] == len(days), env, timeout=1500)
                TIMINGS.setdefault("airflow", {})["scheduler_two_days"] = round(time.monotonic() - t0, 1)
            runs = _metadata(env, "select dag_id, (logical_date at time zone 'Asia/Shanghai')::date::text, state, "
                                  "run_type from dag_run where dag_id = 'build_marts' "
                                  "or (logical_date at time zone 'Asia/Shanghai')::date < %s "
                                  "order by 1, 2", morning_after)
            assert [r[0::2] for r in runs] == [("build_marts", "success")] * len(days) + sorted(
                (f"ingest_{c}", "success") for c in SOURCES for _ in days), runs
            assert [r[1] for r in runs if r[0] != "build_marts"] == days * len(SOURCES), runs
            _assert_same(baseline["rows"], env, "airflow")
            _assert_one_batch_a_day_reported_per_source(env)
            assert not list((tmp_path / "home" / "receipts").glob("*")), "receipts left untaken"
        finally:
            from lakehouse.serving import warehouse

            with warehouse.connect("admin", dbname="postgres") as conn:
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute(f'drop database if exists "{airflow_db}" with (force)')


def _assert_one_batch_a_day_reported_per_source(env: dict[str, str]) -> None:
    """One ingest run (Spark batch) per day in the run log, and each source's
    ingest task reported exactly its own files' counts from it."""
    from lakehouse.serving import warehouse

    with warehouse.connect("admin", dbname=env["PGDATABASE"]) as conn, conn.cursor() as cur:
        cur.execute("select delivery_date::text, source, count(distinct ingest_run_id), count(*), sum(rows_in), "
                    "sum(rows_accepted) from lake.ingest_runs group by 1, 2")
        logged = {(d, s): (runs, files, rows_in, accepted) for d, s, runs, files, rows_in, accepted in cur.fetchall()}
        cur.execute("select delivery_date::text, count(distinct ingest_run_id) from lake.ingest_runs group by 1")
        batches = dict(cur.fetchall())
    assert set(batches.values()) == {1}, batches
    reported = _metadata(env, "select x.dag_id, (r.logical_date at time zone 'Asia/Shanghai')::date::text, x.value "
                              "from xcom x join dag_run r using (dag_id, run_id) "
                              "where x.task_id = 'ingest' and x.key = 'return_value'")
    got = {}
    for dag_id, day, value in reported:
        result = value if isinstance(value, dict) else json.loads(value)
        got[(day, dag_id.removeprefix("ingest_"))] = (1, result["files"], result["rows_in"], result["rows_accepted"])
    assert got == logged, (got, logged)
