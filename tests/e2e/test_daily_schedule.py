"""A business week plus a weekend through the real daily DAGs, on a frozen
clock, on the warm engine as the daily service has it (a Spark Connect server
started by `lakehouse connect up`; the tasks are its clients): two sources
(huangpu, template S; jingan, template J) of a generated tiny city, one
dag.test() per source and day at the moment the scheduler would run it (the
next morning, after the cut-off). Jingan sends nothing on
Wednesday. build_marts is run whenever Airflow's own asset evaluation says
it is due (what the scheduler does), so the number of marts builds is the
number a real scheduler would start."""

from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from helpers.warm_engine import connect_server

from lakehouse.config import REPO_ROOT

pytestmark = pytest.mark.e2e

SHANGHAI = ZoneInfo("Asia/Shanghai")
SOURCES = ("huangpu", "jingan")
MONDAY = date(2017, 4, 10)
WEEK = [MONDAY + timedelta(days=i) for i in range(7)]          # Mon 10 .. Sun 16 April 2017
MISSING_DAY = date(2017, 4, 12)                                 # jingan sends nothing on Wednesday


def _env(**values: str | None) -> dict:
    from lakehouse.config import settings

    saved = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    settings.cache_clear()
    return saved


def _airflow_session():
    from airflow import settings as airflow_settings

    return airflow_settings.Session()


def _marts_due() -> bool:
    """Airflow's scheduler query: is build_marts' asset condition met by the queued events?"""
    from airflow.models.dag import DagModel

    session = _airflow_session()
    try:
        _, triggered = DagModel.dags_needing_dagruns(session)
        return "build_marts" in triggered
    finally:
        session.rollback()
        session.close()


def _consume_marts_queue() -> None:
    """What the scheduler does when it starts the asset-triggered run."""
    from airflow.models.asset import AssetDagRunQueue
    from sqlalchemy import delete

    session = _airflow_session()
    session.execute(delete(AssetDagRunQueue).where(AssetDagRunQueue.target_dag_id == "build_marts"))
    session.commit()
    session.close()


def _set_paused(dag_id: str, paused: bool) -> None:
    from airflow.models.dag import DagModel
    from sqlalchemy import update

    session = _airflow_session()
    session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=paused))
    session.commit()
    session.close()


def _states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state).split(".")[-1].lower() for ti in run.get_task_instances()}


@pytest.fixture(scope="module")
def week(isolated_lakehouse_module, tmp_path_factory):
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    from lakehouse.config import settings
    from lakehouse.generator import generate

    # the generator knows the whole city; the DAGs see only the two sources (a private schemas copy)
    landing = settings().landing
    generate(out=Path(landing), truth=tmp_path_factory.mktemp("truth"), start=MONDAY, days=5, preset="tiny", seed=11,
             sources=list(SOURCES), progress=False)
    shutil.rmtree(f"{landing}/jingan/{MISSING_DAY}")
    schemas = tmp_path_factory.mktemp("schemas") / "schemas"
    shutil.copytree(REPO_ROOT / "schemas", schemas)
    for p in (schemas / "sources").glob("*.yaml"):
        if p.stem not in SOURCES:
            p.unlink()
    first_run = datetime.combine(MONDAY + timedelta(days=1), datetime.min.time(), SHANGHAI) + timedelta(hours=9)
    saved = _env(LAKEHOUSE_SCHEMAS=str(schemas), LAKEHOUSE_START_DATE=None, LAKEHOUSE_CATCHUP_DAYS="3",
                 LAKEHOUSE_DELIVERY_CUTOFF="6", LAKEHOUSE_NOW=first_run.isoformat())

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert not bag.import_errors, bag.import_errors
    assert sorted(d for d in bag.dag_ids if d.startswith("ingest_")) == ["ingest_backfill", "ingest_huangpu",
                                                                          "ingest_jingan"]
    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(bag, "dags-folder", None)
    _set_paused("build_marts", False)          # switched on, as the README says
    _consume_marts_queue()                     # events other test modules left

    with connect_server(tmp_path_factory.mktemp("engine-home")) as (url, _):
        with _on_the_server(url):
            result = _run_week(bag)
    yield result
    _set_paused("build_marts", True)
    _env(**saved)


@contextmanager
def _on_the_server(url: str):
    """This process's Spark is a client of the server while the week runs (the
    client an Airflow task of `make airflow` gets from the warm engine); a local
    session again afterwards, for the checks."""
    from lakehouse.lake.spark import get_spark

    saved = _env(SPARK_REMOTE=url)
    get_spark.cache_clear()
    client = get_spark()
    try:
        assert type(client).__module__.startswith("pyspark.sql.connect"), type(client)
        yield
    finally:
        client.stop()          # released while the server still runs
        _env(**saved)
        os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)   # set by get_spark for Connect columns
        get_spark.cache_clear()


def _run_week(bag) -> dict:
    runs, seconds, marts_builds = {}, {}, []
    for day in WEEK:
        # the scheduler runs day D at 00:00 Shanghai; we look at it the next morning, after the cut-off
        os.environ["LAKEHOUSE_NOW"] = (datetime.combine(day + timedelta(days=1), datetime.min.time(), SHANGHAI)
                                       + timedelta(hours=9)).isoformat()
        for source in SOURCES:
            t0 = time.perf_counter()
            runs[source, day] = bag.get_dag(f"ingest_{source}").test(
                logical_date=datetime.combine(day, datetime.min.time(), SHANGHAI))
            seconds[source, day] = time.perf_counter() - t0
        if _marts_due():
            _consume_marts_queue()
            t0 = time.perf_counter()
            marts_builds.append((day, bag.get_dag("build_marts").test()))
            seconds["build_marts", day] = time.perf_counter() - t0
        print(f"[daily] {day} {day:%a}: " + ", ".join(f"{k} {v:.0f}s" for (k, d), v in seconds.items() if d == day))
    # a manual marts run with nothing new: publish finds nothing, dbt is skipped
    idle_marts = bag.get_dag("build_marts").test()
    return {"runs": runs, "seconds": seconds, "marts_builds": marts_builds, "idle_marts": idle_marts}


def _business(day: date) -> bool:
    return day.weekday() < 5


def test_weekdays_ingest_every_delivery(week, read_delta):
    for (source, day), run in week["runs"].items():
        if _business(day) and (source, day) != ("jingan", MISSING_DAY):
            assert "success" in str(run.state).lower(), (source, day, _states(run))
            assert _states(run) == {"wait_for_delivery": "success",
                                    "ingest": "success", "alert": "success"}
    log = read_delta("ops", "ingest_runs").where("status <> 'missing'")
    delivered = {(r["source"], r["delivery_date"]) for r in log.select("source", "delivery_date").collect()}
    expected = {(s, d) for s in SOURCES for d in WEEK if _business(d)} - {("jingan", MISSING_DAY)}
    assert delivered == expected


def test_every_batch_ran_on_the_warm_engine(week, read_delta):
    batches = read_delta("ops", "ingest_batches").collect()
    assert batches and all(b["engine_session"] for b in batches), \
        [(b["ingest_run_id"], b["engine_session"]) for b in batches]


def test_the_tables_the_server_wrote_read_with_delta_rs(week, read_delta, spark):
    """Plain `string` columns in the Delta schemas (not the server's 'string
    collate UTF8_BINARY', which delta-rs and Polars refuse): same counts."""
    from deltalake import DeltaTable

    from lakehouse.catalog import load_catalog
    from lakehouse.lake import delta

    tables = [("bronze", name) for name in load_catalog().tables] + [("quarantine", "rows")]
    assert sum(delta.exists(spark, delta.table_path(layer, name)) for layer, name in tables) >= 3
    for layer, name in tables:
        if delta.exists(spark, delta.table_path(layer, name)):
            rows = DeltaTable(delta.table_path(layer, name)).to_pyarrow_dataset().count_rows()
            assert rows == read_delta(layer, name).count(), (layer, name)


def test_weekend_days_end_at_once_without_failure(week):
    for (source, day), run in week["runs"].items():
        if not _business(day):
            assert "success" in str(run.state).lower(), (source, day)
            assert _states(run) == {"wait_for_delivery": "skipped",
                                    "ingest": "skipped", "alert": "skipped"}
            assert week["seconds"][source, day] < 30, week["seconds"][source, day]


def test_a_missing_weekday_fails_visibly_and_blocks_nothing(week, read_delta):
    run = week["runs"]["jingan", MISSING_DAY]
    assert "failed" in str(run.state).lower()
    assert _states(run) == {"wait_for_delivery": "success",
                            "ingest": "success", "alert": "failed"}
    from lakehouse.orchestration.schedule import MISSING, DayPlan, record_missing

    missing = read_delta("ops", "ingest_runs").where("status = 'missing'").collect()
    assert [(r["source"], r["delivery_date"]) for r in missing] == [("jingan", MISSING_DAY)]
    # the task retried (Airflow retries it after a crash): still one row
    retried = DayPlan("jingan", MISSING_DAY, MISSING, missing[0]["reason"], MISSING_DAY, datetime.now(timezone.utc))
    record_missing(read_delta("ops", "ingest_runs").sparkSession, retried, "retry")
    assert read_delta("ops", "ingest_runs").where("status = 'missing'").count() == 1
    assert missing[0]["reason"].startswith("jingan: no delivery for business day 2017-04-12 by the cut-off "
                                           "2017-04-13 06:00")
    # the other source that day, and jingan the next day, went on as usual
    assert "success" in str(week["runs"]["huangpu", MISSING_DAY].state).lower()
    assert "success" in str(week["runs"]["jingan", MISSING_DAY + timedelta(days=1)].state).lower()


def test_the_collection_quality_mart_says_not_delivered(week):
    from lakehouse.serving import warehouse

    with warehouse.connect(role="analyst") as conn, conn.cursor() as cur:
        cur.execute("""select source, delivery_date, feed, files_received, rows_received
                       from marts.fct_collection_quality where delivery_status = 'not delivered'""")
        assert cur.fetchall() == [("jingan", MISSING_DAY, "NONE", 0, 0)]
        cur.execute("""select source, count(distinct delivery_date) from marts.fct_collection_quality
                       where delivery_status = 'delivered' group by 1 order by 1""")
        assert cur.fetchall() == [("huangpu", 5), ("jingan", 4)]
        cur.execute("""select count(*) from marts.fct_collection_quality
                       where delivery_status = 'delivered' and not rows_reconcile""")
        assert cur.fetchone()[0] == 0


def test_marts_build_once_per_business_day_and_skip_dbt_when_nothing_changed(week):
    from lakehouse.serving import warehouse

    builds = week["marts_builds"]
    # one round per business day (both sources in, or marked missing); none at the weekend
    assert [day for day, _ in builds] == [d for d in WEEK if _business(d)]
    assert all("success" in str(run.state).lower() for _, run in builds)
    assert "success" in str(week["idle_marts"].state).lower()
    with warehouse.connect(role="loader") as conn, conn.cursor() as cur:
        cur.execute("select status, cardinality(published) from lake.mart_builds order by built_at")
        rows = cur.fetchall()
    assert [s for s, _ in rows] == ["success"] * 5 + ["skipped"]
    assert all(n > 0 for _, n in rows[:5]) and rows[5][1] == 0
