"""`make demo`: generate a small city, run the real DAGs with Airflow's
dag.test (the backfill DAG for all days but the last, then the last day the
way the scheduler runs it: one ingest_<source> DAG per source, then
build_marts once for the round), print where everything is."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from lakehouse.config import airflow_env, apply_airflow_env, settings


@lru_cache(maxsize=1)
def _bag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=airflow_env()["AIRFLOW__CORE__DAGS_FOLDER"])
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


STAGES = {"ingest_backfill": "[demo 2/3] DAG ingest_backfill: landing -> bronze -> silver (real Spark/Delta/GX)",
          "build_marts": "[demo 3/3] DAG build_marts: publish to PostgreSQL, dbt build, supervision report"}


def run_dags(start: date, end: date) -> None:
    """Backfill start..the day before the last delivery day, then the last day through the daily DAGs."""
    from lakehouse import logs
    from lakehouse.orchestration import source_configs

    apply_airflow_env()
    logs.quiet_airflow()
    last = last_delivery_day(Path(settings().landing)) or end
    for dag_id, conf in (("ingest_backfill", {"start": start.isoformat(),
                                              "end": (last - timedelta(days=1)).isoformat()}),
                         ("build_marts", None)):
        print(STAGES[dag_id], flush=True)
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
