"""`make demo`: generate a small city, run the real DAGs (backfill ingest,
then publish + dbt marts) with Airflow's dag.test, print where everything is."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

from lakehouse.config import apply_airflow_env, settings


def _dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag.get_dag(dag_id)


STAGES = {"ingest_backfill": "[demo 2/3] DAG ingest_backfill: landing -> bronze -> silver (real Spark/Delta/GX)",
          "build_marts": "[demo 3/3] DAG build_marts: publish to PostgreSQL, dbt build, supervision report"}


def run_dags(start: date, end: date) -> None:
    from lakehouse import logs

    apply_airflow_env()
    logs.quiet_airflow()
    for dag_id, conf in (("ingest_backfill", {"start": start.isoformat(), "end": end.isoformat()}),
                         ("build_marts", None)):
        print(STAGES[dag_id], flush=True)
        run = _dag(dag_id).test(run_conf=conf)
        if str(run.state) not in ("success", "DagRunState.SUCCESS"):
            raise RuntimeError(f"DAG {dag_id} ended {run.state}; see the log above")


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

    with warehouse.connect(role="analyst") as conn, conn.cursor() as cur:
        cur.execute("select table_name from information_schema.tables where table_schema = 'marts' order by 1")
        names = [r[0] for r in cur.fetchall()]
        counts = {}
        for n in names:
            cur.execute(f'select count(*) from marts."{n}"')
            counts[n] = cur.fetchone()[0]
    return counts


def rejected_files() -> list[tuple[str, str, str]]:
    """(file, status, reason) of every file whose latest run rejected or blocked it."""
    from lakehouse import warehouse

    with warehouse.connect(role="loader") as conn, conn.cursor() as cur:
        cur.execute("""select _file, status, reason from (
                           select distinct on (_file, _file_sha256) _file, status, reason from lake.ingest_runs
                           order by _file, _file_sha256, finished_at desc) latest
                       where status in ('rejected', 'blocked') order by 1""")
        return cur.fetchall()


def last_build_warnings() -> list[str]:
    """The dbt warnings of the latest marts build (lake.mart_builds)."""
    from lakehouse import warehouse

    with warehouse.connect(role="loader") as conn, conn.cursor() as cur:
        cur.execute("select dbt_warnings from lake.mart_builds order by built_at desc limit 1")
        row = cur.fetchone()
    return list(row[0] or []) if row else []


def _short(reason: str) -> str:
    """The reason's code and first clause: the full text is in the report and lake.ingest_runs."""
    return (reason or "").split(": ", 1)[0]


def print_summary() -> None:
    from lakehouse import warehouse
    from lakehouse.marts import DBT_PROJECT_DIR
    from lakehouse.quality.gate import data_docs_index

    cfg = settings()
    print("\n=== lakehouse demo: summary ===")
    print("Rows per layer (Delta tables under", cfg.lake_path("") + "):")
    by_layer: dict[str, list[int]] = {}
    for name, n in layer_counts().items():
        by_layer.setdefault(name.split("/")[0], []).append(n)
    for layer, counts in by_layer.items():
        print(f"  {layer:<11} {sum(counts):>9,} rows in {len(counts)} tables")
    marts = mart_counts()
    print(f"  {'marts':<11} {sum(marts.values()):>9,} rows in {len(marts)} tables (PostgreSQL schema marts)")

    rejected = rejected_files()
    print(f"Rejected files: {len(rejected)} (full reasons: the report, or lake.ingest_runs)")
    for file, status, reason in rejected:
        print(f"  {status:<8} {file}: {_short(reason)}")
    warnings = last_build_warnings()
    print(f"dbt warnings: {len(warnings)} (tests that found rows but only warn; log: "
          f"{DBT_PROJECT_DIR / 'logs' / 'dbt.log'})")
    for w in warnings:
        print(f"  {w}")

    print("Where to look:")
    print(f"  supervision report   {cfg.report_dir / 'index.html'}")
    print("  one entity           lakehouse entity <USCC | registration number | name>")
    print(f"  query the marts      {warehouse.psql_line('analyst')} -c '\\d+ marts.*'")
    print(f"  dbt docs (from disk) {DBT_PROJECT_DIR / 'target' / 'static_index.html'}")
    print(f"  validation results   the report's 数据校验 table (offline); GX Data Docs {data_docs_index()} "
          "(load styles from the internet)")
    print("  Airflow UI           lakehouse airflow start   (stop: lakehouse airflow stop)")
    print("  more output          LAKEHOUSE_LOG_LEVEL=DEBUG make demo")


def run_demo(preset: str, start: date, days: int, seed: int) -> None:
    cfg = settings()
    landing = Path(cfg.landing)
    stamp = landing / f".generated-{preset}-{seed}-{start}-{days}"
    if not stamp.exists():
        from lakehouse.generator import generate

        print(f"[demo 1/3] generating the '{preset}' city from {start} for {days} days into {landing}")
        generate(out=landing, truth=cfg.home / "truth", start=start, days=days, preset=preset, seed=seed,
                 progress=True)
        stamp.touch()
    else:
        print(f"[demo 1/3] the '{preset}' city is already generated in {landing}")
    end = start + timedelta(days=days + 7)
    run_dags(start, end)
    print_summary()
