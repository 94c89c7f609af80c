#!/usr/bin/env python
"""Benchmark (not a test): generate a preset, ingest it, print figures.

  .venv/bin/python scripts/benchmark.py --preset city            # the 2017 calibration year
  .venv/bin/python scripts/benchmark.py --preset small --days 10 # a quick look

Prints rows/s per stage of the backfill (every day but the last, one
batch), the wall time of the whole backfill, the wall time of the last
day's increment against that history, and the peak memory of the process
tree (Python driver + Spark JVM). Targets on a 2-core machine: the city
preset landing -> silver < 5 min; one day's increment < 1 min, and within
20 % of that against ten times the history (run once with --preset city and
once with --preset bench, and compare the increment lines).

Runs in its own LAKEHOUSE_HOME (default .lakehouse/bench-<preset>), never
touching the demo's lake. `--fresh` deletes that lake first.
"""

from __future__ import annotations

import argparse
import os
import shutil
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="city")
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
    os.environ.setdefault("LAKEHOUSE_JARS_DIR", str(REPO / ".lakehouse" / "jars"))
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    sys.path.insert(0, str(REPO / "src"))
    from lakehouse.config import settings
    from lakehouse.ingest.landing import find_deliveries
    from lakehouse.ingest.pipeline import ingest

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

    sources = sorted(p.name for p in landing.iterdir() if p.is_dir())
    days = sorted({d.day for d in find_deliveries(landing, sources)[0]})
    last = days[-1]
    from lakehouse.spark import get_spark

    t0 = time.perf_counter()
    get_spark()
    print(f"spark start-up: {time.perf_counter() - t0:.1f}s")

    from lakehouse.ingest.pipeline import batch_rows, table_workers
    from lakehouse.ingest.staging import stage_workers

    print(f"batch rows {batch_rows():,}, staging processes {stage_workers()}, tables at once {table_workers()}"
          " (stage times below are summed over tables that overlap)")
    t0 = time.perf_counter()
    backfill = ingest(start=days[0], end=last - timedelta(days=1))
    wall = time.perf_counter() - t0
    rows = backfill.totals()["rows_in"]
    print(f"\nbackfill {days[0]}..{last - timedelta(days=1)}: {rows:,} rows, {wall:.1f}s wall, "
          f"{rows / wall:,.0f} rows/s overall, totals {backfill.totals()}")
    for stage, secs in backfill.timings.items():
        print(f"  {stage:<18} {secs:7.1f}s  {rows / secs if secs else 0:12,.0f} rows/s")

    t0 = time.perf_counter()
    inc = ingest(start=last, end=last)
    wall_inc = time.perf_counter() - t0
    print(f"\nincrement {last}: {inc.totals()['rows_in']:,} rows, {wall_inc:.1f}s wall "
          f"(against a history of {rows:,} rows)")
    for stage, secs in inc.timings.items():
        print(f"  {stage:<18} {secs:7.1f}s")
    mem.stop = True
    print(f"\npeak memory (driver + JVM): {mem.peak / 2**30:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
