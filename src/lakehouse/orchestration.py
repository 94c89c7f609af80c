"""DAG factories: one ingest DAG per schemas/sources/*.yaml, and the marts
DAG triggered by the silver assets. Only wiring lives here; every task calls
one function of the package. Nothing heavy at import: Spark, GX and dbt are
imported inside the tasks.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import yaml

from lakehouse.config import settings

START = datetime(2017, 1, 1)
DEFAULT_ARGS = {"retries": 2, "retry_delay": timedelta(minutes=5), "execution_timeout": timedelta(hours=2)}


def source_configs() -> list[dict]:
    """Light read of the source YAML files (no validation: the ingest task
    validates the whole catalog, and the DAG-integrity test does too)."""
    folder = settings().schemas_dir / "sources"
    return [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.yaml"))]


def silver_asset(table: str):
    from airflow.sdk import Asset

    return Asset(name=f"silver_{table}", uri=f"lakehouse://silver/{table}", group="silver")


def delivery_day(context) -> date:
    """The day to ingest: `date` in the run's conf, else the run's logical date."""
    conf = (context.get("dag_run").conf or {}) if context.get("dag_run") else {}
    if conf.get("date"):
        return date.fromisoformat(conf["date"])
    return context["logical_date"].date()


def build_ingest_dag(cfg: dict):
    from airflow.sdk import DAG, task
    from airflow.sdk.bases.sensor import PokeReturnValue

    code = cfg["code"]
    with DAG(
        dag_id=f"ingest_{code}",
        description=f"Ingest {cfg['name']} ({cfg['template']}): landing -> bronze -> silver, validated",
        schedule="@daily", start_date=START, catchup=True, max_active_runs=1,
        default_args=DEFAULT_ARGS, tags=["ingest", f"template:{cfg['template']}"],
        params={"date": None},
    ) as dag:

        @task.sensor(poke_interval=300, timeout=12 * 3600, mode="reschedule")
        def wait_for_manifest(**context) -> PokeReturnValue:
            day = delivery_day(context)
            manifest = Path(settings().landing) / code / day.isoformat() / "_MANIFEST.json"
            return PokeReturnValue(is_done=manifest.exists(), xcom_value=day.isoformat())

        # One Spark session per task run; the pool keeps lake writers one at a time.
        @task(pool="lake_writers", outlets=[silver_asset(f) for f in cfg["feeds"]])
        def ingest(day: str) -> dict:
            from airflow.sdk.exceptions import AirflowFailException

            from lakehouse.ingest.pipeline import ingest as run_ingest

            d = date.fromisoformat(day)
            report = run_ingest(sources=[code], start=d, end=d)
            for note in report.notes:
                print("note:", note)
            for f in report.files:
                if f["status"] != "accepted":
                    print(f"{f['status'].upper()} {f['_file']}: {f['reason']}")
            totals = report.totals()
            print("totals:", totals)
            if report.blocked_sources:
                raise AirflowFailException(
                    f"{code} {day}: critical expectations failed, batch not published: "
                    + "; ".join(f["reason"] for f in report.files if f["status"] == "blocked")
                    + f". See Data Docs under {settings().home / 'gx'} and the run log (lake.ingest_runs).")
            return totals

        ingest(wait_for_manifest())
    return dag


def build_backfill_dag(tables: list[str]):
    """Manual: ingest every (or the given) source for a range of days in one
    batch: one Spark session and one Delta write per table instead of one per
    source and day. Trigger with conf {"start": "2017-01-02", "end": "2017-12-29",
    "sources": ["jingan"]} (sources optional)."""
    from airflow.sdk import DAG, task

    with DAG(
        dag_id="ingest_backfill", description="Ingest a range of days for many sources in one batch",
        schedule=None, start_date=START, catchup=False, max_active_runs=1, default_args=DEFAULT_ARGS,
        tags=["ingest", "backfill"], params={"start": None, "end": None, "sources": None},
    ) as dag:

        @task(pool="lake_writers", outlets=[silver_asset(t) for t in tables])
        def ingest_range(**context) -> dict:
            from lakehouse.ingest.pipeline import ingest as run_ingest

            conf = context["dag_run"].conf or {}
            start = date.fromisoformat(conf["start"]) if conf.get("start") else None
            end = date.fromisoformat(conf["end"]) if conf.get("end") else None
            report = run_ingest(sources=conf.get("sources"), start=start, end=end)
            for f in report.files:
                if f["status"] != "accepted":
                    print(f"{f['status'].upper()} {f['_file']}: {f['reason']}")
            print("seconds by stage:", report.timings)
            return {**report.totals(), "blocked_sources": sorted(report.blocked_sources)}

        ingest_range()
    return dag


def build_marts_dag(tables: list[str]):
    from airflow.sdk import DAG, task

    schedule = None
    for t in tables:
        schedule = silver_asset(t) if schedule is None else (schedule | silver_asset(t))
    with DAG(
        dag_id="build_marts",
        description="Publish silver changes to PostgreSQL and build the dbt marts when any silver table updates",
        schedule=schedule, start_date=START, catchup=False, max_active_runs=1,
        default_args=DEFAULT_ARGS, tags=["marts"],
    ) as dag:

        @task(pool="lake_writers")
        def publish() -> list[str]:
            from lakehouse.publish import publish as run_publish

            return [f"{p.table}: v{p.from_version}->v{p.to_version} +{p.upserted} -{p.deleted}"
                    for p in run_publish()]

        @task
        def build(published: list[str]) -> dict:
            from lakehouse.mart_build import build_and_record

            return build_and_record(published)

        @task
        def report(built: dict) -> str:
            """The supervision report, redrawn from the marts just built."""
            from lakehouse.report import build_report

            return str(build_report())

        report(build(publish()))
    return dag


def build_maintain_dag():
    """Compact, checkpoint and vacuum every Delta table (lakehouse.maintain),
    on LAKEHOUSE_MAINTAIN_SCHEDULE (default weekly). In the lake_writers pool:
    never at the same time as an ingest or a publish."""
    from airflow.sdk import DAG, task

    with DAG(
        dag_id="maintain_lake", description="OPTIMIZE, checkpoint and VACUUM every Delta table of the lake",
        schedule=settings().maintain_schedule, start_date=START, catchup=False, max_active_runs=1,
        default_args=DEFAULT_ARGS, tags=["maintenance"],
    ) as dag:

        @task(pool="lake_writers")
        def maintain() -> list[str]:
            from lakehouse.maintain import maintain as run_maintain

            return [f"{m.path}: {m.files_before} -> {m.files_after} files, {m.vacuumed} vacuumed"
                    for m in run_maintain()]

        maintain()
    return dag
