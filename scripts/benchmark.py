#!/usr/bin/env python
"""Benchmark (not a test): every figure of issue 11's table, each beside a floor measured in the same run.

  .venv/bin/python scripts/benchmark.py --preset small --fresh            # about 20 min on a 2-core machine
  .venv/bin/python scripts/benchmark.py --preset small --fresh --history-multiple 10 --skip-dags   # + 10x history
  .venv/bin/python scripts/benchmark.py --preset city --fresh             # the 2017 calibration year
  .venv/bin/python scripts/benchmark.py --preset city --days 28 --history-multiple 10 --fresh      # a month vs the year

The landing: the preset's D days (`--days`) plus four more, generated once
(a stamp in landing/.complete says for what). The first D-2 days are the
history; then, each a day nobody ingested before: the CLI's later day, the
warm engine's "yesterday" before the DAG day, the DAG day, its "yesterday"
before the increments, and the two days that donate the small increments:
their folders are cut down to a few rows (the original folders are kept
under <home>/donors), with manifests that match the cut files.
With `--history-multiple M` the landing runs on to M times the history.

What is measured, in this order (one Spark JVM at a time, never two):

1. floors, each scripts/bare_floor.py in its own process, into a lake of their
   own, in the order the pipeline meets the same files (each MERGE is against
   the floor's own history of the earlier days): start Spark with the Delta
   jars, read the files as lines, append them to one Delta table, MERGE them by
   a hash into a table holding the earlier days. The "nothing new" floor only
   starts Spark. The floors' start / work / total are timed inside the process;
   `wall` is the whole process, for figures that are whole processes too.
2. in this process, one Spark session (its start-up timed): the backfill of the
   history (landing -> silver), its publish, the dbt build of the marts as
   `lakehouse marts` runs it (lakehouse.serving.marts.run_dbt(["build"])), then one
   later day (every source) and its publish. The publishes are
   compared with a bare COPY of the rows they wrote into an empty table with
   the same primary key. "landing -> marts" = Spark start + backfill + publish +
   dbt build, beside the backfill's ingest floor plus that bare COPY (dbt has
   no floor of its own: its whole time counts as overhead). The session and
   its JVM are then ended.
3. one business day (the DAG day) through the real DAGs under Airflow's scheduler
   (scripts/dag_day.py): Airflow metadata of the benchmark's own (SQLite,
   under <home>/airflow), `lakehouse airflow start` (and with it the warm
   engine, which then ingests and publishes the business day before,
   untimed, as a service that ran yesterday has done), the DAGs' start date
   on that day and the clock frozen (LAKEHOUSE_NOW) at 09:00 the next morning, after
   the cut-off; the scheduler creates the 17 ingest runs, the first ingest
   task to get the pool batches the sources queued behind it, and build_marts
   follows from the assets. The wall time from unpausing the DAGs to the end
   of build_marts is beside the day's floor.
4. the small increments, each as `lakehouse ingest --date <day>` in its own
   process, a client of the warm engine as a running service has it (started
   again and warmed up untimed by the business day before them), beside the
   bare floor of the same files (a Spark process of its own): 64 rows in 20 files
   (one donor day), 4 rows in one file (the other), and the same command
   again with nothing new.
5. with --history-multiple M: in this process again, the rest of the M x
   history is ingested (in pieces no bigger than the history's backfill, so
   that memory stays as in step 2), then one more day, timed like step 2's
   day; its time beside step 2's day (target: within 20 %) and beside its own
   floor. No publish in this step.
6. peak memory: the proportional set size (PSS) of this process and all its
   children (Spark JVM, staging workers, the DAG and CLI processes) and of
   the warm engine while it runs, sampled every second, per step.

At the end a markdown table: what | figure | floor | ratio | target | met?,
printed and written into docs/performance.md (its benchmark:<preset> section)
(the targets of issue 11; the absolute ones are for the city preset and are
not judged on another). Runs in its own LAKEHOUSE_HOME (default
.lakehouse/bench-<preset>, or bench-<preset>-x<M>) and its own database
(lakehouse_bench_<preset>[_x<M>], recreated each run), never touching the demo's.
`--fresh` deletes the benchmark's lake and Airflow metadata first (and
regenerates a landing generated for another layout).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LANDING_LAYOUT = 3                     # bump when prepare_landing changes what it writes
INCREMENT_64 = (64, 20)                # rows, files
INCREMENT_4 = (4, 1)


# --------------------------------------------------------------------------- measuring

class PeakMemory(threading.Thread):
    """Samples the proportional set size (PSS) of this process and all its
    children (the Spark JVM, staging workers, subprocesses): RSS would count
    the pages a forked worker shares with its parent twice. `phase(name)`
    closes the current phase's peak under `name` and starts the next."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = 0
        self.peaks: dict[str, int] = {}
        self.stop = False

    def run(self):
        import psutil

        me = psutil.Process()
        while not self.stop:
            total = 0
            for p in [me, *me.children(recursive=True), *_warm_engine_processes()]:
                try:
                    total += p.memory_full_info().pss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(1)

    def phase(self, name: str) -> None:
        self.peaks[name], self.peak = self.peak, 0


def _warm_engine_processes() -> list:
    """The warm engine's server and its workers: started by `lakehouse connect
    up` or `airflow start` in a session of their own, so not this process's children."""
    import psutil

    from lakehouse.config import settings

    pidfile = settings().run_dir / "spark-connect.pid"
    try:
        server = psutil.Process(int(pidfile.read_text()))
        return [server, *server.children(recursive=True)]
    except (OSError, ValueError, psutil.Error):
        return []


@dataclass
class Row:
    """One line of the final table."""
    what: str
    figure: str
    floor: str = ""
    ratio: str = ""
    target: str = ""
    met: str = ""


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)

    def add(self, what: str, seconds: float, floor: float | None, target: str = "", met: bool | None = None,
            floor_name: str = "") -> None:
        ratio = f"{seconds / floor:.2f}x" if floor else ""
        floor_text = f"{floor:.{2 if floor < 1 else 1}f} s {floor_name}".strip() if floor is not None else ""
        self.rows.append(Row(what, f"{seconds:.1f} s", floor_text, ratio, target, _met(met)))
        print(f"  {what:<66} {seconds:8.1f}s  floor {floor or 0:7.2f}s  ratio {ratio:>7}  {target}")

    def markdown(self) -> str:
        lines = ["| what | figure | floor | ratio | target | met? |", "|---|---|---|---|---|---|"]
        lines += [f"| {r.what} | {r.figure} | {r.floor} | {r.ratio} | {r.target} | {r.met} |" for r in self.rows]
        return "\n".join(lines)


def _met(met: bool | None) -> str:
    return "" if met is None else ("yes" if met else "no")


def timed(func, *args, **kwargs):
    t0 = time.perf_counter()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - t0


def run_process(argv: list[str], env: dict, log: Path) -> tuple[int, float]:
    """One subprocess, its output into `log`; returns (exit code, wall seconds)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as out:
        t0 = time.perf_counter()
        code = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
        return code, time.perf_counter() - t0


def child_env(**extra: str) -> dict:
    """This process's environment for a child, with this worktree's code first
    (src/ for lakehouse, the root for jobs/) whatever the virtualenv points at."""
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


# --------------------------------------------------------------------------- the days

@dataclass(frozen=True)
class Days:
    """Which delivered day plays which part (see the module docstring)."""
    history: list[date]          # the backfill
    cli_day: date                # ingested in this process, against `history`
    dag_warm_day: date           # the warm engine's "yesterday" before the DAG day (untimed)
    dag_day: date                # ingested through the DAGs
    inc_warm_day: date           # the warm engine's "yesterday" before the increments (untimed)
    inc64_day: date              # 64 rows in 20 files
    inc4_day: date               # 4 rows
    extension: list[date]        # the rest of the M x history (empty when M = 1)
    long_day: date | None        # the day against the M x history


def plan_days(days: list[date], preset_days: int, multiple: int) -> Days:
    """`days` are the generated business days, oldest first."""
    h = preset_days - 2
    if h < 1:
        raise SystemExit("the benchmark needs at least 3 days (--days): a history, the CLI day and the DAG day")
    if multiple > 1 and multiple * h < h + 6:
        raise SystemExit(f"--history-multiple {multiple} of a {h}-day history leaves no room for the increments")
    long_index = multiple * h if multiple > 1 else None
    return Days(history=days[:h], cli_day=days[h], dag_warm_day=days[h + 1], dag_day=days[h + 2],
                inc_warm_day=days[h + 3], inc64_day=days[h + 4], inc4_day=days[h + 5],
                extension=days[h + 6:long_index] if long_index else [],
                long_day=days[long_index] if long_index else None)


def generated_days(preset_days: int, multiple: int) -> int:
    """The business days to generate: the preset's, the two warm-up days, the two increment donors, and
    for M > 1 up to the day after M x history, plus one the generator leaves partly
    unready (its last day) that is never ingested."""
    h = preset_days - 2
    return max(preset_days + 4, multiple * h + 1) + 1


# --------------------------------------------------------------------------- the landing

def prepare_landing(landing: Path, home: Path, args, n_days: int, fresh: bool) -> None:
    """Generate the landing (if its stamp says another layout: only with --fresh),
    then cut the two donor days down to the small increments."""
    stamp = {"layout": LANDING_LAYOUT, "preset": args.preset, "start": args.start, "days": n_days, "seed": args.seed}
    marker = landing / ".complete"
    if marker.exists():
        try:
            same = json.loads(marker.read_text(encoding="utf-8") or "{}") == stamp
        except ValueError:
            same = False
        if same:
            return
        if not fresh:
            raise SystemExit(f"{landing} was generated for another layout than {stamp}; rerun with --fresh "
                             "(it is regenerated) or set LAKEHOUSE_HOME elsewhere")
    for stale in (landing, home / "donors", home / "truth"):
        shutil.rmtree(stale, ignore_errors=True)
    from lakehouse.generator import generate

    _, seconds = timed(generate, out=landing, truth=home / "truth", start=date.fromisoformat(args.start),
                       days=n_days, preset=args.preset, seed=args.seed, progress=True, truth_rows=False)
    print(f"generate: {n_days} days in {seconds:.1f}s")
    days = all_days(landing)
    plan = plan_days(days, args.days, args.history_multiple)
    cut_increment(landing, home / "donors", plan.inc64_day, *INCREMENT_64)
    cut_increment(landing, home / "donors", plan.inc4_day, *INCREMENT_4)
    marker.write_text(json.dumps(stamp), encoding="utf-8")


def all_days(landing: Path) -> list[date]:
    """Every generated day (a folder name under any source), oldest first."""
    return sorted({date.fromisoformat(p.name) for p in landing.glob("*/*") if p.is_dir()})


def _line_files(folder: Path) -> list[tuple[str, dict, int]]:
    """The delivery's text files whose every data row is one line: (name, manifest
    entry, header lines). Spreadsheets and files with multi-line rows or a
    planted fault that breaks the row count are left out."""
    manifest = json.loads((folder / "_MANIFEST.json").read_text(encoding="utf-8-sig"))
    out = []
    for entry in manifest["files"]:
        path = folder / entry["name"]
        header = 0 if path.suffix == ".jsonl" else 1
        if path.suffix in (".csv", ".txt", ".jsonl") and path.is_file() \
                and path.read_bytes().count(b"\n") == entry["rows"] + header:
            out.append((entry["name"], entry, header))
    return out


def cut_increment(landing: Path, donors: Path, day: date, rows: int, files: int) -> None:
    """Make `day` a delivery of `rows` rows in `files` files: the first rows of
    that day's own files (new rows: nobody ingested that day), spread evenly.
    Every source's folder of the day moves to `donors`; the cut folders come back
    with a manifest of their own (row counts and sha256 of the cut files)."""
    folders = sorted(landing.glob(f"*/{day.isoformat()}"))
    per_source = [[(folder, name, entry, header) for name, entry, header in _line_files(folder)
                   if entry["rows"] >= -(-rows // files)]
                  for folder in folders if (folder / "_MANIFEST.json").exists()]
    # one file of every source first, then the second ones: the increment spans as many sources as it can
    picks = [f for rank in range(max(map(len, per_source), default=0)) for f in
             (files_of[rank] for files_of in per_source if rank < len(files_of))]
    if len(picks) < files:
        raise SystemExit(f"{day}: only {len(picks)} text files with {-(-rows // files)}+ rows to cut an increment from")
    picks = picks[:files]
    donor_root = donors / day.isoformat()
    donor_root.mkdir(parents=True, exist_ok=True)
    manifests: dict[Path, dict] = {}
    for i, (folder, name, entry, header) in enumerate(picks):
        keep = rows // files + (1 if i < rows % files else 0)
        lines = (folder / name).read_bytes().split(b"\n")
        data = b"\n".join(lines[:header + keep]) + b"\n"
        manifests.setdefault(folder, json.loads((folder / "_MANIFEST.json").read_text(encoding="utf-8-sig")))
        manifests[folder].setdefault("cut", []).append(
            (name, {**entry, "rows": keep, "sha256": hashlib.sha256(data).hexdigest()}, data))
    for folder in folders:
        shutil.move(str(folder), str(donor_root / folder.parent.name))
    for folder, manifest in manifests.items():
        folder.mkdir()
        for name, _, data in manifest["cut"]:
            (folder / name).write_bytes(data)
        manifest["files"] = [entry for _, entry, _ in manifest.pop("cut")]
        (folder / "_MANIFEST.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                               encoding="utf-8")


def delivered_files(landing: Path, sources: list[str], start: date, end: date) -> list[str]:
    from lakehouse.ingest.landing import find_deliveries

    deliveries = find_deliveries(landing, sources, start, end)[0]
    return [d.uri(f.name) for d in deliveries for f in d.files if f.name in d.listed]


def delivered_rows(landing: Path, sources: list[str], start: date, end: date) -> int:
    from lakehouse.ingest.landing import find_deliveries

    return sum(f.rows for d in find_deliveries(landing, sources, start, end)[0] for f in d.files)


def pieces(landing: Path, sources: list[str], days: list[date], max_rows: int) -> list[tuple[date, date]]:
    """Consecutive ranges of `days`, each delivering at most about `max_rows` rows."""
    out: list[list[date]] = []
    rows = 0
    for day in days:
        n = delivered_rows(landing, sources, day, day)
        if not out or rows + n > max_rows:
            out.append([])
            rows = 0
        out[-1].append(day)
        rows += n
    return [(piece[0], piece[-1]) for piece in out]


# --------------------------------------------------------------------------- floors

def bare_ingest_floor(lake: Path, files: list[str], log: Path) -> dict:
    """Runs scripts/bare_floor.py in its own process (it pays its own Spark start);
    adds `wall`, the whole process."""
    listing = lake.with_name(lake.name + "-files.txt")
    listing.write_text("".join(f + "\n" for f in files), encoding="utf-8")
    code, wall = run_process([sys.executable, str(REPO / "scripts" / "bare_floor.py"), "--lake", str(lake),
                              "--files-from", str(listing)], child_env(), log)
    text = log.read_text(encoding="utf-8")
    if code:
        raise SystemExit(f"bare floor failed (exit {code}):\n{text[-3000:]}")
    return {**json.loads(text.strip().splitlines()[-1]), "wall": round(wall, 2), "files": len(files)}


def measure_floors(home: Path, landing: Path, sources: list[str], plan: Days) -> dict[str, dict]:
    """Every floor, one process at a time, in the order the pipeline meets the files."""
    lake = home / "floor-lake"
    shutil.rmtree(lake, ignore_errors=True)
    lake.mkdir(parents=True)
    # the warm-up days too (their figures unused): each floor MERGEs against the same history as its figure
    steps = [("backfill", plan.history[0], plan.history[-1]), ("cli_day", plan.cli_day, plan.cli_day),
             ("dag_warm", plan.dag_warm_day, plan.dag_warm_day), ("dag_day", plan.dag_day, plan.dag_day),
             ("inc_warm", plan.inc_warm_day, plan.inc_warm_day), ("inc64", plan.inc64_day, plan.inc64_day),
             ("inc4", plan.inc4_day, plan.inc4_day), ("nothing", None, None)]
    if plan.long_day:
        steps += [("extension", plan.extension[0], plan.extension[-1]), ("long_day", plan.long_day, plan.long_day)]
    floors = {}
    for name, first, last in steps:
        files = delivered_files(landing, sources, first, last) if first else []
        floors[name] = bare_ingest_floor(lake, files, home / "logs" / "bench" / f"floor-{name}.log")
        print(f"bare floor {name}: {floors[name]}")
    return floors


def bare_copy_seconds(published) -> tuple[int, float]:
    """Rows and seconds of a bare COPY of what `published` wrote (as many rows
    per table as it upserted) into a new table with the same primary key.
    The rows are read out of PostgreSQL first, untimed."""
    from lakehouse.serving import warehouse

    rows, seconds = 0, 0.0
    with warehouse.connect(role="admin") as conn, conn.cursor() as cur:
        for p in published:
            if not p.upserted:
                continue
            buf = io.BytesIO()
            cur.copy_expert(f'copy (select * from lake."{p.table}" limit {p.upserted}) to stdout '
                            "with (format csv)", buf)
            buf.seek(0)
            t0 = time.perf_counter()
            cur.execute(f'create table public._bare_copy (like lake."{p.table}" including indexes)')
            cur.copy_expert("copy public._bare_copy from stdin with (format csv)", buf)
            conn.commit()
            seconds += time.perf_counter() - t0
            cur.execute("drop table public._bare_copy")
            conn.commit()
            rows += p.upserted
    return rows, seconds


def fresh_database(name: str) -> None:
    """The benchmark publishes into a database of its own, recreated so every
    run publishes from scratch (publish state and lake must agree)."""
    from lakehouse.serving import warehouse

    with warehouse.connect(role="admin", dbname="postgres") as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
            cur.execute(f'create database "{name}"')
    warehouse.bootstrap()


# --------------------------------------------------------------------------- Spark in this process

def start_spark():
    from lakehouse.lake.spark import get_spark

    spark, seconds = timed(get_spark)
    print(f"spark start-up: {seconds:.1f}s")
    return spark, seconds


def end_spark(spark) -> None:
    """Stop the session and end its JVM (spark.stop() alone leaves the JVM
    running until this process exits): the DAG and CLI processes that follow
    start their own, and no two JVMs may run side by side."""
    from pyspark import SparkContext

    spark.stop()
    gateway = SparkContext._gateway
    if gateway is not None:
        gateway.shutdown()
        proc = getattr(gateway, "proc", None)
        if proc is not None:
            proc.stdin.close()           # the JVM's gateway server exits when its stdin closes
            proc.wait(timeout=120)
        SparkContext._gateway = SparkContext._jvm = None
    from lakehouse.lake.spark import get_spark

    get_spark.cache_clear()              # the next get_spark() starts a new session and JVM


def ingest_timed(spark, first: date, last: date, label: str):
    from lakehouse.ingest.pipeline import ingest

    report, seconds = timed(ingest, start=first, end=last, spark=spark)
    rows = report.totals()["rows_in"]
    print(f"\n{label} {first}..{last}: {rows:,} rows in, {seconds:.1f}s wall, "
          f"{rows / seconds if seconds else 0:,.0f} rows/s; {report.totals()}")
    for stage, secs in report.timings.items():
        print(f"  {stage:<18} {secs:7.1f}s  {rows / secs if secs else 0:12,.0f} rows/s")
    return report, seconds


def publish_timed(spark, label: str) -> tuple[int, float, float]:
    """(rows upserted, seconds, bare COPY seconds of the same rows)."""
    from lakehouse.serving.publish import publish

    published, seconds = timed(publish, spark=spark)
    rows, floor = bare_copy_seconds(published)
    print(f"publish of {label}: {rows:,} rows upserted, {sum(p.deleted for p in published):,} deleted, "
          f"{len(published)} tables, in {seconds:.1f}s (bare COPY {floor:.2f}s)")
    return rows, seconds, floor


def dbt_build_timed() -> float:
    """The marts build as `lakehouse marts` runs it."""
    from lakehouse.serving.marts import run_dbt

    warnings, seconds = timed(run_dbt, ["build"])
    print(f"dbt build of the marts: {seconds:.1f}s, {len(warnings)} warnings")
    return seconds


# --------------------------------------------------------------------------- Airflow

def airflow_environment(day: date) -> dict:
    """`lakehouse airflow-env`'s environment for this LAKEHOUSE_HOME (its own
    Airflow home and SQLite metadata: variables the caller set for another
    Airflow are dropped), the clock frozen at 09:00 the morning after `day`."""
    from lakehouse.config import settings
    from lakehouse.orchestration.airflow_env import airflow_env

    for key in ("AIRFLOW_HOME", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__DAGS_FOLDER",
                "LAKEHOUSE_START_DATE"):
        os.environ.pop(key, None)
    settings.cache_clear()
    env = child_env(**airflow_env(), LAKEHOUSE_NOW=f"{day + timedelta(days=1)}T09:00:00+08:00")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def dag_day(home: Path, day: date, sources: list[str], warm_up_day: date):
    """Step 3 (scripts/dag_day.py): the day through Airflow's real scheduler."""
    from dag_day import scheduler_day

    from lakehouse.config import settings

    day_run = scheduler_day(airflow_environment(day), home, Path(settings().landing), day, sources, warm_up_day)
    print(f"\none business day through the scheduler ({day}): {day_run.wall:.1f}s from unpausing the DAGs to "
          f"build_marts' end; {day_run.batches} Spark batch(es), {day_run.reported} source(s) reported from a "
          "companion's receipt")
    for dag_id, (state, seconds) in sorted(day_run.runs.items(), key=lambda kv: -kv[1][1]):
        print(f"  {dag_id}: {state}, run {seconds:.1f}s")
    return day_run


def add_dag_day(table: Table, day_run, floor: float) -> None:
    failed = [f"{d} {state}" for d, (state, _) in day_run.runs.items() if state != "success"]
    table.add(f"one business day through the {len(day_run.runs) - 1} ingest DAGs + build_marts under the "
              f"scheduler ({day_run.batches} Spark batch(es); the other sources reported from its receipts"
              + (f"; not successful: {', '.join(failed)}" if failed else "") + ")",
              day_run.wall, floor, "≤ 60 s", day_run.wall <= 60)


# --------------------------------------------------------------------------- the CLI

@contextmanager
def warm_engine(home: Path, yesterday: date):
    """The warm engine as a running service has it (`lakehouse connect up`, what
    `make airflow` starts), not timed: started, then warmed by the business day
    before (`lakehouse ingest` and `lakehouse publish` of its new rows), as the
    engine of a service that ran yesterday has done; stopped afterwards."""
    from dag_day import warm_up

    lakehouse = str(Path(sys.executable).with_name("lakehouse"))
    log = home / "logs" / "bench" / "warm-engine.log"
    code, _ = run_process([lakehouse, "connect", "up"], child_env(), log)
    if code:
        raise SystemExit(f"lakehouse connect up failed: see {log}")
    warm_up(child_env(), yesterday, log)
    try:
        yield
    finally:
        run_process([lakehouse, "connect", "down"], child_env(), log)


def cli_ingest(home: Path, day: date, name: str) -> tuple[int, float]:
    code, seconds = run_process([str(Path(sys.executable).with_name("lakehouse")), "ingest", "--date", str(day)],
                                child_env(), home / "logs" / "bench" / f"cli-{name}.log")
    print(f"  lakehouse ingest --date {day} ({name}): {seconds:.1f}s" + (f" (exit {code})" if code else ""))
    return code, seconds


# --------------------------------------------------------------------------- main

def parse_args():
    from lakehouse.generator.presets import PRESETS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="city", choices=list(PRESETS))
    ap.add_argument("--start", default=None, help="first day (default: the preset's)")
    ap.add_argument("--days", type=int, default=None,
                    help="the preset's days: all but the last two are the history (default: the preset's)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--history-multiple", type=int, default=1, metavar="M",
                    help="also ingest one day against M times the history (e.g. 10)")
    ap.add_argument("--skip-dags", action="store_true",
                    help="leave out step 3 (the DAG day, the longest step), e.g. for a second run of --history-multiple")
    ap.add_argument("--fresh", action="store_true", help="delete the benchmark's lake and Airflow metadata first")
    args = ap.parse_args()
    args.days = args.days or PRESETS[args.preset].days
    args.start = args.start or PRESETS[args.preset].start.isoformat()
    return args


def setup_environment(args) -> Path:
    suffix = f"-x{args.history_multiple}" if args.history_multiple > 1 else ""
    from lakehouse.config import settings
    from lakehouse.services import embedded_pg

    # The project's PostgreSQL (started here if it is not running: idempotent,
    # as `lakehouse db start`) and its passwords, before the home moves.
    print(embedded_pg.start())
    os.environ.setdefault("LAKEHOUSE_SECRETS_FILE", str(settings().secrets_file))
    home = Path(os.environ.get("LAKEHOUSE_HOME", REPO / ".lakehouse" / f"bench-{args.preset}{suffix}")).resolve()
    os.environ["LAKEHOUSE_HOME"] = str(home)
    os.environ["PGDATABASE"] = f"lakehouse_bench_{args.preset}{suffix.replace('-', '_')}"
    os.environ.setdefault("LAKEHOUSE_JARS_DIR", str(REPO / ".lakehouse" / "jars"))
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    for key in ("LAKEHOUSE_LANDING", "LAKEHOUSE_LAKE", "AIRFLOW_HOME"):    # all of it under the benchmark's home
        os.environ.pop(key, None)
    settings.cache_clear()
    return home


def main() -> int:
    sys.path.insert(0, str(REPO / "src"))
    args = parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    logging.getLogger("lakehouse").setLevel(logging.INFO)      # progress: one line per batch and table
    home = setup_environment(args)
    from lakehouse.catalog import load_catalog
    from lakehouse.config import batch_rows, settings, table_workers

    t_run = time.perf_counter()
    landing = Path(settings().landing)
    prepare_landing(landing, home, args, generated_days(args.days, args.history_multiple), args.fresh)
    if args.fresh:
        shutil.rmtree(settings().lake, ignore_errors=True)
        shutil.rmtree(home / "airflow", ignore_errors=True)
    fresh_database(settings().pg_database)
    sources = sorted(load_catalog().sources)
    plan = plan_days(all_days(landing), args.days, args.history_multiple)
    print(f"history {plan.history[0]}..{plan.history[-1]} ({len(plan.history)} days); CLI day {plan.cli_day}; "
          f"DAG day {plan.dag_day} (engine warmed by {plan.dag_warm_day}); increments {plan.inc64_day}, "
          f"{plan.inc4_day} (engine warmed by {plan.inc_warm_day})"
          + (f"; {args.history_multiple}x history to {plan.extension[-1]}, then {plan.long_day}" if plan.long_day
             else ""))

    mem = PeakMemory()
    mem.start()
    floors = measure_floors(home, landing, sources, plan)
    mem.phase("floors")

    # 2. in this process
    print(f"batch rows {batch_rows():,}, tables at once {table_workers()}"
          " (stage times below are summed over tables that overlap)")
    spark, start_up = start_spark()
    backfill, backfill_s = ingest_timed(spark, plan.history[0], plan.history[-1], "backfill")
    backfill_rows = backfill.totals()["rows_in"]
    pub_rows, pub_s, pub_floor = publish_timed(spark, "the backfill")
    dbt_s = dbt_build_timed()
    day, day_s = ingest_timed(spark, plan.cli_day, plan.cli_day, "one later day")
    day_rows = day.totals()["rows_in"]
    day_pub_rows, day_pub_s, day_pub_floor = publish_timed(spark, "the day")
    end_spark(spark)
    mem.phase("in-process")

    # 3. the DAGs
    day_run = None if args.skip_dags else dag_day(home, plan.dag_day, sources, plan.dag_warm_day)
    mem.phase("dags")

    # 4. the small increments
    print("\nsmall increments, each `lakehouse ingest` in its own process, a client of the warm engine:")
    with warm_engine(home, plan.inc_warm_day):
        inc64 = cli_ingest(home, plan.inc64_day, "64 rows")
        inc4 = cli_ingest(home, plan.inc4_day, "4 rows")
        nothing = cli_ingest(home, plan.inc4_day, "nothing new")
    mem.phase("increments")

    # 5. the M x history
    long = None
    if plan.long_day:
        spark, long_start = start_spark()
        # each piece no bigger than the history's backfill (or 500k rows): memory as in step 2
        limit = max(delivered_rows(landing, sources, plan.history[0], plan.history[-1]), 500_000)
        # with --skip-dags the DAG day comes first (a range over the increments' days skips them: ingested)
        extension = ([plan.dag_warm_day, plan.dag_day] if args.skip_dags else []) + plan.extension
        for first, last in pieces(landing, sources, extension, limit):
            ingest_timed(spark, first, last, f"{args.history_multiple}x history, piece")
        long_report, long_s = ingest_timed(spark, plan.long_day, plan.long_day,
                                           f"the day against {args.history_multiple}x the history")
        long = (long_report.totals()["rows_in"], long_s, long_start)
        end_spark(spark)
        mem.phase("long history")
    mem.stop = True
    wall = time.perf_counter() - t_run

    # the figures
    city = args.preset == "city"
    table = Table()
    print(f"\nfigures beside their floors (preset {args.preset}, {date.today()}; ratio = figure / floor):")
    table.add(f"backfill landing → silver, {len(plan.history)} days, {backfill_rows:,} rows, incl. Spark start",
              start_up + backfill_s, floors["backfill"]["total"], "≤ 180 s (city)",
              start_up + backfill_s <= 180 if city else None)
    marts_s = start_up + backfill_s + pub_s + dbt_s
    table.add(f"landing → marts: backfill + publish {pub_s:.0f} s + dbt build {dbt_s:.0f} s "
              "(floor: ingest floor + bare COPY)", marts_s, floors["backfill"]["total"] + pub_floor,
              "≤ 300 s (city)", marts_s <= 300 if city else None)
    table.add(f"one later day ({day_rows:,} rows, 17 sources), incl. Spark start, as the CLI runs it",
              start_up + day_s, floors["cli_day"]["total"], "≤ 2× floor",
              start_up + day_s <= 2 * floors["cli_day"]["total"])
    table.add("one later day, Spark already running (floor: its work)", day_s, floors["cli_day"]["work"])
    if not day_run:
        table.rows.append(Row("one business day through the 17 ingest DAGs + build_marts",
                              "not measured (--skip-dags)"))
    else:
        add_dag_day(table, day_run, floors["dag_day"]["wall"])
    for name, (label, (_, seconds)) in {"inc64": ("64 rows in 20 files", inc64), "inc4": ("4 rows in 1 file", inc4),
                                        "nothing": ("nothing new", nothing)}.items():
        floor = floors[name]["wall"]
        table.add(f"small increment: {label}, `lakehouse ingest` process", seconds, floor, "floor + 5 s",
                  seconds <= floor + 5)
    if long:
        long_rows, long_s, _ = long
        table.add(f"one day ({long_rows:,} rows) against {args.history_multiple}× the history "
                  f"(floor: the same kind of day against the history, Spark running)", long_s, day_s, "≤ 1.2×",
                  long_s <= 1.2 * day_s)
        table.add(f"  the same day beside its own bare floor ({args.history_multiple}× history, work)", long_s,
                  floors["long_day"]["work"])
    else:
        table.rows.append(Row("one day against 10× the history", "not measured (--history-multiple 10)"))
    table.add(f"publish of the backfill, {pub_rows:,} rows (floor: bare COPY)", pub_s, pub_floor, "≤ 1.5× COPY",
              pub_s <= 1.5 * pub_floor)
    table.add(f"publish of the day, {day_pub_rows:,} rows (floor: bare COPY)", day_pub_s, day_pub_floor,
              "floor + 2 s", day_pub_s <= day_pub_floor + 2)
    peak = mem.peaks["in-process"]
    table.rows.append(Row("peak memory (PSS: driver + JVM + workers), backfill + day in one process",
                          f"{peak / 2**30:.2f} GiB", target="≤ 12 GiB", met=_met(peak <= 12 * 2**30)))
    print("  peak memory by step: " + ", ".join(f"{k} {v / 2**30:.2f} GiB" for k, v in mem.peaks.items()))
    print(f"\nwhole run: {wall / 60:.1f} min\n")
    print(f"preset {args.preset}, {args.days} days (history {len(plan.history)}), seed {args.seed}, "
          f"measured {date.today()}:\n")
    print(table.markdown())
    key = args.preset + (f"-x{args.history_multiple}" if args.history_multiple > 1 else "")
    write_performance_doc(key, f"preset {args.preset}, {args.days} days (history {len(plan.history)}), seed "
                               f"{args.seed}, measured {date.today()} ({wall / 60:.1f} min in all):", table.markdown())
    return 0


PERFORMANCE_DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"


def write_performance_doc(key: str, heading: str, table_md: str) -> None:
    """Put this run's table between docs/performance.md's benchmark:<key> markers
    (a new section at the end the first time): the page keeps the latest figures."""
    begin, end = f"<!-- benchmark:{key}:begin -->", f"<!-- benchmark:{key}:end -->"
    block = f"{begin}\n{heading}\n\n{table_md}\n{end}"
    text = PERFORMANCE_DOC.read_text(encoding="utf-8")
    if begin in text and end in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + f"\n\n## {key}\n\n{block}\n"
    PERFORMANCE_DOC.write_text(text, encoding="utf-8")
    print(f"\nwritten into {PERFORMANCE_DOC} (section benchmark:{key})")


if __name__ == "__main__":
    sys.exit(main())
