"""`make demo`: generate a small city, run the real DAGs with Airflow's
dag.test (the backfill DAG for all days but the last, then the last day the
way the scheduler runs it: one ingest_<source> DAG per source, then
build_marts once for the round), print where everything is."""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from lakehouse.config import settings
from lakehouse.orchestration.airflow_env import airflow_env, apply_airflow_env
from lakehouse.services import engines


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


class DemoFailed(RuntimeError):
    """A DAG of the demo did not succeed; str() says which and where its log is."""


# Each stage's seconds on an idle 2-core machine (the whole demo took 6.5 min idle,
# 18 min on a busy machine; a busy run's stages were generate 2 s, backfill 7 min,
# build_marts 52 s, daily 1-2.5 min per source), printed beside the stage so a
# first run knows what to expect.
ESTIMATES = {"generate": 5, "engine": 20, "backfill": 150, "marts": 45, "daily": 150, "marts again": 40, "summary": 15}
STAGE_TITLES = {
    "generate": "generate the '{preset}' city: {days} days of deliveries from {start}",
    "engine": "the warm engine: a Spark Connect server the DAGs and your commands share (stays up)",
    "backfill": "DAG ingest_backfill {start}..{before_last}: landing -> bronze -> silver (Spark, Delta, GX)",
    "marts": "DAG build_marts: publish to PostgreSQL, dbt build, supervision report",
    "daily": "{last}, the daily path: one ingest_<source> DAG per source",
    "marts again": "DAG build_marts for {last}: publish the day, dbt build, report",
    "summary": "rows per layer, rejected files, dbt warnings",
}


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class Progress:
    """The demo's console: one line per stage, in the order they run, with its
    estimate, and when it ends its elapsed time."""

    def __init__(self, console, log: Path, **names):
        self.console, self.log, self.names = console, log, names
        self.number = 0
        self.t0 = time.monotonic()

    def say(self, line: str) -> None:
        print(line, file=self.console, flush=True)

    @contextmanager
    def stage(self, key: str):
        self.number += 1
        title = STAGE_TITLES[key].format(**self.names)
        self.say(f"[demo {self.number}/{len(STAGE_TITLES)}] {title} (about {_duration(ESTIMATES[key])})")
        started = time.monotonic()
        yield
        self.say(f"[demo {self.number}/{len(STAGE_TITLES)}] done in {_duration(time.monotonic() - started)} "
                 f"(total {_duration(time.monotonic() - self.t0)})")

    def failed(self, what: str) -> DemoFailed:
        """The error for a failed stage; the tail of the log goes to the console first."""
        tail = self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-25:]
        if tail:
            self.say("\n".join(["--- the end of " + str(self.log) + ":", *tail, "---"]))
        return DemoFailed(f"{what}; the whole output is in {self.log}")


def _dag_test(progress: Progress, dag_id: str, conf: dict | None = None):
    run = _dag(dag_id).test(run_conf=conf) if conf is not None else _dag(dag_id).test()
    if not _succeeded(run):
        raise progress.failed(f"DAG {dag_id} ended {run.state}")
    return run


def _states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state).split(".")[-1].lower() for ti in run.get_task_instances()}


def _daily_outcome(run, landing: Path, source: str, day: date, log: Path) -> str:
    """One line for a source's daily DAG run. A day not delivered (the demo's
    generator leaves one folder without its manifest, still uploading) is an
    expected event: ingest records it, alert fails the run to flag it."""
    if _succeeded(run):
        return "ingested"
    states = _states(run)
    if states.get("ingest") == "success" and states.get("alert") == "failed":
        if not (landing / source / day.isoformat() / "_MANIFEST.json").exists():
            return ("not delivered (expected: the demo stages one missing delivery); flagged in "
                    "lake.ingest_runs and marts.fct_collection_quality, not fatal")
        return "flagged: files rejected or a critical expectation failed (see the report), not fatal"
    return f"failed ({', '.join(f'{t} {s}' for t, s in sorted(states.items()))}), not fatal; see {log}"


def run_dags(progress: Progress, start: date, end: date) -> None:
    """Backfill start..the day before the last delivery day, build the marts, then
    the last day through the daily DAGs and one more marts build."""
    from lakehouse import logs
    from lakehouse.orchestration.factories import source_configs

    apply_airflow_env()
    logs.quiet_airflow()
    with progress.stage("engine"):
        progress.say("  " + engines.warm_engine_up())
    landing = Path(settings().landing)
    last = last_delivery_day(landing) or end
    with progress.stage("backfill"):
        _dag_test(progress, "ingest_backfill", {"start": start.isoformat(),
                                                "end": (last - timedelta(days=1)).isoformat()})
    with progress.stage("marts"):
        _dag_test(progress, "build_marts")
    with progress.stage("daily"):
        # the city first: its registry and departments are what the districts' records resolve against
        for cfg in sorted(source_configs(), key=lambda c: (c["code"] != "city", c["code"])):
            t0 = time.monotonic()
            run = _dag(f"ingest_{cfg['code']}").test(run_conf={"date": last.isoformat()})
            # as before: a source's problem is flagged, not fatal; the round's marts still build
            outcome = _daily_outcome(run, landing, cfg["code"], last, progress.log)
            progress.say(f"  {cfg['code']:<10} {outcome} ({_duration(time.monotonic() - t0)})")
    with progress.stage("marts again"):
        _dag_test(progress, "build_marts")


def layer_counts() -> dict[str, int]:
    from lakehouse.lake import delta
    from lakehouse.lake.spark import get_spark

    spark = get_spark()
    out = {}
    for layer in ("bronze", "silver", "quarantine"):
        root = Path(settings().lake_path(layer))
        for sub in sorted(p.name for p in root.iterdir()) if root.exists() else []:
            path = delta.table_path(layer, sub)
            if delta.exists(spark, path):
                out[f"{layer}/{sub}"] = spark.read.format("delta").load(path).count()
    return out


def mart_counts() -> dict[str, int]:
    from lakehouse.serving import warehouse

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
    from lakehouse.serving import warehouse

    with warehouse.connect(role="loader") as conn, conn.cursor() as cur:
        cur.execute("""select _file, status, reason from (
                           select distinct on (_file, _file_sha256) _file, status, reason from lake.ingest_runs
                           order by _file, _file_sha256, finished_at desc) latest
                       where status in ('rejected', 'blocked') order by 1""")
        return cur.fetchall()


def last_build_warnings() -> list[str]:
    """The dbt warnings of the latest marts build (lake.mart_builds)."""
    from lakehouse.serving import warehouse

    with warehouse.connect(role="loader") as conn, conn.cursor() as cur:
        cur.execute("select dbt_warnings from lake.mart_builds order by built_at desc limit 1")
        row = cur.fetchone()
    return list(row[0] or []) if row else []


def example_entity() -> str | None:
    """A USCC for the `lakehouse entity` hint: an entity with records in the most
    districts other than its own, so its profile shows what the marts join."""
    from lakehouse.serving import warehouse

    with warehouse.connect(role="analyst") as conn, conn.cursor() as cur:
        cur.execute("""select uscc from marts.dim_cross_district_entities
                       order by cross_district_records desc, uscc limit 1""")
        row = cur.fetchone()
        if not row:
            cur.execute("select uscc from marts.dim_entity_profile order by uscc limit 1")
            row = cur.fetchone()
    return row[0] if row else None


def _short(reason: str) -> str:
    """The reason's code and first clause: the full text is in the report and lake.ingest_runs."""
    return (reason or "").split(": ", 1)[0]


def summary_lines() -> list[str]:
    """What the demo prints at the end: rows per layer, rejected files, dbt warnings, where to look."""
    from lakehouse.ingest.quality.gate import data_docs_index
    from lakehouse.serving import warehouse
    from lakehouse.serving.marts import DBT_PROJECT_DIR

    cfg = settings()
    lines: list[str] = []
    lines.append("\n=== lakehouse demo: summary ===")
    lines.append(f"Rows per layer (Delta tables under {cfg.lake_path('')}):")
    by_layer: dict[str, list[int]] = {}
    for name, n in layer_counts().items():
        by_layer.setdefault(name.split("/")[0], []).append(n)
    for layer, counts in by_layer.items():
        lines.append(f"  {layer:<11} {sum(counts):>9,} rows in {len(counts)} tables")
    marts = mart_counts()
    lines.append(f"  {'marts':<11} {sum(marts.values()):>9,} rows in {len(marts)} tables (PostgreSQL schema marts)")

    rejected = rejected_files()
    lines.append(f"Rejected files: {len(rejected)} (full reasons: the report, or lake.ingest_runs)")
    for file, status, reason in rejected:
        lines.append(f"  {status:<8} {file}: {_short(reason)}")
    warnings = last_build_warnings()
    lines.append(f"dbt warnings: {len(warnings)} (tests that found rows but only warn; log: "
                 f"{DBT_PROJECT_DIR / 'logs' / 'dbt.log'})")
    for w in warnings:
        lines.append(f"  {w}")

    lines.append("Where to look:")
    lines.append(f"  supervision report   {cfg.report_dir / 'index.html'}")
    example = example_entity()
    if example:
        lines.append(f"  one entity           lakehouse entity {example}   (or any USCC, registration number or "
                     "name of marts.dim_entity_profile)")
    lines.append(f"  query the marts      {warehouse.psql_line('analyst')} -c '\\d+ marts.*'")
    lines.append(f"  dbt docs (from disk) {DBT_PROJECT_DIR / 'target' / 'static_index.html'}")
    lines.append(f"  validation results   the report's 数据校验 table (offline); GX Data Docs {data_docs_index()} "
                 "(load styles from the internet)")
    lines.append("  Airflow UI           lakehouse airflow start   (stop: lakehouse airflow stop)")
    if engines.pid_of("spark-connect"):
        lines.append("  warm Spark engine    running: your lakehouse commands use it (stop: lakehouse connect down, "
                     "or make stop)")
    lines.append("  dashboards (optional) lakehouse dashboards start   (Superset on the marts; installs it the first "
                 "time, about 2 min; stop: lakehouse dashboards stop)")
    lines.append("  more output          LAKEHOUSE_LOG_LEVEL=DEBUG make demo")
    return lines


def run_demo(preset: str, start: date, days: int, seed: int) -> None:
    from lakehouse import logs

    cfg = settings()
    landing = Path(cfg.landing)
    # beside the report (LAKEHOUSE_HOME/logs by default): a demo run on a lake of its own keeps its own log
    log = cfg.report_dir.parent / "logs" / "demo.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    with logs.console_to_file(log) as console:
        last = start + timedelta(days=days)   # for the titles only; the landing's last day is used
        progress = Progress(console, log, preset=preset, days=days, start=start, last="the last day",
                            before_last="the day before the last")
        where = "below (LAKEHOUSE_LOG_LEVEL=DEBUG)" if logs.verbose() else f"in {log}"
        progress.say(f"[demo] about {_duration(sum(ESTIMATES.values()))} on an idle 2-core machine, up to three "
                     f"times that on a busy one; Airflow's and Spark's own output is {where}")
        _generate(progress, landing, preset, start, days, seed)
        last = last_delivery_day(landing) or last
        progress.names.update(last=last, before_last=last - timedelta(days=1))
        run_dags(progress, start, start + timedelta(days=days + 7))
        with progress.stage("summary"):
            summary = summary_lines()
        progress.say("\n".join(summary))
        progress.say(f"[demo] finished in {_duration(time.monotonic() - progress.t0)}")


def _generate(progress: Progress, landing: Path, preset: str, start: date, days: int, seed: int) -> None:
    stamp = landing / f".generated-{preset}-{seed}-{start}-{days}"
    with progress.stage("generate"):
        if stamp.exists():
            progress.say(f"  already generated in {landing}")
            return
        from lakehouse.generator import generate

        generate(out=landing, truth=settings().home / "truth", start=start, days=days, preset=preset, seed=seed,
                 progress=True)
        stamp.touch()
        progress.say(f"  written to {landing}")
