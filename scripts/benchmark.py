#!/usr/bin/env python
"""Benchmark (not a test): generate a preset, ingest and publish it, print figures beside their floors.

  .venv/bin/python scripts/benchmark.py --preset small --fresh   # a quick look (about 3 min)
  .venv/bin/python scripts/benchmark.py --preset city --fresh    # the 2017 calibration year

Ingests every day but the last as one backfill, publishes it, then ingests
and publishes the last day against that history. Prints rows/s per stage,
the wall times, the peak memory of the process tree (Python driver + Spark
JVM), and, because absolute times on a shared machine drift, every figure
beside a floor measured in the same run, with the ratio figure / floor:

* the bare ingest floor (scripts/bare_floor.py, its own process): start
  Spark with the Delta jars, read the delivered files as lines, append them
  to one Delta table, MERGE them by a hash into a table holding the earlier
  days; once for the backfill's days, once for the last day;
* the bare COPY floor: the rows each publish wrote, COPYed into an empty
  table with the same primary key.

Targets (issue 11): a day ≤ 2× its floor, publish ≤ 1.5× its bare COPY.
Runs in its own LAKEHOUSE_HOME (default .lakehouse/bench-<preset>) and its
own database (lakehouse_bench_<preset>, recreated each run), never touching
the demo's. `--fresh` deletes the benchmark's lake first.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class PeakMemory(threading.Thread):
    """Samples the proportional set size (PSS) of this process and all its
    children (the Spark JVM, staging workers): RSS would count the pages a
    forked worker shares with its parent twice."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = 0
        self.stop = False

    def run(self):
        import psutil

        me = psutil.Process()
        while not self.stop:
            try:
                total = sum(p.memory_full_info().pss for p in [me, *me.children(recursive=True)])
                self.peak = max(self.peak, total)
            except psutil.Error:
                pass
            time.sleep(1)


def fresh_database(name: str) -> None:
    """The benchmark publishes into a database of its own, recreated so every
    run publishes from scratch (publish state and lake must agree)."""
    from lakehouse import warehouse

    with warehouse.connect(role="admin", dbname="postgres") as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
            cur.execute(f'create database "{name}"')
    warehouse.bootstrap()


def delivered_files(landing: Path, sources: list[str], start: date, end: date) -> list[str]:
    from lakehouse.ingest.landing import find_deliveries

    deliveries = find_deliveries(landing, sources, start, end)[0]
    return [str(d.folder / f.name) for d in deliveries for f in d.files if (d.folder / f.name).is_file()]


def bare_ingest_floor(lake: Path, files: list[str]) -> dict:
    """Runs scripts/bare_floor.py in its own process (it pays its own Spark start)."""
    listing = lake.with_name(lake.name + "-files.txt")
    listing.write_text("".join(f + "\n" for f in files), encoding="utf-8")
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "bare_floor.py"), "--lake", str(lake),
                          "--files-from", str(listing)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"bare floor failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bare_copy_seconds(published) -> tuple[int, float]:
    """Rows and seconds of a bare COPY of what `published` wrote (as many rows
    per table as it upserted) into a new table with the same primary key.
    The rows are read out of PostgreSQL first, untimed."""
    from lakehouse import warehouse

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


def versus(label: str, figure: float, floor: float, target: str = "") -> None:
    ratio = figure / floor if floor else float("inf")
    print(f"  {label:<58} {figure:8.1f}s  floor {floor:7.2f}s  ratio {ratio:6.2f}x  {target}")


def main() -> int:
    sys.path.insert(0, str(REPO / "src"))
    from lakehouse.generator.presets import PRESETS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="city", choices=list(PRESETS))
    ap.add_argument("--start", default="2017-01-02")
    ap.add_argument("--days", type=int, default=None, help="default: the preset's")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--fresh", action="store_true", help="delete the benchmark's lake first")
    args = ap.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    logging.getLogger("lakehouse").setLevel(logging.INFO)      # progress: one line per batch and table
    home = Path(os.environ.get("LAKEHOUSE_HOME", REPO / ".lakehouse" / f"bench-{args.preset}"))
    os.environ["LAKEHOUSE_HOME"] = str(home)
    os.environ["PGDATABASE"] = f"lakehouse_bench_{args.preset}"
    os.environ.setdefault("LAKEHOUSE_JARS_DIR", str(REPO / ".lakehouse" / "jars"))
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from lakehouse.config import settings
    from lakehouse.ingest.landing import find_deliveries
    from lakehouse.ingest.pipeline import ingest
    from lakehouse.publish import publish

    landing = Path(settings().landing)
    mem = PeakMemory()
    mem.start()
    if not (landing / ".complete").exists():
        from lakehouse.generator import generate

        t0 = time.perf_counter()
        generate(out=landing, truth=home / "truth", start=date.fromisoformat(args.start), days=args.days,
                 preset=args.preset, seed=args.seed, progress=True, truth_rows=False)
        (landing / ".complete").touch()
        print(f"generate: {time.perf_counter() - t0:.1f}s")
    if args.fresh:
        shutil.rmtree(settings().lake, ignore_errors=True)
    fresh_database(settings().pg_database)

    sources = sorted(p.name for p in landing.iterdir() if p.is_dir())
    days = sorted({d.day for d in find_deliveries(landing, sources)[0]})
    first, last = days[0], days[-1]

    # floors first, one process at a time: never two Spark JVMs side by side
    floor_lake = home / "floor-lake"
    shutil.rmtree(floor_lake, ignore_errors=True)
    floor_lake.mkdir(parents=True)
    floor_backfill = bare_ingest_floor(floor_lake, delivered_files(landing, sources, first, last - timedelta(days=1)))
    floor_day = bare_ingest_floor(floor_lake, delivered_files(landing, sources, last, last))
    print(f"bare ingest floor: backfill {floor_backfill}, day {floor_day}")
    mem.peak = 0

    from lakehouse.spark import get_spark

    t0 = time.perf_counter()
    spark = get_spark()
    start_up = time.perf_counter() - t0
    print(f"spark start-up: {start_up:.1f}s")

    from lakehouse.config import batch_rows, stage_workers, table_workers

    print(f"batch rows {batch_rows():,}, staging processes {stage_workers()}, tables at once {table_workers()}"
          " (stage times below are summed over tables that overlap)")
    t0 = time.perf_counter()
    backfill = ingest(start=first, end=last - timedelta(days=1), spark=spark)
    wall = time.perf_counter() - t0
    rows = backfill.totals()["rows_in"]
    print(f"\nbackfill {first}..{last - timedelta(days=1)}: {rows:,} rows, {wall:.1f}s wall, "
          f"{rows / wall:,.0f} rows/s overall, totals {backfill.totals()}")
    for stage, secs in backfill.timings.items():
        print(f"  {stage:<18} {secs:7.1f}s  {rows / secs if secs else 0:12,.0f} rows/s")

    t0 = time.perf_counter()
    published = publish(spark=spark)
    pub_wall = time.perf_counter() - t0
    pub_rows, pub_floor = bare_copy_seconds(published)
    print(f"\npublish of the backfill: {pub_rows:,} rows upserted in {pub_wall:.1f}s "
          f"({pub_rows / pub_wall:,.0f} rows/s)")

    t0 = time.perf_counter()
    inc = ingest(start=last, end=last, spark=spark)
    wall_inc = time.perf_counter() - t0
    print(f"\nincrement {last}: {inc.totals()['rows_in']:,} rows, {wall_inc:.1f}s wall "
          f"(against a history of {rows:,} rows)")
    for stage, secs in inc.timings.items():
        print(f"  {stage:<18} {secs:7.1f}s")
    t0 = time.perf_counter()
    published_day = publish(spark=spark)
    day_pub_wall = time.perf_counter() - t0
    day_pub_rows, day_pub_floor = bare_copy_seconds(published_day)
    print(f"publish of the day: {day_pub_rows:,} rows upserted, "
          f"{sum(p.deleted for p in published_day):,} deleted, in {day_pub_wall:.1f}s")
    mem.stop = True

    print(f"\nfigures beside their floors (preset {args.preset}, {date.today()}; ratio = figure / floor):")
    versus(f"backfill landing -> silver, {rows:,} rows, incl. Spark start", start_up + wall,
           floor_backfill["total"])
    versus("one later day, incl. Spark start (as the CLI runs it)", start_up + wall_inc, floor_day["total"],
           "target <= 2x")
    versus("one later day, Spark already running", wall_inc, floor_day["work"])
    versus(f"publish of the backfill, {pub_rows:,} rows (vs bare COPY)", pub_wall, pub_floor, "target <= 1.5x")
    versus(f"publish of the day, {day_pub_rows:,} rows (vs bare COPY)", day_pub_wall, day_pub_floor)
    print(f"  peak memory (driver + JVM + workers): {mem.peak / 2**30:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
