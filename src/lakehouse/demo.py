"""`make demo`: generate a small city, run the real DAGs with Airflow's
dag.test (the backfill DAG for all days but the last, then the last day the
way the scheduler runs it: one ingest_<source> DAG per source, then
build_marts once for the round), print where everything is."""

from __future__ import annotations

import os
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from lakehouse.config import apply_airflow_env, settings


@lru_cache(maxsize=1)
def _bag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag


def _dag(dag_id: str):
    return _bag().get_dag(dag_id)


def _succeeded(run) -> bool:
    return str(run.state) in ("success", "DagRunState.SUCCESS")


def last_delivery_day(landing: Path) -> date | None:
    days = [date.fromisoformat(p.name) for p in landing.glob("*/*") if p.is_dir() and p.name[:2] == "20"]
    return max(days) if days else None


def run_dags(start: date, end: date) -> None:
    """Backfill start..the day before the last delivery day, then the last day through the daily DAGs."""
    from lakehouse.orchestration import source_configs

    apply_airflow_env()
    last = last_delivery_day(Path(settings().landing)) or end
    for dag_id, conf in (("ingest_backfill", {"start": start.isoformat(),
                                              "end": (last - timedelta(days=1)).isoformat()}),
                         ("build_marts", None)):
        run = _dag(dag_id).test(run_conf=conf)
        if not _succeeded(run):
            raise RuntimeError(f"DAG {dag_id} ended {run.state}; see the log above")
    print(f"[demo] {last}: the daily path, one ingest_<source> DAG per source, then build_marts once")
    problems = []
    # the city first: its registry and departments are what the districts' records resolve against
    for cfg in sorted(source_configs(), key=lambda c: (c["code"] != "city", c["code"])):
        run = _dag(f"ingest_{cfg['code']}").test(run_conf={"date": last.isoformat()})
        if not _succeeded(run):
            problems.append(cfg["code"])
    if problems:
        # a source that did not deliver (or failed a critical expectation) is flagged, not fatal
        print(f"[demo] {last}: flagged (see lake.ingest_runs / marts.fct_collection_quality): {', '.join(problems)}")
    run = _dag("build_marts").test()
    if not _succeeded(run):
        raise RuntimeError(f"DAG build_marts ended {run.state}; see the log above")


def layer_counts() -> dict[str, int]:
    from lakehouse import lake
    from lakehouse.spark import get_spark

    spark = get_spark()
    out = {}
    for layer in ("bronze", "silver", "quarantine"):
        root = Path(settings().lake_path(layer))
        for sub in sorted(p.name for p in root.iterdir()) if root.exists() else []:
            path = lake.table_path(layer, sub)
            if lake.exists(spark, path):
                out[f"{layer}/{sub}"] = spark.read.format("delta").load(path).count()
    return out


def mart_counts() -> dict[str, int]:
    from lakehouse import warehouse

    with warehouse.connect() as conn, conn.cursor() as cur:
        cur.execute("select table_name from information_schema.tables where table_schema = 'marts' order by 1")
        names = [r[0] for r in cur.fetchall()]
        counts = {}
        for n in names:
            cur.execute(f'select count(*) from marts."{n}"')
            counts[n] = cur.fetchone()[0]
    return counts


def run_demo(preset: str, start: date, days: int, seed: int) -> None:
    from lakehouse import warehouse

    cfg = settings()
    landing = Path(cfg.landing)
    stamp = landing / f".generated-{preset}-{seed}-{start}-{days}"
    if not stamp.exists():
        from lakehouse.generator import generate

        print(f"[demo] generating the '{preset}' city from {start} for {days} days into {landing}")
        generate(out=landing, truth=cfg.home / "truth", start=start, days=days, preset=preset, seed=seed,
                 progress=True)
        stamp.touch()
    end = start + timedelta(days=days + 7)
    print("[demo] running DAGs ingest_backfill, ingest_<source> and build_marts "
          "(Airflow dag.test, real Spark/Delta/GX/dbt)")
    run_dags(start, end)

    print("\n=== lakehouse demo: done ===")
    print("Delta tables (rows):")
    for name, n in layer_counts().items():
        print(f"  {n:>9,}  {settings().lake_path(name)}")
    print("PostgreSQL marts (rows):")
    for name, n in mart_counts().items():
        print(f"  {n:>9,}  marts.{name}")
    print("\nQuery the marts:")
    print(f"  {warehouse.psql_line()} -c 'select * from marts.fct_collection_quality limit 20'")
    from lakehouse.quality.gate import data_docs_index
    print(f"Great Expectations Data Docs: {data_docs_index()}")
    print(f"dbt docs: {Path(__file__).resolve().parents[2] / 'dbt_project' / 'target' / 'index.html'}")
