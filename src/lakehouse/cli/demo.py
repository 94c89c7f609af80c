"""`lakehouse demo` and `lakehouse clean`: a small city end to end, and the way back."""

from __future__ import annotations

import sys
from datetime import date

from lakehouse.cli.base import command, day
from lakehouse.config import settings


def cmd_demo(args) -> None:
    from lakehouse.services.demo import DemoFailed, run_demo

    try:
        run_demo(preset=args.preset, start=args.start, days=args.days, seed=args.seed)
    except DemoFailed as exc:   # the log's tail is printed already: no traceback of the demo itself
        print(f"lakehouse demo: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def cmd_clean(args) -> None:
    import shutil

    from lakehouse.services import embedded_pg

    print(embedded_pg.stop())
    if args.all:
        shutil.rmtree(settings().home, ignore_errors=True)
        print("removed", settings().home)


def add(sub) -> None:
    demo = command(sub, "demo", "generate a small city, run the DAGs, print where results are",
                    "Generate a synthetic city (once per preset/seed/start/days), run the ingest_backfill and "
                    "build_marts DAGs with Airflow's dag.test (real Spark, Delta, GX, dbt), write the report, "
                    "and print a summary: rows per layer, rejected files, dbt warnings, where to look.", cmd_demo)
    demo.add_argument("--preset", default="small", help="generator preset: tiny, small, ... (default: small)")
    demo.add_argument("--start", type=day, default=date(2017, 4, 10), help="first day, YYYY-MM-DD "
                      "(default: 2017-04-10)")
    demo.add_argument("--days", type=int, default=3, help="business days to generate (default: 3)")
    demo.add_argument("--seed", type=int, default=7, help="generator seed (default: 7)")

    clean = command(sub, "clean", "stop the embedded PostgreSQL; --all also deletes LAKEHOUSE_HOME",
                     "Stop the embedded PostgreSQL cluster; with --all also delete everything under "
                     "LAKEHOUSE_HOME (lake, landing, database, Airflow metadata, report).", cmd_clean)
    clean.add_argument("--all", action="store_true", help="also delete LAKEHOUSE_HOME and all it holds")
